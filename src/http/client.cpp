// The outbound HTTP/1.1 client.
//
// The client owns an io_context run by its own threads (kept alive by a work guard). Each
// Send becomes a Call: a coroutine on its own strand that parses nothing more (the URL was
// parsed in Send), takes an idle keep-alive socket for host:port from the pool or resolves
// and connects a new one, writes the request, reads the response and returns the socket
// to the pool when the server allows keep-alive.
//
// One watchdog timer per Call covers the whole exchange (resolve + connect + write +
// read): when it fires it aborts the Call, which cancels the resolver and closes the
// socket so that the pending operation fails at once. The destructor aborts every live
// Call the same way, with Unavailable, and joins the threads once all callbacks ran.
// A request that fails on a reused socket (the server closed it while idle) is retried
// once on a fresh connection. Callbacks run exactly once, on a client thread.
#include "http/client.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/thread_name.h"

namespace zc::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

constexpr auto kAwaitTuple = asio::as_tuple(asio::use_awaitable);

// Where a request goes, from its URL.
struct Destination {
  std::string host;         // for the resolver (IPv6 without brackets)
  std::string port;         // "80" by default
  std::string host_header;  // as written in the URL, with the port if given
  std::string target;       // "/path?query"
  std::string PoolKey() const { return host + ":" + port; }
};

Result<Destination> ParseUrl(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return Fail(Error::BadRequest(fmt::format("invalid URL: {}", url)));
  if (parsed->scheme_id() != boost::urls::scheme::http) {
    return Fail(Error::BadRequest(fmt::format("only http:// URLs are supported: {}", url)));
  }
  Destination destination;
  if (parsed->host_type() == boost::urls::host_type::ipv6) {
    destination.host = parsed->host_ipv6_address().to_string();
  } else {
    destination.host = parsed->host();
  }
  if (destination.host.empty()) {
    return Fail(Error::BadRequest(fmt::format("URL without host: {}", url)));
  }
  destination.port = parsed->has_port() ? std::string(parsed->port()) : "80";
  destination.host_header = std::string(parsed->encoded_host_and_port());
  destination.target = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
  if (parsed->has_query()) destination.target += "?" + std::string(parsed->encoded_query());
  return destination;
}

// One request in progress. Everything but construction happens on `strand`.
struct Call {
  Call(Strand s, OutboundRequest r, Destination d, Client::Callback cb)
      : strand(s),
        watchdog(s),
        resolver(s),
        request(std::move(r)),
        destination(std::move(d)),
        done(std::move(cb)) {}

  // Makes the pending operation fail now; the coroutine then reports `reason`.
  void Abort(Error reason) {
    if (abort_reason || finished) return;
    abort_reason = std::move(reason);
    resolver.cancel();
    if (socket) {
      beast::error_code ignored;
      socket->close(ignored);
    }
  }

  Strand strand;
  asio::steady_timer watchdog;
  tcp::resolver resolver;
  std::optional<tcp::socket> socket;
  OutboundRequest request;
  const Destination destination;
  Client::Callback done;
  std::optional<Error> abort_reason;
  bool finished = false;
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
  asio::awaitable<Status> Connect(Call& call);
  void Finish(Call& call, Result<OutboundResponse> result);
  void FailSoon(Callback done, Error error);
  std::optional<tcp::socket> TakeIdle(const std::string& key);
  void PutIdle(const std::string& key, tcp::socket socket);

  // Constant after construction.
  const ClientOptions options_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;

  std::atomic<bool> stopping_{false};
  std::atomic<size_t> in_flight_{0};

  std::mutex calls_mu_;
  std::unordered_map<Call*, std::weak_ptr<Call>> calls_;  // guarded by calls_mu_
  std::mutex pool_mu_;
  std::unordered_map<std::string, std::vector<tcp::socket>> idle_;  // guarded by pool_mu_
};

Client::Impl::Impl(ClientOptions options)
    : options_(std::move(options)), work_(asio::make_work_guard(io_)) {
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
  idle_.clear();  // sockets must go before io_
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
    if (!ec) {
      call->Abort(Error::Unavailable(fmt::format(
          "no response from {} within {} ms", call->request.url, call->request.timeout.count())));
    }
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
  call.socket = may_reuse ? TakeIdle(key) : std::nullopt;
  reused = call.socket.has_value();
  if (!reused) {
    if (Status connected = co_await Connect(call); !connected) co_return Fail(connected.error());
  }
  beast_http::request<beast_http::string_body> message{
      beast_http::string_to_verb(call.request.method), call.destination.target, 11};
  message.set(beast_http::field::host, call.destination.host_header);
  message.set(beast_http::field::user_agent, "zhicheng");
  for (const auto& [name, value] : call.request.headers) message.set(name, value);
  message.body() = call.request.body;
  message.prepare_payload();
  auto [write_error, written] =
      co_await beast_http::async_write(*call.socket, message, kAwaitTuple);
  if (call.abort_reason) co_return Fail(*call.abort_reason);
  if (write_error) co_return Fail(Error::Unavailable("write failed: " + write_error.message()));

  beast::flat_buffer buffer;
  beast_http::response<beast_http::string_body> response;
  auto [read_error, read] =
      co_await beast_http::async_read(*call.socket, buffer, response, kAwaitTuple);
  if (call.abort_reason) co_return Fail(*call.abort_reason);
  if (read_error) co_return Fail(Error::Unavailable("read failed: " + read_error.message()));
  if (response.keep_alive() && buffer.size() == 0) PutIdle(key, std::move(*call.socket));
  call.socket.reset();
  co_return OutboundResponse{response.result_int(), std::move(response.body())};
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
  call.socket.emplace(io_);
  auto [connect_error, endpoint] =
      co_await asio::async_connect(*call.socket, endpoints, kAwaitTuple);
  if (call.abort_reason) co_return Fail(*call.abort_reason);
  if (connect_error) {
    co_return Fail(Error::Unavailable(
        fmt::format("cannot connect to {}: {}", destination.PoolKey(), connect_error.message())));
  }
  co_return Ok();
}

void Client::Impl::Finish(Call& call, Result<OutboundResponse> result) {
  call.finished = true;
  call.socket.reset();
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

std::optional<tcp::socket> Client::Impl::TakeIdle(const std::string& key) {
  std::lock_guard lock(pool_mu_);
  auto it = idle_.find(key);
  while (it != idle_.end() && !it->second.empty()) {
    tcp::socket socket = std::move(it->second.back());
    it->second.pop_back();
    if (socket.is_open()) return socket;
  }
  return std::nullopt;
}

void Client::Impl::PutIdle(const std::string& key, tcp::socket socket) {
  if (stopping_) return;
  std::lock_guard lock(pool_mu_);
  auto& sockets = idle_[key];
  if (sockets.size() < options_.max_idle_per_host) sockets.push_back(std::move(socket));
}

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

void Client::Send(OutboundRequest request, Callback done) {
  impl_->Send(std::move(request), std::move(done));
}

}  // namespace zc::http
