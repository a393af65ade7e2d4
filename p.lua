wrk.method="PATCH"
wrk.body="{\"illuminance\":{\"type\":\"Number\",\"value\":5}}"
wrk.headers["Content-Type"]="application/json"
wrk.headers["Authorization"]="Bearer "
