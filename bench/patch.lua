-- wrk script for bench/run: single-attribute PATCH /v2/entities/{id}/attrs, keep-alive,
-- spread over the pre-created entities urn:ngsi-ld:Streetlight:patch-0 .. patch-(N-1).
-- N comes from the environment (BENCH_PATCH_ENTITIES, default 1000). Each request picks a
-- random entity and a random illuminance value. Any status other than 204 is counted and
-- printed at the end so that a failing server cannot pass for a fast one.
local n = tonumber(os.getenv("BENCH_PATCH_ENTITIES") or "1000")
local headers = { ["Content-Type"] = "application/json" }
-- bench/run passes the admin token; nginx ignores the header.
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
  bad = 0
end

function request()
  local id = math.random(0, n - 1)
  local body = string.format('{"illuminance":{"type":"Number","value":%d}}', math.random(0, 5000))
  return wrk.format("PATCH", "/v2/entities/urn:ngsi-ld:Streetlight:patch-" .. id .. "/attrs",
                    headers, body)
end

function response(status, headers, body)
  if status ~= 204 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + (t:get("bad") or 0) end
  io.write(string.format("non-204 responses: %d\n", total))
end
