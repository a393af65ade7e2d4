// The request/response types every handler sees. A handler is an asynchronous function:
// it receives the request context and a `Respond` callback, and calls it exactly once,
// from any thread, possibly after the handler returned (e.g. once a write is durable).
// The session keeps the RequestContext alive until Respond has been called.
#pragma once

#include <boost/beast/http.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zc::http {

namespace beast_http = boost::beast::http;
using Verb = beast_http::verb;
using BeastRequest = beast_http::request<beast_http::string_body>;

// A tenant (NGSI `Fiware-Service`) the caller may use, under a service-path prefix.
struct TenantGrant {
  std::string tenant;      // "" is the default tenant; "*" is every tenant
  std::string path = "/";  // service-path prefix; "/" covers every path
  bool write = false;      // read-write, else read-only
};

// Who is calling, as the authorizer established it. Without an authorizer (authentication
// off) the caller is anonymous with every permission on every tenant.
struct Identity {
  std::string subject = "anonymous";  // user login, service account or device id
  std::string kind = "anonymous";     // "user", "service", "device", "anonymous"
  std::string department;             // organisation unit code, may be empty
  std::string token_id;               // the public id of the token used, may be empty
  std::vector<std::string> roles;
  std::vector<std::string> permissions;  // sorted; "*" grants every permission
  std::vector<TenantGrant> tenants{TenantGrant{"*", "/", true}};

  bool HasPermission(std::string_view permission) const;
  // The service-path prefixes granted on `tenant` (for writing, or reading: a read-write
  // grant also reads); empty when the tenant is not granted at all.
  std::vector<std::string> PathsFor(std::string_view tenant, bool write) const;
};

inline constexpr size_t kDefaultMaxResponseBytes = size_t{32} * 1024 * 1024;

struct RequestContext {
  const BeastRequest& raw;
  std::string path;                                         // percent-decoded path
  std::vector<std::pair<std::string, std::string>> query;   // percent-decoded, in order
  std::vector<std::pair<std::string, std::string>> params;  // `{name}` segments of the route
  std::string request_id;                                   // also sent as X-Request-Id
  // The client: "ip:port" of the TCP peer, or "IP via PROXY_IP:PORT" when a trusted proxy
  // forwarded it ([http] trusted_proxies); for logs and the audit log.
  std::string client_address;
  std::string client_ip;  // the client's IP alone: what per-address limits count
  Identity identity;
  // The most a handler may put in this response's body ([http] max_response_bytes). A
  // handler whose answer would be larger fails instead of building it: one large answer
  // must not take the server's memory.
  size_t max_response_bytes = kDefaultMaxResponseBytes;

  // The first query parameter with this name, if present (may be empty).
  std::optional<std::string_view> Query(std::string_view name) const;
  // A route parameter by name; REQUIRES: the route declares `{name}`.
  std::string_view Param(std::string_view name) const;
  // A request header (case-insensitive name); empty when absent.
  std::string_view Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
  const std::string& Body() const { return raw.body(); }
  Verb Method() const { return raw.method(); }
};

struct Response {
  unsigned status = 200;
  std::string content_type;  // empty: no Content-Type (and normally no body)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  Response& Header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  static Response Json(unsigned status, std::string body) {
    return {status, "application/json", std::move(body), {}};
  }
  static Response Text(unsigned status, std::string body) {
    return {status, "text/plain; charset=utf-8", std::move(body), {}};
  }
  static Response Empty(unsigned status) { return {status, {}, {}, {}}; }
};

// Calls back with the response. Callable once; thread-safe (posts to the session's strand).
using Respond = std::function<void(Response)>;
using Handler = std::function<void(RequestContext&, Respond)>;

}  // namespace zc::http
