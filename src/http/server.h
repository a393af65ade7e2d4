// The HTTP/1.1 server on Boost.Beast: a listener accepting on one endpoint and a session
// per connection (keep-alive, pipelining limited to one in flight), run on N threads.
//
// Limits are explicit (ServerOptions) and documented in docs/configuration.md. Every
// request gets an id (X-Request-Id), an access log line, and metrics by route and status.
// Stop() stops accepting, lets in-flight requests finish (bounded by drain_timeout) and
// returns from Run().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "common/result.h"
#include "http/router.h"

namespace zc::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;                    // 0 picks a free port (see Server::Port)
  unsigned threads = 0;                    // 0: one per core
  size_t max_header_bytes = 8 * 1024;      // request line + headers
  size_t max_body_bytes = 1024 * 1024;     // 413 above this
  std::chrono::seconds read_timeout{30};   // to receive a whole request once it started
  std::chrono::seconds idle_timeout{60};   // keep-alive connection without a request
  std::chrono::seconds drain_timeout{10};  // on Stop(), wait this long for in-flight work
  size_t max_connections = 10000;          // further connections are closed at accept
  bool access_log = true;
};

// Decides, before the handler runs, who the caller is and whether the route's permission
// is granted. Returns the identity, or Unauthorized/Forbidden. Default: anonymous, allowed.
using Authorizer = std::function<Result<Identity>(const RequestContext&, const Route&)>;

class Server {
 public:
  // `router` and `metrics` must outlive the server.
  Server(ServerOptions options, const Router& router, metrics::Registry& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // REQUIRES: before Run(); the authorizer is called on I/O threads and must be thread-safe.
  void SetAuthorizer(Authorizer authorizer);
  // Binds and listens; error if the address is in use or invalid.
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
