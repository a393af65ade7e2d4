// An asynchronous HTTP/1.1 client for outbound calls (subscription notifications, later
// alert channels). Requests run on the client's own I/O thread so that a slow or dead
// receiver never occupies a server thread. Every request has a timeout; connections to
// the same scheme, host and port are reused (keep-alive) up to a small pool size.
// https:// URLs are sent over TLS; the server's certificate must chain to the system's
// trust store or to `ca_file` and name the URL's host (DNS name or IP address) unless
// `verify_certificates` is off. With `allowed_networks`, a request connects only to the
// addresses its host resolves to inside them, and fails with Forbidden when there is none,
// so that whoever may create subscriptions cannot make the server probe other networks.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "http/networks.h"

namespace zc::http {

struct OutboundRequest {
  std::string method = "POST";
  std::string url;  // "http://host:port/path?query" or "https://..."
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{5000};
  // The caller needs only the status (a notification): once the response's head is in, a
  // body that does not complete (the timeout, a closed connection) still answers with the
  // status and an empty body, and the connection is not used again. Otherwise that is an
  // Unavailable error saying the response was not complete.
  bool status_suffices = false;
};

struct OutboundResponse {
  unsigned status = 0;
  std::string body;
};

struct ClientOptions {
  unsigned threads = 1;
  size_t max_idle_per_host = 8;
  size_t max_in_flight = 1000;  // further requests fail at once with Unavailable
  // The most of a response body that is read and kept. A longer one is not read: its status
  // is the result, its body empty, its connection closed. (Receivers' bodies are not used,
  // and a receiver must not make the client hold megabytes per request.)
  size_t max_response_body_bytes = size_t{64} * 1024;
  std::string ca_file;              // PEM CA certificates trusted besides the system's; "" = none
  bool verify_certificates = true;  // false: any server certificate is accepted (testing only)
  NetworkList allowed_networks;     // where requests may connect; empty: anywhere
};

// Whether a Client with `options` can speak TLS: loads `ca_file` the way the client does.
// The error names the file and says what is wrong with it.
Status CheckClientOptions(const ClientOptions& options);

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();  // stops the I/O thread; pending callbacks get Unavailable
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  using Callback = std::function<void(Result<OutboundResponse>)>;
  // Sends `request`; `done` runs on the client's thread with the response, or with
  // BadRequest (bad URL), Unavailable (connect/timeout/closed) or Internal errors.
  void Send(OutboundRequest request, Callback done);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zc::http
