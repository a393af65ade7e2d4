// The outbound HTTP/1.1 client.
//
// The client owns an io_context run by its own threads (kept alive by a work guard). Each
// Send becomes a Call: a coroutine on its own strand that parses nothing more (the URL was
// parsed in Send), takes an idle keep-alive connection for the URL's scheme, host and port
// from the pool or resolves and connects a new one (with a TLS handshake for https://),
// writes the request, reads the response and returns the connection to the pool when the
// server allows keep-alive.
//
// One watchdog timer per Call covers the whole exchange (resolve + connect + handshake +
// write + read): when it fires it aborts the Call, which cancels the resolver and closes
// the TCP socket (under TLS too) so that the pending operation fails at once. The
// destructor aborts every live Call the same way, with Unavailable, and joins the threads
// once all callbacks ran. An idle connection on which anything arrived (an unasked answer,
// the server's close) is not reused. A request that fails on a reused connection (the
// server closed it just then) is retried once on a fresh one. Callbacks run exactly once,
// on a client thread.
#include "http/client.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <poll.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "common/ascii.h"
#include "common/thread_name.h"

namespace zc::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;
using TlsStream = ssl::stream<tcp::socket>;

constexpr auto kAwaitTuple = asio::as_tuple(asio::use_awaitable);

// Where a request goes, from its URL.
struct Destination {
  bool tls = false;         // https://
  std::string host;         // for the resolver (IPv6 without brackets)
  std::string port;         // "80" or "443" by default
  std::string host_header;  // as written in the URL, with the port if given
  std::string target;       // "/path?query"
  std::string Address() const { return host + ":" + port; }
  std::string PoolKey() const { return (tls ? "https://" : "http://") + Address(); }
};

Result<Destination> ParseUrl(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return Fail(Error::BadRequest(fmt::format("invalid URL: {}", url)));
  const auto scheme = parsed->scheme_id();
  if (scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https) {
    return Fail(
        Error::BadRequest(fmt::format("only http:// and https:// URLs are supported: {}", url)));
  }
  Destination destination;
  destination.tls = scheme == boost::urls::scheme::https;
  if (parsed->host_type() == boost::urls::host_type::ipv6) {
    destination.host = parsed->host_ipv6_address().to_string();
  } else {
    destination.host = parsed->host();
  }
  if (destination.host.empty()) {
    return Fail(Error::BadRequest(fmt::format("URL without host: {}", url)));
  }
  destination.port =
      parsed->has_port() ? std::string(parsed->port()) : (destination.tls ? "443" : "80");
  destination.host_header = std::string(parsed->encoded_host_and_port());
  destination.target = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
  if (parsed->has_query()) destination.target += "?" + std::string(parsed->encoded_query());
  return destination;
}

// A connection to one destination: plain TCP, or TLS over TCP.
class Connection {
 public:
  explicit Connection(asio::io_context& io) : plain_(io) {}
  Connection(asio::io_context& io, ssl::context& tls)
      : tls_(std::make_unique<TlsStream>(io, tls)) {}

  tcp::socket& Socket() { return tls_ ? tls_->next_layer() : *plain_; }
  TlsStream* Tls() { return tls_.get(); }

  // Whether this idle connection can carry the next request: open, and nothing arrived on
  // it while it idled. What arrives unasked is an answer to no request (a 408 that some
  // servers and proxies send on their idle timeout) or the end of the connection; read as
  // the next request's answer, it would be the wrong one.
  bool QuietSinceIdle() {
    if (!Socket().is_open()) return false;
    if (tls_ && SSL_has_pending(tls_->native_handle()) == 1) return false;
    pollfd readable{.fd = Socket().native_handle(), .events = POLLIN, .revents = 0};
    return ::poll(&readable, 1, 0) == 0;
  }
  // Calls f with the stream that carries HTTP: the TLS stream or the socket.
  template <class F>
  auto WithStream(F&& f) {
    return tls_ ? f(*tls_) : f(*plain_);
  }

 private:
  std::optional<tcp::socket> plain_;
  std::unique_ptr<TlsStream> tls_;
};

// The client side of TLS: the system's trust store, `ca_file` and peer verification.
Result<std::unique_ptr<ssl::context>> MakeTlsContext(const ClientOptions& options) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                       ssl::context::no_tlsv1_1);
  beast::error_code ec;
  context->set_default_verify_paths(ec);
  if (ec) spdlog::warn("http client: no system trust store: {}", ec.message());
  if (!options.ca_file.empty()) {
    context->load_verify_file(options.ca_file, ec);
    if (ec) {
      return Fail(Error::BadRequest(
          fmt::format("cannot load the CA certificates in {}: {}", options.ca_file, ec.message())));
    }
  }
  context->set_verify_mode(options.verify_certificates ? ssl::verify_peer : ssl::verify_none);
  return context;
}

// Why a TLS handshake failed, in words an operator can act on: OpenSSL's verification
// result when the certificate was refused, else the error itself.
std::string HandshakeFailure(TlsStream& tls, const beast::error_code& ec, bool verifying) {
  const long verify = SSL_get_verify_result(tls.native_handle());
  if (verifying && verify != X509_V_OK) {
    return fmt::format("certificate verify failed: {}", X509_verify_cert_error_string(verify));
  }
  return ec.message();
}

// Before the handshake: SNI for a host name, and the name or address that the
// certificate must carry (checked by OpenSSL during verification).
Status PrepareHandshake(TlsStream& tls, const std::string& host) {
  SSL* ssl_handle = tls.native_handle();
  beast::error_code not_an_address;
  asio::ip::make_address(host, not_an_address);
  if (not_an_address) {
    if (SSL_set_tlsext_host_name(ssl_handle, host.c_str()) != 1 ||
        SSL_set1_host(ssl_handle, host.c_str()) != 1) {
      return Fail(Error::Internal("cannot set the TLS host name " + host));
    }
  } else if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), host.c_str()) != 1) {
    return Fail(Error::Internal("cannot set the TLS peer address " + host));
  }
  return Ok();
}

// What one exchange on a connection gave.
struct Exchanged {
  OutboundResponse response;
  bool reusable = false;  // the server keeps the connection open and sent nothing more
};

// One request in progress. Everything but construction happens on `strand`.
struct Call {
  Call(Strand s, OutboundRequest r, Destination d, Client::Callback cb)
      : strand(s),
        watchdog(s),
        resolver(s),
        request(std::move(r)),
        destination(std::move(d)),
        done(std::move(cb)) {}

  // How far the exchange got, for the reason given when the time is up.
  enum class Stage : uint8_t { kConnecting, kSending, kWaiting, kReading };

  // Why the call failed when its time ran out at `stage`.
  std::string TimeoutReason() const {
    const auto ms = request.timeout.count();
    switch (stage) {
      case Stage::kConnecting:
        return fmt::format("no connection to {} within {} ms", request.url, ms);
      case Stage::kSending:
        return fmt::format("the request to {} was not taken within {} ms", request.url, ms);
      case Stage::kWaiting:
        return fmt::format("no response from {} within {} ms", request.url, ms);
      case Stage::kReading:
        break;
    }
    return fmt::format("the response from {} (status {}) was not complete within {} ms",
                       request.url, status, ms);
  }

  // Makes the pending operation fail now; the coroutine then reports `reason`.
  void Abort(Error reason) {
    if (abort_reason || finished) return;
    abort_reason = std::move(reason);
    resolver.cancel();
    if (connection) {
      beast::error_code ignored;
      connection->Socket().close(ignored);
    }
  }

  Strand strand;
  asio::steady_timer watchdog;
  tcp::resolver resolver;
  std::unique_ptr<Connection> connection;
  OutboundRequest request;
  const Destination destination;
  Client::Callback done;
  std::optional<Error> abort_reason;
  bool finished = false;
  Stage stage = Stage::kConnecting;
  unsigned status = 0;  // of the response being read (Stage::kReading)
};

}  // namespace

class Client::Impl {
 public:
  explicit Impl(ClientOptions options);
  ~Impl();
  void Send(OutboundRequest request, Callback done);

 private:
  asio::awaitable<void> Perform(std::shared_ptr<Call> call);
  asio::awaitable<Result<OutboundResponse>> Attempt(Call& call, bool may_reuse, bool& reused);
  template <class Stream>
  asio::awaitable<Result<Exchanged>> Exchange(Call& call, Stream& stream);
  asio::awaitable<Status> Connect(Call& call);
  asio::awaitable<Status> Handshake(Call& call);
  void Finish(Call& call, Result<OutboundResponse> result);
  void FailSoon(Callback done, Error error);
  std::unique_ptr<Connection> TakeIdle(const std::string& key);
  void PutIdle(const std::string& key, std::unique_ptr<Connection> connection);

  // Constant after construction.
  const ClientOptions options_;
  Result<std::unique_ptr<ssl::context>> tls_;  // for https://; its error fails those calls
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;

  std::atomic<bool> stopping_{false};
  std::atomic<size_t> in_flight_{0};

  std::mutex calls_mu_;
  std::unordered_map<Call*, std::weak_ptr<Call>> calls_;  // guarded by calls_mu_
  std::mutex pool_mu_;
  // Guarded by pool_mu_.
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

Client::Impl::Impl(ClientOptions options)
    : options_(std::move(options)),
      tls_(MakeTlsContext(options_)),
      work_(asio::make_work_guard(io_)) {
  const unsigned count = std::max(options_.threads, 1u);
  for (unsigned i = 0; i < count; ++i) {
    threads_.emplace_back([this] {
      NameThisThread("zc-http-client");
      try {
        io_.run();
      } catch (const std::exception& e) {
        spdlog::critical("http client I/O thread failed: {}", e.what());
      }
    });
  }
}

Client::Impl::~Impl() {
  stopping_ = true;
  std::vector<std::shared_ptr<Call>> live;  // posted without the lock held
  {
    std::lock_guard lock(calls_mu_);
    for (auto& [raw, weak] : calls_) {
      if (auto call = weak.lock()) live.push_back(std::move(call));
    }
  }
  for (auto& call : live) {
    asio::post(call->strand, [call] { call->Abort(Error::Unavailable("client stopped")); });
  }
  live.clear();
  work_.reset();  // run() returns once every Call has finished
  for (auto& thread : threads_) thread.join();
  std::lock_guard lock(pool_mu_);
  idle_.clear();  // connections must go before io_
}

void Client::Impl::FailSoon(Callback done, Error error) {
  asio::post(io_, [done = std::move(done), error = std::move(error)]() mutable {
    try {
      done(Fail(std::move(error)));
    } catch (const std::exception& e) {
      spdlog::error("http client callback threw: {}", e.what());
    }
  });
}

void Client::Impl::Send(OutboundRequest request, Callback done) {
  if (stopping_) return FailSoon(std::move(done), Error::Unavailable("client stopped"));
  auto destination = ParseUrl(request.url);
  if (!destination) return FailSoon(std::move(done), destination.error());
  for (const auto& [name, value] : request.headers) {
    if (!IsHttpToken(name) || !IsHttpFieldValue(value)) {
      return FailSoon(std::move(done),
                      Error::BadRequest(fmt::format("invalid header field {}", name)));
    }
  }
  if (destination->tls && !tls_) return FailSoon(std::move(done), tls_.error());
  if (beast_http::string_to_verb(request.method) == beast_http::verb::unknown) {
    return FailSoon(std::move(done),
                    Error::BadRequest(fmt::format("unknown HTTP method {}", request.method)));
  }
  if (in_flight_.fetch_add(1) >= options_.max_in_flight) {
    in_flight_.fetch_sub(1);
    return FailSoon(std::move(done), Error::Unavailable("too many outbound requests in flight"));
  }
  auto call = std::make_shared<Call>(asio::make_strand(io_), std::move(request),
                                     std::move(*destination), std::move(done));
  {
    std::lock_guard lock(calls_mu_);
    calls_.emplace(call.get(), call);
  }
  asio::co_spawn(call->strand, Perform(call), [](std::exception_ptr e) {
    if (e) spdlog::error("http client: unexpected exception in a call");
  });
}

asio::awaitable<void> Client::Impl::Perform(std::shared_ptr<Call> call) {
  call->watchdog.expires_after(call->request.timeout);
  call->watchdog.async_wait([call](beast::error_code ec) {
    if (!ec) call->Abort(Error::Unavailable(call->TimeoutReason()));
  });
  bool reused = false;
  Result<OutboundResponse> result = co_await Attempt(*call, true, reused);
  if (!result && reused && !call->abort_reason) {
    result = co_await Attempt(*call, false, reused);  // the idle socket had gone stale
  }
  call->watchdog.cancel();
  Finish(*call, std::move(result));
}

asio::awaitable<Result<OutboundResponse>> Client::Impl::Attempt(Call& call, bool may_reuse,
                                                                bool& reused) {
  const std::string key = call.destination.PoolKey();
  call.connection = may_reuse ? TakeIdle(key) : nullptr;
  reused = call.connection != nullptr;
  call.stage = Call::Stage::kConnecting;
  if (!reused) {
    if (Status connected = co_await Connect(call); !connected) co_return Fail(connected.error());
  }
  auto exchanged =
      co_await call.connection->WithStream([&](auto& stream) { return Exchange(call, stream); });
  if (!exchanged) co_return Fail(exchanged.error());
  if (exchanged->reusable) PutIdle(key, std::move(call.connection));
  call.connection.reset();
  co_return std::move(exchanged->response);
}

template <class Stream>
asio::awaitable<Result<Exchanged>> Client::Impl::Exchange(Call& call, Stream& stream) {
  beast_http::request<beast_http::string_body> message{
      beast_http::string_to_verb(call.request.method), call.destination.target, 11};
  message.set(beast_http::field::host, call.destination.host_header);
  message.set(beast_http::field::user_agent, "zhicheng");
  for (const auto& [name, value] : call.request.headers) message.set(name, value);
  message.body() = call.request.body;
  message.prepare_payload();
  call.stage = Call::Stage::kSending;
  auto [write_error, written] = co_await beast_http::async_write(stream, message, kAwaitTuple);
  if (call.abort_reason) co_return Fail(*call.abort_reason);
  if (write_error) co_return Fail(Error::Unavailable("write failed: " + write_error.message()));

  call.stage = Call::Stage::kWaiting;
  beast::flat_buffer buffer;
  beast_http::response<beast_http::string_body> response;
  do {  // interim (1xx) responses precede the final one (RFC 9110 section 15.2)
    beast_http::response_parser<beast_http::string_body> parser;
    parser.skip(message.method() == beast_http::verb::head);  // its Content-Length has no body
    parser.body_limit(options_.max_response_body_bytes);
    auto [read_error, head] =
        co_await beast_http::async_read_header(stream, buffer, parser, kAwaitTuple);
    if (!read_error && !call.abort_reason) {  // the head is in: now the body
      if (parser.get().result_int() >= 200) {
        call.stage = Call::Stage::kReading;
        call.status = parser.get().result_int();
      }
      std::tie(read_error, std::ignore) =
          co_await beast_http::async_read(stream, buffer, parser, kAwaitTuple);
    }
    const bool final_head = parser.is_header_done() && parser.get().result_int() >= 200;
    const bool too_long = read_error == beast_http::error::body_limit;
    const bool incomplete = read_error || call.abort_reason;
    if (final_head && (too_long || (incomplete && call.request.status_suffices))) {
      // Too long to keep (announced or sent), or not complete where the status is all the
      // caller needs: the status is the answer; the rest is not read, so the connection
      // cannot be used again.
      co_return Exchanged{{parser.get().result_int(), {}}, false};
    }
    if (call.abort_reason) co_return Fail(*call.abort_reason);
    if (read_error) co_return Fail(Error::Unavailable("read failed: " + read_error.message()));
    response = parser.release();
  } while (response.result_int() < 200);
  const bool reusable = response.keep_alive() && buffer.size() == 0;
  co_return Exchanged{{response.result_int(), std::move(response.body())}, reusable};
}

asio::awaitable<Status> Client::Impl::Connect(Call& call) {
  const Destination& destination = call.destination;
  auto [resolve_error, endpoints] =
      co_await call.resolver.async_resolve(destination.host, destination.port, kAwaitTuple);
  if (call.abort_reason) co_return Fail(*call.abort_reason);
  if (resolve_error) {
    co_return Fail(Error::Unavailable(
        fmt::format("cannot resolve {}: {}", destination.host, resolve_error.message())));
  }
  std::vector<tcp::endpoint> allowed;
  for (const auto& entry : endpoints) {
    const tcp::endpoint& endpoint = entry.endpoint();
    if (options_.allowed_networks.empty() ||
        options_.allowed_networks.Contains(endpoint.address())) {
      allowed.push_back(endpoint);
    }
  }
  if (allowed.empty()) {
    co_return Fail(Error::Forbidden(
        fmt::format("{} ({}) is outside the allowed networks", destination.host,
                    endpoints.empty() ? "" : endpoints.begin()->endpoint().address().to_string())));
  }
  call.connection = destination.tls ? std::make_unique<Connection>(io_, **tls_)
                                    : std::make_unique<Connection>(io_);
  auto [connect_error, endpoint] =
      co_await asio::async_connect(call.connection->Socket(), allowed, kAwaitTuple);
  if (call.abort_reason) co_return Fail(*call.abort_reason);
  if (connect_error) {
    co_return Fail(Error::Unavailable(
        fmt::format("cannot connect to {}: {}", destination.Address(), connect_error.message())));
  }
  if (destination.tls) co_return co_await Handshake(call);
  co_return Ok();
}

asio::awaitable<Status> Client::Impl::Handshake(Call& call) {
  TlsStream& tls = *call.connection->Tls();
  if (Status prepared = PrepareHandshake(tls, call.destination.host); !prepared) {
    co_return prepared;
  }
  auto [ec] = co_await tls.async_handshake(ssl::stream_base::client, kAwaitTuple);
  if (call.abort_reason) co_return Fail(*call.abort_reason);
  if (ec) {
    co_return Fail(Error::Unavailable(
        fmt::format("TLS handshake with {} failed: {}", call.destination.Address(),
                    HandshakeFailure(tls, ec, options_.verify_certificates))));
  }
  co_return Ok();
}

void Client::Impl::Finish(Call& call, Result<OutboundResponse> result) {
  call.finished = true;
  call.connection.reset();
  {
    std::lock_guard lock(calls_mu_);
    calls_.erase(&call);
  }
  in_flight_.fetch_sub(1);
  Callback done = std::move(call.done);
  try {
    done(std::move(result));
  } catch (const std::exception& e) {
    spdlog::error("http client callback threw: {}", e.what());
  }
}

std::unique_ptr<Connection> Client::Impl::TakeIdle(const std::string& key) {
  std::lock_guard lock(pool_mu_);
  auto it = idle_.find(key);
  while (it != idle_.end() && !it->second.empty()) {
    std::unique_ptr<Connection> connection = std::move(it->second.back());
    it->second.pop_back();
    if (connection->QuietSinceIdle()) return connection;
  }
  return nullptr;
}

void Client::Impl::PutIdle(const std::string& key, std::unique_ptr<Connection> connection) {
  if (stopping_) return;
  std::lock_guard lock(pool_mu_);
  auto& connections = idle_[key];
  if (connections.size() < options_.max_idle_per_host) connections.push_back(std::move(connection));
}

Status CheckClientOptions(const ClientOptions& options) {
  auto context = MakeTlsContext(options);
  if (!context) return Fail(context.error());
  return Ok();
}

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

void Client::Send(OutboundRequest request, Callback done) {
  impl_->Send(std::move(request), std::move(done));
}

}  // namespace zc::http
