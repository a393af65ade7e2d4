// The HTTP/1.1 server on Boost.Beast: a listener accepting on one endpoint and a session
// per connection (keep-alive, pipelining limited to one in flight), run on N threads.
//
// Limits are explicit (ServerOptions) and documented in docs/configuration.md. Every
// request gets an id (X-Request-Id), an access log line, and metrics by route and status.
// Stop() stops accepting, lets in-flight requests finish (bounded by drain_timeout) and
// returns from Run().
//
// Hardening, all in this layer so that handlers need not care:
//  - HTTPS only when a certificate and key are configured (TLS >= 1.2, no compression,
//    OpenSSL 3's default ciphers in server order; the handshake is bounded by read_timeout).
//  - Every response carries X-Content-Type-Options: nosniff, X-Frame-Options: DENY,
//    Referrer-Policy: no-referrer, Cache-Control: no-store (unless the handler set
//    Cache-Control) and, with TLS, Strict-Transport-Security.
//  - CORS is closed unless origins are configured; allowed preflights are answered here,
//    before authorization.
//  - A 401 carries a Bearer challenge; a 429 from the authorizer carries Retry-After.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "common/result.h"
#include "http/networks.h"
#include "http/router.h"

namespace zc::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;                         // 0 picks a free port (see Server::Port)
  unsigned threads = 0;                         // 0: one per core
  size_t max_header_bytes = size_t{8} * 1024;   // request line + headers
  size_t max_body_bytes = size_t{1024} * 1024;  // 413 above this
  // What a handler may put in one response body; handed to it in RequestContext.
  size_t max_response_bytes = kDefaultMaxResponseBytes;
  // The response bodies being written, all connections together: a large one (64 KiB or
  // more) that would go past it is answered 503 instead. Clients that ask for large answers
  // and do not read them would otherwise hold them all in memory. At least
  // max_response_bytes.
  size_t max_pending_response_bytes = size_t{1} << 30;
  // The request bodies of 64 KiB or more being received or handled, all connections
  // together, as their Content-Length announces them (a chunked one counts as
  // max_body_bytes): a request that would go past it is answered 503 before its body is
  // read, and its connection closed. Clients that send large bodies slowly would otherwise
  // hold them all in memory. At least max_body_bytes.
  size_t max_pending_request_bytes = size_t{1} << 30;
  std::chrono::seconds read_timeout{30};   // to receive a whole request once it started
  std::chrono::seconds idle_timeout{60};   // keep-alive connection without a request
  std::chrono::seconds drain_timeout{10};  // on Stop(), wait this long for in-flight work
  size_t max_connections = 10000;          // further connections are closed at accept
  // Connections from one client address (the TCP peer) open at once; further ones from it
  // are closed at accept, so that one host cannot take every connection. 0 = no limit.
  size_t max_connections_per_address = 1000;
  // Reverse proxies whose X-Forwarded-For names the client (http/forwarded.h): the address
  // that rate limits, the audit log and the access log use. Empty: the TCP peer is the
  // client. max_connections_per_address always counts the TCP peer.
  NetworkList trusted_proxies;
  bool access_log = true;
  // HTTPS: when both are set the server speaks TLS only. PEM files: the certificate chain
  // (leaf first) and its private key. Listen() fails if they cannot be loaded or only one
  // of them is set.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Origins ("https://app.example.org", compared exactly, a trailing '/' ignored) whose
  // browser scripts may read responses; "*" allows any origin except "null". Empty: no
  // CORS headers at all.
  std::vector<std::string> cors_allowed_origins;
};

// Why the authorizer refused a request: the error to render (Unauthorized, Forbidden,
// TooManyRequests, ...) and, for TooManyRequests, the seconds to send as Retry-After
// (at least 1 is sent).
// `identity` is who the caller turned out to be when the credentials were valid (a 403 or a
// per-token 429), so that the request observer (the audit log) names them.
struct Denial {
  Error error;
  unsigned retry_after_seconds = 0;
  std::optional<Identity> identity;
};

// `return Deny(Error::Forbidden("..."));` in an authorizer.
inline std::unexpected<Denial> Deny(Error e, unsigned retry_after = 0,
                                    std::optional<Identity> identity = std::nullopt) {
  return std::unexpected<Denial>(Denial{std::move(e), retry_after, std::move(identity)});
}

// Decides, before the handler runs, who the caller is and whether the route's permission
// is granted (and may apply rate limits, see http/rate_limiter.h). Returns the identity,
// or a Denial. Default: anonymous, allowed.
using Authorizer =
    std::function<std::expected<Identity, Denial>(const RequestContext&, const Route&)>;

// Told about every request that matched a route, once its response status is known
// (handler responses and authorizer denials alike), before the response is written; for
// the audit log. `ctx.identity` is the authorized identity, default-constructed when the
// authorizer refused. Never called for unmatched requests (404, 405, bad target, CORS
// preflights, read errors). Runs on the I/O thread: keep it short and thread-safe.
using RequestObserver =
    std::function<void(const RequestContext& ctx, const Route* route, unsigned status)>;

class Server {
 public:
  // `router` and `metrics` must outlive the server.
  Server(ServerOptions options, const Router& router, metrics::Registry& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // REQUIRES: before Run(); the authorizer is called on I/O threads and must be thread-safe.
  void SetAuthorizer(Authorizer authorizer);
  // REQUIRES: before Run(); see RequestObserver.
  void SetRequestObserver(RequestObserver observer);
  // Loads the TLS files (if configured), binds and listens; error if a TLS file cannot be
  // loaded, or the address is in use or invalid.
  Status Listen();
  // The bound port (useful with port 0). REQUIRES: Listen() succeeded.
  uint16_t Port() const;
  // Runs the I/O threads until Stop(); returns after in-flight requests drained.
  void Run();
  // Thread-safe and signal-safe to call from an Asio signal handler or another thread.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zc::http
