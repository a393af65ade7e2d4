// The HTTP/1.1 server, after Beast's advanced_server / http_server_awaitable examples.
//
// Shape: one io_context run by N threads. The accept loop and the stop sequence run on
// one strand ("control strand"); each accepted connection gets its own strand and a
// Session coroutine that loops: wait for the first byte of a request (idle timeout), read
// the whole request (read timeout, header and body limits), dispatch it (request id,
// route, authorizer, handler), wait for the handler's Respond, write the response. One
// request is in flight per connection; pipelined requests wait in the read buffer.
//
// Respond may be called from any thread, after the handler returned. It posts the response
// to the session's strand. The Exchange (raw request + RequestContext) is shared with the
// Respond closure, so the context a handler holds stays valid until it responds, even if
// the connection or the server is gone. A per-server Lifeline (mutex + flag) tells late
// Respond calls that the io_context is gone, so they never post into a destroyed context.
//
// Stop(): closes the acceptor, cancels sessions waiting for a request, lets sessions with
// a request in flight write their response (with Connection: close) and then stops the
// io_context after drain_timeout at the latest. Run() returns when all threads are done.
//
// Errors while reading: header limit -> 431, body limit -> 413 (rendered by the router's
// formatter for the path), malformed -> 400; each followed by a lingering close (shutdown
// of the send side and a short bounded drain) so that the client reads the response
// instead of a reset. Timeouts and resets just close the connection.
#include "http/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include "http/target_impl.h"

namespace zc::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Strand = asio::strand<asio::io_context::executor_type>;

constexpr auto kAwaitTuple = asio::as_tuple(asio::use_awaitable);
// After an error response we drain what the client is still sending, bounded in bytes and
// time, so that closing the socket does not reset the connection before it read the answer.
constexpr size_t kLingerMaxBytes = 1024 * 1024;
constexpr std::chrono::seconds kLingerTimeout{2};
// Bytes asked for by the read that waits for a new request on an idle connection.
constexpr size_t kFirstReadBytes = 4096;
constexpr size_t kMaxRequestIdLength = 64;
constexpr std::string_view kUnmatchedRoute = "unmatched";

// Tells Respond closures whether the server's io_context still exists.
struct Lifeline {
  std::mutex mu;
  bool alive = true;  // guarded by mu
};

// One request and its context; shared by the session and the handler's Respond closure.
struct Exchange {
  explicit Exchange(BeastRequest request) : raw(std::move(request)) {}
  BeastRequest raw;
  RequestContext ctx{raw};
  const Route* route = nullptr;  // set once routed
  std::atomic<bool> answered{false};
};

bool IsValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// A bijective mixer (splitmix64's finaliser): distinct inputs give distinct ids.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string_view PathOfTarget(std::string_view target) {
  return target.substr(0, target.find('?'));
}

void LogException(std::exception_ptr error, std::string_view where) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error("http server: {} failed: {}", where, e.what());
  } catch (...) {
    spdlog::error("http server: {} failed with an unknown exception", where);
  }
}

class Session;

// The state shared by the listener and all sessions. Constant after Run() starts, except
// where a member says what guards it.
class ServerCore {
 public:
  ServerCore(ServerOptions options, const Router& router, metrics::Registry& metrics);
  ~ServerCore();

  Status Listen();
  uint16_t Port() const { return port_; }
  void Run();
  void Stop();
  void SetAuthorizer(Authorizer authorizer) { authorizer_ = std::move(authorizer); }

  const ServerOptions& options() const { return options_; }
  const Router& router() const { return router_; }
  const std::shared_ptr<Lifeline>& lifeline() const { return lifeline_; }
  bool stopping() const { return stopping_.load(); }

  std::string RequestIdFor(const BeastRequest& request);
  Result<Identity> Authorize(const RequestContext& ctx, const Route& route) const;
  // Metrics and the access log line for one answered request.
  void Record(const Exchange& exchange, unsigned status, SteadyClock::time_point started,
              size_t bytes, std::string_view client) const;
  void SessionStarted(Session* session, std::weak_ptr<Session> weak);
  void SessionFinished();  // the session's coroutine ended (on its strand)
  void SessionDestroyed(Session* session);

 private:
  asio::awaitable<void> AcceptLoop();
  void StartSession(tcp::socket socket);
  void BeginDrain();  // on the control strand
  void PrepareMetrics();

  // Constant after construction (authorizer_: set before Run()).
  const ServerOptions options_;
  const Router& router_;
  metrics::Registry& metrics_;
  metrics::Gauge& connections_gauge_;
  Authorizer authorizer_;
  const uint64_t id_seed_;
  std::shared_ptr<Lifeline> lifeline_ = std::make_shared<Lifeline>();
  uint16_t port_ = 0;
  // Latency histograms by route index, the last one for unmatched requests; filled by Run().
  std::vector<metrics::Histogram*> latency_;

  std::atomic<uint64_t> id_counter_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> connections_{0};  // sessions alive (for max_connections)
  std::atomic<size_t> running_{0};      // session coroutines not yet finished (for drain)

  std::mutex sessions_mu_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;  // guarded by sessions_mu_

  // I/O objects; destroyed explicitly, in order, before io_ (see ~ServerCore).
  std::unique_ptr<asio::io_context> io_ = std::make_unique<asio::io_context>();
  std::optional<Strand> control_;                  // runs AcceptLoop and BeginDrain
  std::optional<tcp::acceptor> acceptor_;          // used on control_
  std::optional<asio::steady_timer> drain_timer_;  // used on control_
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ServerCore& core, tcp::socket socket, std::string client)
      : core_(core),
        stream_(std::move(socket)),
        wake_(stream_.get_executor()),
        client_(std::move(client)) {}
  ~Session() { core_.SessionDestroyed(this); }

  asio::awaitable<void> Run();
  beast::tcp_stream::executor_type executor() { return stream_.get_executor(); }
  // Stop(): close when idle, otherwise after the response in flight. On the strand.
  void Shutdown();
  // Hands the handler's response to the session. On the strand.
  void Deliver(const Exchange* exchange, Response response);

 private:
  asio::awaitable<bool> AwaitRequestStart();
  asio::awaitable<bool> ServeOne();
  asio::awaitable<beast::error_code> ReadRequest(
      beast_http::request_parser<beast_http::string_body>& parser);
  asio::awaitable<void> AnswerReadError(beast::error_code ec, const BeastRequest& partial,
                                        SteadyClock::time_point started);
  asio::awaitable<Response> Dispatch(std::shared_ptr<Exchange> exchange);
  asio::awaitable<Response> RunHandler(std::shared_ptr<Exchange> exchange);
  Respond MakeRespond(std::shared_ptr<Exchange> exchange);
  asio::awaitable<bool> Write(Exchange& exchange, Response response, bool keep_alive,
                              SteadyClock::time_point started);
  asio::awaitable<void> LingeringClose();
  void Close();

  ServerCore& core_;
  beast::tcp_stream stream_;  // its executor is this session's strand
  beast::flat_buffer buffer_;
  asio::steady_timer wake_;  // cancelled by Deliver to resume the waiting coroutine
  const std::string client_;
  // All below: only on the strand.
  const Exchange* current_ = nullptr;  // the request whose response we wait for
  std::optional<Response> response_;
  bool busy_ = false;  // a request is being dispatched or answered
  bool close_after_response_ = false;
};

asio::awaitable<void> Session::Run() {
  auto self = shared_from_this();
  while (!close_after_response_ && !core_.stopping()) {
    if (!co_await AwaitRequestStart()) break;
    if (!co_await ServeOne()) break;
  }
  Close();
  core_.SessionFinished();
}

// Waits, under the idle timeout, until bytes of a new request are available.
asio::awaitable<bool> Session::AwaitRequestStart() {
  if (buffer_.size() > 0) co_return true;  // a pipelined request is already buffered
  stream_.expires_after(core_.options().idle_timeout);
  auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kFirstReadBytes), kAwaitTuple);
  if (ec) co_return false;  // idle timeout, peer closed, or Stop() cancelled the read
  buffer_.commit(n);
  co_return true;
}

asio::awaitable<bool> Session::ServeOne() {
  const auto started = SteadyClock::now();
  busy_ = true;
  beast_http::request_parser<beast_http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(core_.options().max_header_bytes));
  parser.body_limit(core_.options().max_body_bytes);
  if (beast::error_code ec = co_await ReadRequest(parser)) {
    co_await AnswerReadError(ec, parser.get(), started);
    co_return false;
  }
  auto exchange = std::make_shared<Exchange>(parser.release());
  Response response = co_await Dispatch(exchange);
  const bool keep_alive = exchange->raw.keep_alive() && !close_after_response_ && !core_.stopping();
  const bool written = co_await Write(*exchange, std::move(response), keep_alive, started);
  busy_ = false;
  co_return written&& keep_alive;
}

// Reads one whole request before the read timeout, answering "Expect: 100-continue".
asio::awaitable<beast::error_code> Session::ReadRequest(
    beast_http::request_parser<beast_http::string_body>& parser) {
  stream_.expires_after(core_.options().read_timeout);
  auto [ec, n] = co_await beast_http::async_read_header(stream_, buffer_, parser, kAwaitTuple);
  if (ec) co_return ec;
  if (beast::iequals(parser.get()[beast_http::field::expect], "100-continue")) {
    beast_http::response<beast_http::empty_body> go_on{beast_http::status::continue_, 11};
    std::tie(ec, n) = co_await beast_http::async_write(stream_, go_on, kAwaitTuple);
    if (ec) co_return ec;
  }
  std::tie(ec, n) = co_await beast_http::async_read(stream_, buffer_, parser, kAwaitTuple);
  co_return ec;
}

asio::awaitable<void> Session::AnswerReadError(beast::error_code ec, const BeastRequest& partial,
                                               SteadyClock::time_point started) {
  const std::string_view target_path = PathOfTarget(partial.target());
  const std::string path(target_path.empty() ? "/" : target_path);
  Response response;
  if (ec == beast_http::error::header_limit) {
    response = Response::Json(
        431,
        R"({"error":"RequestHeaderFieldsTooLarge","description":"request headers too large"})");
  } else if (ec == beast_http::error::body_limit) {
    response = core_.router().RenderError(
        path, Error::PayloadTooLarge(
                  fmt::format("request body exceeds {} bytes", core_.options().max_body_bytes)));
  } else if (ec.category() ==
                 beast_http::make_error_code(beast_http::error::bad_method).category() &&
             ec != beast_http::error::end_of_stream && ec != beast_http::error::partial_message) {
    response = core_.router().RenderError(path, Error::BadRequest("malformed HTTP request"));
  } else {
    co_return;  // timeout, reset or close: nobody to answer
  }
  Exchange exchange(BeastRequest{partial.method(), partial.target(), 11});
  exchange.ctx.path = path;
  exchange.ctx.request_id = core_.RequestIdFor(partial);
  if (co_await Write(exchange, std::move(response), false, started)) {
    co_await LingeringClose();
  }
}

// Routing, authorization and the handler; every failure becomes a rendered error response.
asio::awaitable<Response> Session::Dispatch(std::shared_ptr<Exchange> exchange) {
  RequestContext& ctx = exchange->ctx;
  const Router& router = core_.router();
  ctx.request_id = core_.RequestIdFor(exchange->raw);
  ctx.client_address = client_;
  auto target = DecodeTarget(exchange->raw.target());
  if (!target) {
    ctx.path = std::string(PathOfTarget(exchange->raw.target()));
    co_return router.RenderError(ctx.path, target.error());
  }
  ctx.path = std::move(target->path);
  ctx.query = std::move(target->query);
  auto match = router.Find(exchange->raw.method(), ctx.path);
  if (!match) {
    Response response = router.RenderError(ctx.path, match.error());
    if (match.error().code == ErrorCode::kMethodNotAllowed) {
      std::string allow;
      for (Verb method : router.AllowedMethods(ctx.path)) {
        allow += allow.empty() ? "" : ", ";
        allow += beast_http::to_string(method);
      }
      response.Header("Allow", std::move(allow));
    }
    co_return response;
  }
  exchange->route = match->route;
  ctx.params = std::move(match->params);
  auto identity = core_.Authorize(ctx, *exchange->route);
  if (!identity) co_return router.RenderError(ctx.path, identity.error());
  ctx.identity = std::move(*identity);
  co_return co_await RunHandler(std::move(exchange));
}

// Calls the handler and suspends until its Respond delivers the response to this strand.
asio::awaitable<Response> Session::RunHandler(std::shared_ptr<Exchange> exchange) {
  current_ = exchange.get();
  response_.reset();
  Respond respond = MakeRespond(exchange);
  try {
    exchange->route->handler(exchange->ctx, respond);
  } catch (const std::exception& e) {
    spdlog::error("http handler for {} threw: {} (rid={})", exchange->route->pattern, e.what(),
                  exchange->ctx.request_id);
    if (!exchange->answered.exchange(true)) {
      response_ = core_.router().RenderError(exchange->ctx.path, Error::Internal("internal error"));
    }
  }
  while (!response_) {
    wake_.expires_at(SteadyClock::time_point::max());
    co_await wake_.async_wait(kAwaitTuple);
  }
  current_ = nullptr;
  Response response = std::move(*response_);
  response_.reset();
  co_return response;
}

// The Respond closure holds no I/O object: it may outlive the session and the server.
Respond Session::MakeRespond(std::shared_ptr<Exchange> exchange) {
  return [lifeline = core_.lifeline(), weak = weak_from_this(),
          exchange = std::move(exchange)](Response response) {
    if (exchange->answered.exchange(true)) {
      spdlog::warn("http: Respond called twice for rid={}", exchange->ctx.request_id);
      return;
    }
    std::lock_guard lock(lifeline->mu);
    if (!lifeline->alive) return;  // the server is gone
    auto session = weak.lock();
    if (!session) return;  // the connection is gone
    auto executor = session->stream_.get_executor();
    asio::post(executor,
               [session = std::move(session), exchange, response = std::move(response)]() mutable {
                 session->Deliver(exchange.get(), std::move(response));
               });
  };
}

void Session::Deliver(const Exchange* exchange, Response response) {
  if (exchange != current_ || response_) return;
  response_ = std::move(response);
  wake_.cancel();
}

void Session::Shutdown() {
  close_after_response_ = true;
  if (!busy_) stream_.cancel();  // wakes the idle read; the loop then ends
}

asio::awaitable<bool> Session::Write(Exchange& exchange, Response response, bool keep_alive,
                                     SteadyClock::time_point started) {
  beast_http::response<beast_http::string_body> message{
      static_cast<beast_http::status>(response.status), exchange.raw.version()};
  message.set(beast_http::field::server, "zhicheng");
  if (!response.content_type.empty()) {
    message.set(beast_http::field::content_type, response.content_type);
  }
  for (auto& [name, value] : response.headers) message.insert(name, value);
  message.set("X-Request-Id", exchange.ctx.request_id);
  const size_t bytes = response.body.size();
  message.body() = std::move(response.body);
  message.keep_alive(keep_alive);
  message.prepare_payload();
  stream_.expires_after(core_.options().read_timeout);
  auto [ec, n] = co_await beast_http::async_write(stream_, message, kAwaitTuple);
  core_.Record(exchange, response.status, started, bytes, client_);
  co_return !ec;
}

asio::awaitable<void> Session::LingeringClose() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(kLingerTimeout);
  std::array<char, 8192> sink;
  for (size_t drained = 0; drained < kLingerMaxBytes;) {
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(sink), kAwaitTuple);
    if (ec) break;
    drained += n;
  }
}

void Session::Close() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.close();
}

ServerCore::ServerCore(ServerOptions options, const Router& router, metrics::Registry& metrics)
    : options_(std::move(options)),
      router_(router),
      metrics_(metrics),
      connections_gauge_(metrics.GetGauge("zhicheng_http_connections", "Open HTTP connections.")),
      id_seed_(std::random_device{}() * 0x100000000ULL ^ std::random_device{}()),
      control_(asio::make_strand(*io_)) {}

ServerCore::~ServerCore() {
  {
    std::lock_guard lock(lifeline_->mu);
    lifeline_->alive = false;  // late Respond calls become no-ops from here on
  }
  io_->stop();
  drain_timer_.reset();
  acceptor_.reset();
  control_.reset();
  io_.reset();  // destroys the suspended session coroutines (they call SessionDestroyed)
}

Status ServerCore::Listen() {
  beast::error_code ec;
  tcp::resolver resolver(*io_);
  auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return Fail(Error::BadRequest(
        fmt::format("cannot resolve listen address {}: {}", options_.host, ec.message())));
  }
  const tcp::endpoint endpoint = *endpoints.begin();
  acceptor_.emplace(*control_);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.reset();
    return Fail(Error::Unavailable(
        fmt::format("cannot listen on {}:{}: {}", options_.host, options_.port, ec.message())));
  }
  port_ = acceptor_->local_endpoint().port();
  return Ok();
}

void ServerCore::Run() {
  PrepareMetrics();
  if (acceptor_) {
    asio::co_spawn(*control_, AcceptLoop(),
                   [](std::exception_ptr e) { LogException(e, "accept loop"); });
  }
  unsigned threads = options_.threads != 0 ? options_.threads : std::thread::hardware_concurrency();
  threads = std::max(threads, 1u);
  auto run = [this] {
    try {
      io_->run();
    } catch (const std::exception& e) {
      spdlog::critical("http server I/O thread failed: {}", e.what());
    }
  };
  std::vector<std::jthread> extra;
  for (unsigned i = 1; i < threads; ++i) extra.emplace_back(run);
  run();
}

void ServerCore::PrepareMetrics() {
  const char* help = "HTTP request latency from the first byte to the response written.";
  latency_.clear();
  for (const Route& route : router_.Routes()) {
    latency_.push_back(&metrics_.GetHistogram("zhicheng_http_request_duration_seconds", help,
                                              metrics::LatencyBuckets(), {"route"},
                                              {route.pattern}));
  }
  latency_.push_back(&metrics_.GetHistogram("zhicheng_http_request_duration_seconds", help,
                                            metrics::LatencyBuckets(), {"route"},
                                            {std::string(kUnmatchedRoute)}));
}

asio::awaitable<void> ServerCore::AcceptLoop() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_->async_accept(asio::make_strand(*io_), kAwaitTuple);
    if (stopping_ || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // E.g. out of file descriptors: back off briefly instead of spinning.
      spdlog::warn("http accept failed: {}", ec.message());
      asio::steady_timer backoff(*control_, std::chrono::milliseconds(50));
      co_await backoff.async_wait(kAwaitTuple);
      continue;
    }
    if (connections_.load() >= options_.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    StartSession(std::move(socket));
  }
}

void ServerCore::StartSession(tcp::socket socket) {
  beast::error_code ec;
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  std::string client =
      ec ? "unknown" : fmt::format("{}:{}", remote.address().to_string(), remote.port());
  auto session = std::make_shared<Session>(*this, std::move(socket), std::move(client));
  SessionStarted(session.get(), session);
  asio::co_spawn(session->executor(), session->Run(),
                 [](std::exception_ptr e) { LogException(e, "session"); });
}

void ServerCore::SessionStarted(Session* session, std::weak_ptr<Session> weak) {
  connections_.fetch_add(1);
  running_.fetch_add(1);
  connections_gauge_.Add(1);
  std::lock_guard lock(sessions_mu_);
  sessions_.emplace(session, std::move(weak));
}

void ServerCore::SessionFinished() {
  if (running_.fetch_sub(1) == 1 && stopping_) {
    asio::post(*control_, [this] {
      if (running_.load() == 0 && drain_timer_) drain_timer_->cancel();
    });
  }
}

void ServerCore::SessionDestroyed(Session* session) {
  connections_.fetch_sub(1);
  connections_gauge_.Add(-1);
  std::lock_guard lock(sessions_mu_);
  sessions_.erase(session);
}

void ServerCore::Stop() {
  if (stopping_.exchange(true)) return;
  asio::post(*control_, [this] { BeginDrain(); });
}

// On the control strand: no new connections; idle sessions close, busy ones finish.
void ServerCore::BeginDrain() {
  beast::error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  // Collected first and posted without the lock: dropping the last reference to a session
  // runs its destructor, which takes sessions_mu_.
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(sessions_mu_);
    for (auto& [raw, weak] : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  for (auto& session : live) {
    asio::post(session->executor(), [session] { session->Shutdown(); });
  }
  if (running_.load() == 0) return;  // nothing to wait for: run() returns when work ends
  drain_timer_.emplace(*control_, options_.drain_timeout);
  drain_timer_->async_wait([this](beast::error_code ec) {
    if (ec) return;  // cancelled: every session finished in time
    spdlog::warn("http server: drain timeout, abandoning {} connection(s)", running_.load());
    io_->stop();
  });
}

std::string ServerCore::RequestIdFor(const BeastRequest& request) {
  auto incoming = request.find("X-Request-Id");
  if (incoming != request.end() && IsValidRequestId(incoming->value())) {
    return std::string(incoming->value());
  }
  return fmt::format("{:016x}", Mix(id_seed_ + id_counter_.fetch_add(1)));
}

Result<Identity> ServerCore::Authorize(const RequestContext& ctx, const Route& route) const {
  if (!authorizer_) return Identity{};
  try {
    return authorizer_(ctx, route);
  } catch (const std::exception& e) {
    spdlog::error("http authorizer threw: {} (rid={})", e.what(), ctx.request_id);
    return Fail(Error::Internal("authorization failed"));
  }
}

void ServerCore::Record(const Exchange& exchange, unsigned status, SteadyClock::time_point started,
                        size_t bytes, std::string_view client) const {
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  const std::string method(beast_http::to_string(exchange.raw.method()));
  const Route* route = exchange.route;
  const std::string route_label = route ? route->pattern : std::string(kUnmatchedRoute);
  metrics_
      .GetCounter("zhicheng_http_requests_total", "HTTP requests answered.",
                  {"route", "method", "status"}, {route_label, method, std::to_string(status)})
      .Add();
  const size_t index =
      route ? static_cast<size_t>(route - router_.Routes().data()) : latency_.size() - 1;
  if (index < latency_.size()) latency_[index]->Observe(seconds);
  if (options_.access_log) {
    spdlog::info("access method={} path={} status={} dur_ms={:.2f} bytes={} rid={} client={}",
                 method, PathOfTarget(exchange.raw.target()), status, seconds * 1000, bytes,
                 exchange.ctx.request_id, client);
  }
}

}  // namespace

class Server::Impl : public ServerCore {
 public:
  using ServerCore::ServerCore;
};

Server::Server(ServerOptions options, const Router& router, metrics::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), router, metrics)) {}
Server::~Server() = default;

void Server::SetAuthorizer(Authorizer authorizer) {
  impl_->SetAuthorizer(std::move(authorizer));
}
Status Server::Listen() {
  return impl_->Listen();
}
uint16_t Server::Port() const {
  return impl_->Port();
}
void Server::Run() {
  impl_->Run();
}
void Server::Stop() {
  impl_->Stop();
}

}  // namespace zc::http
