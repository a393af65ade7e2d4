// Operations endpoints (see ops_routes.h): /healthz, /readyz and /version are public,
// /metrics needs "ops.read". /readyz answers 200 once the routes are
// registered, which happens after the state has been rebuilt from the store.
#include "app/ops_routes.h"

namespace zc::app {

void RegisterOpsRoutes(http::Router& router, metrics::Registry& metrics) {
  using http::Response;
  using http::Verb;
  router.Add({Verb::get, "/healthz", "", [](http::RequestContext&, http::Respond respond) {
                respond(Response::Json(200, R"({"status":"ok"})"));
              }});
  router.Add({Verb::get, "/readyz", "", [](http::RequestContext&, http::Respond respond) {
                respond(Response::Json(200, R"({"status":"ready"})"));
              }});
  router.Add(
      {Verb::get, "/metrics", "ops.read", [&metrics](http::RequestContext&, http::Respond respond) {
         respond(Response{200, "text/plain; version=0.0.4; charset=utf-8", metrics.Render(), {}});
       }});
  router.Add(
      {Verb::get, "/version", "", [](http::RequestContext&, http::Respond respond) {
         respond(Response::Json(200, std::string(R"({"orion":{"version":"3.10.1","zhicheng":")") +
                                         ZHICHENG_VERSION + R"("},"zhicheng":{"version":")" +
                                         ZHICHENG_VERSION + R"("}})"));
       }});
}

}  // namespace zc::app
