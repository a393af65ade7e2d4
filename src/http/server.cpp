// The HTTP/1.1 server, after Beast's advanced_server / http_server_awaitable examples.
//
// Shape: N I/O threads, each running its own io_context. The accept loop and the stop
// sequence run on the first one (the "control thread"). Each accepted connection is given to
// the next io_context in turn, so all its handlers run on one thread (no strand, no lock
// shared with the other threads), and gets a Session coroutine that loops: wait for the
// first byte of a request (idle timeout), read the whole request (read timeout, header and
// body limits), dispatch it (request id, route, CORS preflight, authorizer, handler), wait
// for the handler's Respond, tell the request observer, write the response. One request is
// in flight per connection; pipelined requests wait in the read buffer.
//
// TLS without a second session: SessionBase holds everything that does not touch the
// stream (dispatch, the handler hand-off, Stop()), and Session<Stream> the I/O, templated
// on beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>. The TLS-only steps (the
// handshake, close_notify) are `if constexpr`, so the plain-HTTP code is what it was
// without TLS. All timeouts live on the underlying tcp_stream, for both.
//
// Every response head is built by BuildHead: the handler's status and headers, then the
// security headers, CORS headers for an allowed Origin, the 401 challenge and a 503's
// Retry-After (1 s unless the handler set one), written
// straight into one string by ResponseHead (Beast's fields container cost more than the
// rest of the response).
//
// The per-request path avoids work that a small request does not need (it was measured:
// Beast's composed read and write operations, with a timer armed per operation, took more
// instructions than routing, authorization and the handler together):
//  - ReadRequest feeds the parser what is already buffered and reads only when the request
//    is not complete, arming the read timeout only then;
//  - Write sends the head BuildHead wrote and the body and, on plain TCP, first
//    writes straight to the (non-blocking) socket; only what the socket does not take at
//    once goes through an asynchronous write under the timeout.
//
// Respond may be called from any thread, after the handler returned. It posts the response
// to the session's thread. The Exchange (raw request + RequestContext) is shared with the
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

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "common/failure_log.h"
#include "common/thread_name.h"
#include "http/forwarded.h"
#include "http/response_head.h"
#include "http/target_impl.h"

namespace zc::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using RequestParser = beast_http::request_parser<beast_http::string_body>;

constexpr auto kAwaitTuple = asio::as_tuple(asio::use_awaitable);
// After an error response we drain what the client is still sending, bounded in bytes and
// time, so that closing the socket does not reset the connection before it read the answer.
constexpr size_t kLingerMaxBytes = size_t{1024} * 1024;
constexpr std::chrono::seconds kLingerTimeout{2};
// How long a TLS close waits for the client's close_notify after sending ours.
constexpr std::chrono::seconds kTlsShutdownTimeout{1};
// Bytes asked for by the read that waits for a new request on an idle connection.
constexpr size_t kFirstReadBytes = 4096;
// The most one read of a request asks for (as Beast's own read).
constexpr size_t kMaxReadBytes = 65536;
constexpr size_t kMaxRequestIdLength = 64;
constexpr std::string_view kUnmatchedRoute = "unmatched";
// A response body this large or larger may be refused when max_pending_response_bytes are
// being written; smaller ones are always written (a socket usually takes them at once).
constexpr size_t kLargeResponse = size_t{64} * 1024;
// A request body this large or larger counts against max_pending_request_bytes and may be
// refused; smaller ones (a PATCH's few hundred bytes) are neither counted nor refused, so
// they hold at most this much per connection.
constexpr size_t kLargeRequest = size_t{64} * 1024;
// ReadRequest's error for a request refused by AdmitRequestBody (answered 503).
const beast::error_code kNoRoomForBody = asio::error::no_buffer_space;

// Bytes held by requests or answers in progress, all connections together, against a
// limit; exported as a gauge. Thread-safe.
class PendingBytes {
 public:
  PendingBytes(size_t limit, metrics::Gauge& gauge) : limit_(limit), gauge_(gauge) {}
  // Counts `bytes`, unless `may_refuse` and they would take the count past the limit
  // (false: nothing counted).
  bool Take(size_t bytes, bool may_refuse) {
    const size_t before = held_.fetch_add(bytes);
    if (may_refuse && before + bytes > limit_) {
      held_.fetch_sub(bytes);
      return false;
    }
    gauge_.Add(static_cast<double>(bytes));
    return true;
  }
  void Give(size_t bytes) {
    if (bytes == 0) return;
    held_.fetch_sub(bytes);
    gauge_.Add(-static_cast<double>(bytes));
  }

 private:
  const size_t limit_;
  metrics::Gauge& gauge_;
  std::atomic<size_t> held_{0};
};

constexpr std::string_view kHsts = "max-age=31536000";
constexpr std::string_view kBearerChallenge = R"(Bearer realm="zhicheng")";
constexpr std::string_view kCorsExposeHeaders =
    "Fiware-Correlator, Fiware-Total-Count, X-Request-Id, Location";
constexpr std::string_view kCorsAllowHeaders =
    "Authorization, X-Auth-Token, Content-Type, Fiware-Service, Fiware-ServicePath, "
    "Fiware-Correlator, X-Request-Id";
constexpr std::string_view kCorsMaxAgeSeconds = "600";

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
  // The body bytes its Respond counted as pending (ServerCore::AdmitResponse), released
  // once the response is written or dropped. Written before the post that delivers it.
  size_t reserved_bytes = 0;
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

bool ExpectsContinue(const BeastRequest& request) {
  return beast::iequals(request[beast_http::field::expect], "100-continue");
}

// One io_context per I/O thread (`threads`, 0: one per core), each told it has one thread.
std::vector<std::unique_ptr<asio::io_context>> MakeIoContexts(unsigned threads) {
  if (threads == 0) threads = std::max(std::thread::hardware_concurrency(), 1u);
  std::vector<std::unique_ptr<asio::io_context>> ios;
  for (unsigned i = 0; i < threads; ++i) ios.push_back(std::make_unique<asio::io_context>(1));
  return ios;
}

std::string_view PathOfTarget(std::string_view target) {
  return target.substr(0, target.find('?'));
}

std::string JoinMethods(const std::vector<Verb>& methods) {
  std::string joined;
  for (Verb method : methods) {
    joined += joined.empty() ? "" : ", ";
    joined += beast_http::to_string(method);
  }
  return joined;
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

// Headers every response carries. Set (not inserted) so that a handler cannot weaken them,
// except Cache-Control, which a handler may choose.
void AddSecurityHeaders(ResponseHead& head, bool tls) {
  head.Set("X-Content-Type-Options", "nosniff");
  head.Set("X-Frame-Options", "DENY");
  head.Set("Referrer-Policy", "no-referrer");
  if (!head.Has("Cache-Control")) head.Set("Cache-Control", "no-store");
  if (tls) head.Set("Strict-Transport-Security", kHsts);
}

// CORS, closed by default (ServerOptions::cors_allowed_origins). Constant after
// construction. Credentials (cookies) are never allowed: callers send bearer tokens.
class CorsPolicy {
 public:
  explicit CorsPolicy(const std::vector<std::string>& origins) {
    for (std::string origin : origins) {
      if (origin == "*") {
        any_ = true;
        continue;
      }
      while (origin.ends_with('/')) origin.pop_back();
      if (!origin.empty()) origins_.push_back(std::move(origin));
    }
  }

  // The request's Origin when CORS is on and the origin is allowed; empty otherwise.
  // "*" allows any origin but "null" (sandboxed frames, files), which must be listed.
  std::string_view AllowedOrigin(const BeastRequest& request) const {
    if (!any_ && origins_.empty()) return {};
    const auto it = request.find(beast_http::field::origin);
    if (it == request.end() || it->value().empty()) return {};
    const std::string_view origin = it->value();
    if (any_ && origin != "null") return origin;
    return std::ranges::find(origins_, origin) != origins_.end() ? origin : std::string_view{};
  }

  // The 204 answer to a preflight (OPTIONS with Access-Control-Request-Method) from an
  // allowed origin for a path that has routes; nullopt for every other request.
  std::optional<Response> Preflight(const BeastRequest& request, const Router& router,
                                    std::string_view path) const {
    if (request.method() != Verb::options || AllowedOrigin(request).empty() ||
        request.find(beast_http::field::access_control_request_method) == request.end()) {
      return std::nullopt;
    }
    const std::vector<Verb> methods = router.AllowedMethods(path);
    if (methods.empty()) return std::nullopt;
    Response response = Response::Empty(204);
    response.Header("Access-Control-Allow-Methods", JoinMethods(methods));
    response.Header("Access-Control-Allow-Headers", std::string(kCorsAllowHeaders));
    response.Header("Access-Control-Max-Age", std::string(kCorsMaxAgeSeconds));
    return response;
  }

  // Adds the CORS response headers when the request's origin is allowed.
  void Decorate(ResponseHead& head, const BeastRequest& request) const {
    const std::string_view origin = AllowedOrigin(request);
    if (origin.empty()) return;
    head.Set("Access-Control-Allow-Origin", origin);
    head.Insert("Vary", "Origin");
    head.Set("Access-Control-Expose-Headers", kCorsExposeHeaders);
  }

 private:
  bool any_ = false;
  std::vector<std::string> origins_;
};

class SessionBase;

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
  void SetRequestObserver(RequestObserver observer) { observer_ = std::move(observer); }

  const ServerOptions& options() const { return options_; }
  const Router& router() const { return router_; }
  const CorsPolicy& cors() const { return cors_; }
  ssl::context* tls() { return tls_ ? &*tls_ : nullptr; }
  const std::shared_ptr<Lifeline>& lifeline() const { return lifeline_; }
  bool stopping() const { return stopping_.load(); }

  std::string RequestIdFor(const BeastRequest& request);
  std::expected<Identity, Denial> Authorize(const RequestContext& ctx, const Route& route) const;
  Response RenderDenial(const RequestContext& ctx, const Denial& denial) const;
  Response RenderNoRoute(const RequestContext& ctx, const Error& error) const;
  std::string BuildHead(const Exchange& exchange, const Response& response, bool keep_alive,
                        bool tls) const;
  // Tells the request observer (only for routed requests).
  void Observe(const RequestContext& ctx, const Route* route, unsigned status) const;
  // Metrics and the access log line for one answered request.
  void Record(const Exchange& exchange, unsigned status, SteadyClock::time_point started,
              size_t bytes, std::string_view client) const;
  metrics::Counter& RequestCounter(size_t route_index, Verb method, unsigned status) const;
  // Counts `response`'s body as being written, and returns its size. A large one
  // (kLargeResponse or more) that would take the bodies being written past
  // max_pending_response_bytes is replaced by a 503 in the format of `path`'s routes,
  // which is counted instead.
  size_t AdmitResponse(std::string_view path, Response& response);
  void ReleaseResponse(size_t bytes);
  // Counts a large request body (kLargeRequest bytes or more) as pending unless it would
  // take the bodies pending past max_pending_request_bytes (false: not counted).
  bool AdmitRequestBody(size_t bytes);
  void ReleaseRequestBody(size_t bytes);
  void SessionStarted(SessionBase* session, std::weak_ptr<SessionBase> weak,
                      const asio::ip::address& address);
  void SessionFinished();  // the session's coroutine ended (on its thread)
  void SessionDestroyed(SessionBase* session);

 private:
  Status LoadTls();
  asio::awaitable<void> AcceptLoop();
  // Whether `address` has fewer than max_connections_per_address connections (else the
  // refusal is counted and logged).
  bool AddressHasRoom(const asio::ip::address& address);
  void StartSession(tcp::socket socket, const tcp::endpoint& remote);
  void BeginDrain();  // on the control thread
  void PrepareMetrics();

  // Constant after construction (authorizer_, observer_: set before Run(); tls_: by Listen).
  const ServerOptions options_;
  const Router& router_;
  metrics::Registry& metrics_;
  metrics::Gauge& connections_gauge_;
  metrics::Counter& accept_failures_;      // accept() failed (e.g. out of file descriptors)
  metrics::Counter& connections_refused_;  // closed at once: max_connections were open
  metrics::Counter& address_refused_;      // closed at once: max_connections_per_address were open
  PendingBytes pending_responses_;         // bodies being written (AdmitResponse)
  PendingBytes pending_requests_;          // large bodies being read or handled (AdmitRequestBody)
  FailureLog accept_log_{"http: accepting connections"};  // used by AcceptLoop only
  // Refusals for max_connections_per_address: one line per 10 s while they go on (no end
  // line: other addresses' connections are accepted meanwhile). Used by AcceptLoop only.
  FailureLog address_log_{"http: accepting connections from one address"};
  const CorsPolicy cors_;
  Authorizer authorizer_;
  RequestObserver observer_;
  std::optional<ssl::context> tls_;  // set when TLS is configured
  const uint64_t id_seed_;
  std::shared_ptr<Lifeline> lifeline_ = std::make_shared<Lifeline>();
  uint16_t port_ = 0;
  // Latency histograms by route index, the last one for unmatched requests; filled by Run().
  std::vector<metrics::Histogram*> latency_;

  mutable std::mutex request_counters_mu_;
  // guarded by request_counters_mu_; keyed by route index, method and status
  mutable std::unordered_map<uint64_t, metrics::Counter*> request_counters_;

  std::atomic<uint64_t> id_counter_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> connections_{0};  // sessions alive (for max_connections)
  std::atomic<size_t> running_{0};      // session coroutines not yet finished (for drain)

  struct LiveSession {
    std::weak_ptr<SessionBase> session;
    asio::ip::address address;  // the client's (max_connections_per_address)
  };
  std::mutex sessions_mu_;
  // guarded by sessions_mu_
  std::unordered_map<SessionBase*, LiveSession> sessions_;
  std::unordered_map<asio::ip::address, size_t> per_address_;  // sessions alive, by address

  // I/O objects; destroyed explicitly, in order, before ios_ (see ~ServerCore).
  // One io_context per I/O thread, each run by its thread alone: a connection lives on one
  // of them, so its handlers never run concurrently and need no strand.
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  // The control thread runs ios_[0]: AcceptLoop and the stop sequence, with the members below.
  asio::io_context::executor_type Control() const { return ios_.front()->get_executor(); }
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::steady_timer> drain_timer_;
  // Keep every thread's run() going while it has no connection; released (on Control())
  // once the drain is over.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running_;
  size_t next_io_ = 0;  // the io_context of the next accepted connection
};

// The stream-independent half of a connection: routing, authorization, the hand-off to
// the handler and back, and Stop(). Everything but the constructor runs on the
// connection's thread.
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  SessionBase(ServerCore& core, asio::any_io_executor executor, const tcp::endpoint& remote)
      : core_(core),
        executor_(executor),
        client_(fmt::format("{}:{}", remote.address().to_string(), remote.port())),
        peer_ip_(remote.address().to_string()),
        peer_is_proxy_(core.options().trusted_proxies.Contains(remote.address())),
        wake_(executor) {}
  virtual ~SessionBase() { core_.SessionDestroyed(this); }
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;

  // The connection's executor (its io_context).
  const asio::any_io_executor& executor() const { return executor_; }
  // Stop(): close when idle, otherwise after the response in flight.
  virtual void Shutdown() = 0;
  // Hands the handler's response to the session.
  void Deliver(const Exchange* exchange, Response response);
  ServerCore& core() const { return core_; }

 protected:
  asio::awaitable<Response> Dispatch(std::shared_ptr<Exchange> exchange);

  ServerCore& core_;
  const asio::any_io_executor executor_;
  const std::string client_;   // the TCP peer, "ip:port"
  const std::string peer_ip_;  // its IP
  const bool peer_is_proxy_;   // in [http] trusted_proxies: X-Forwarded-For names the client
  // All below: only on the connection's thread.
  bool busy_ = false;  // a request is being dispatched or answered
  bool close_after_response_ = false;

 private:
  std::optional<Response> Resolve(Exchange& exchange);
  void IdentifyClient(RequestContext& ctx) const;
  asio::awaitable<Response> RunHandler(std::shared_ptr<Exchange> exchange);
  Respond MakeRespond(std::shared_ptr<Exchange> exchange);

  asio::steady_timer wake_;            // cancelled by Deliver to resume the waiting coroutine
  const Exchange* current_ = nullptr;  // the request whose response we wait for
  std::optional<Response> response_;
};

// Routing, authorization and the handler; every failure becomes a rendered error response.
asio::awaitable<Response> SessionBase::Dispatch(std::shared_ptr<Exchange> exchange) {
  RequestContext& ctx = exchange->ctx;
  ctx.request_id = core_.RequestIdFor(exchange->raw);
  IdentifyClient(ctx);
  ctx.max_response_bytes = core_.options().max_response_bytes;
  if (std::optional<Response> early = Resolve(*exchange)) co_return std::move(*early);
  auto identity = core_.Authorize(ctx, *exchange->route);
  if (!identity) {
    if (identity.error().identity) ctx.identity = std::move(*identity.error().identity);
    co_return core_.RenderDenial(ctx, identity.error());
  }
  ctx.identity = std::move(*identity);
  co_return co_await RunHandler(std::move(exchange));
}

// The client is the TCP peer, unless the peer is a trusted proxy that forwarded another
// address (http/forwarded.h): then that one, and the address says which proxy it came by.
void SessionBase::IdentifyClient(RequestContext& ctx) const {
  ctx.client_address = client_;
  ctx.client_ip = peer_ip_;
  if (!peer_is_proxy_) return;
  if (auto forwarded = ForwardedClient(ctx.raw, core_.options().trusted_proxies)) {
    ctx.client_ip = forwarded->to_string();
    ctx.client_address = fmt::format("{} via {}", ctx.client_ip, client_);
  }
}

// Decodes the target and finds the route. Returns the response when the request ends
// here (bad target, CORS preflight, no route), else nullopt with route and params set.
std::optional<Response> SessionBase::Resolve(Exchange& exchange) {
  RequestContext& ctx = exchange.ctx;
  auto target = DecodeTarget(exchange.raw.target());
  if (!target) {
    ctx.path = std::string(PathOfTarget(exchange.raw.target()));
    return core_.router().RenderError(ctx.path, target.error(), &ctx);
  }
  ctx.path = std::move(target->path);
  ctx.query = std::move(target->query);
  if (auto preflight = core_.cors().Preflight(exchange.raw, core_.router(), ctx.path)) {
    return preflight;
  }
  auto match = core_.router().Find(exchange.raw.method(), ctx.path);
  if (!match) return core_.RenderNoRoute(ctx, match.error());
  exchange.route = match->route;
  ctx.params = std::move(match->params);
  return std::nullopt;
}

// Calls the handler and suspends until its Respond delivers the response to this thread.
asio::awaitable<Response> SessionBase::RunHandler(std::shared_ptr<Exchange> exchange) {
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
Respond SessionBase::MakeRespond(std::shared_ptr<Exchange> exchange) {
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
    // Counted (or refused) here, before it waits for the session's thread: a thread that
    // answers many requests before their writes run would otherwise hold all their bodies.
    exchange->reserved_bytes = session->core().AdmitResponse(exchange->ctx.path, response);
    auto executor = session->executor();
    asio::post(executor,
               [session = std::move(session), exchange, response = std::move(response)]() mutable {
                 session->Deliver(exchange.get(), std::move(response));
               });
  };
}

void SessionBase::Deliver(const Exchange* exchange, Response response) {
  if (exchange != current_ || response_) {
    core_.ReleaseResponse(exchange->reserved_bytes);  // dropped: never written
    return;
  }
  response_ = std::move(response);
  wake_.cancel();
}

// The I/O half of a connection, on a plain TCP stream or on TLS over TCP.
template <class Stream>
class Session final : public SessionBase {
 public:
  // REQUIRES: for TLS, core.tls() is set.
  Session(ServerCore& core, tcp::socket socket, const tcp::endpoint& remote)
      : SessionBase(core, socket.get_executor(), remote),
        stream_(MakeStream(core, std::move(socket))) {}

  // `self` is this session: the coroutine frame holds it from its creation, before the
  // coroutine first runs on the session's thread.
  asio::awaitable<void> Run(std::shared_ptr<SessionBase> self);
  void Shutdown() override;

 private:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  static Stream MakeStream(ServerCore& core, tcp::socket socket);
  // The TCP layer, which holds the timeouts and the socket.
  beast::tcp_stream& Transport() { return beast::get_lowest_layer(stream_); }

  asio::awaitable<bool> Handshake();
  asio::awaitable<bool> AwaitRequestStart();
  asio::awaitable<bool> ServeOne();
  // What a request's body holds against max_pending_request_bytes, from its head on until
  // its exchange is done (released when this goes).
  struct BodyHold {
    ServerCore& core;
    bool decided = false;
    size_t bytes = 0;
    ~BodyHold() { core.ReleaseRequestBody(bytes); }
  };
  asio::awaitable<beast::error_code> ReadRequest(RequestParser& parser, BodyHold& hold);
  // Once the head is parsed: counts the body the head announces (false: no room for it).
  bool HoldBody(const RequestParser& parser, BodyHold& hold) const;
  void ParseBuffered(RequestParser& parser, beast::error_code& ec);
  asio::awaitable<beast::error_code> ReadMore(RequestParser& parser);
  asio::awaitable<void> AnswerReadError(beast::error_code ec, const BeastRequest& partial,
                                        SteadyClock::time_point started);
  asio::awaitable<bool> Write(Exchange& exchange, Response response, bool keep_alive,
                              SteadyClock::time_point started);
  asio::awaitable<void> LingeringClose();
  asio::awaitable<void> ShutdownTls();
  void NoteStreamError(beast::error_code ec);
  void Close();

  Stream stream_;  // its executor is its io_context
  beast::flat_buffer buffer_;
  bool tls_open_ = false;  // TLS: handshake done, no stream failure since
};

template <class Stream>
Stream Session<Stream>::MakeStream(ServerCore& core, tcp::socket socket) {
  if constexpr (kTls) {
    return Stream(std::move(socket), *core.tls());
  } else {
    return Stream(std::move(socket));
  }
}

template <class Stream>
asio::awaitable<void> Session<Stream>::Run(std::shared_ptr<SessionBase> /*self*/) {
  bool open = true;
  if constexpr (kTls) {
    open = co_await Handshake();
  } else {
    beast::error_code ec;  // Write() tries the socket directly; async ops are unaffected
    Transport().socket().non_blocking(true, ec);
    open = !ec;
  }
  while (open && !close_after_response_ && !core_.stopping()) {
    if (!co_await AwaitRequestStart()) break;
    if (!co_await ServeOne()) break;
  }
  if constexpr (kTls) co_await ShutdownTls();
  Close();
  core_.SessionFinished();
}

// TLS: the server handshake, bounded by the read timeout. A client that does not speak
// TLS fails here and never gets an answer in clear.
template <class Stream>
asio::awaitable<bool> Session<Stream>::Handshake() {
  Transport().expires_after(core_.options().read_timeout);
  auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, kAwaitTuple);
  tls_open_ = !ec;
  co_return !ec;
}

// Waits, under the idle timeout, until bytes of a new request are available.
template <class Stream>
asio::awaitable<bool> Session<Stream>::AwaitRequestStart() {
  if (buffer_.size() > 0) co_return true;  // a pipelined request is already buffered
  Transport().expires_after(core_.options().idle_timeout);
  auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kFirstReadBytes), kAwaitTuple);
  if (ec) {  // idle timeout, peer closed, or Stop() cancelled the read
    NoteStreamError(ec);
    co_return false;
  }
  buffer_.commit(n);
  co_return true;
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::ServeOne() {
  const auto started = SteadyClock::now();
  busy_ = true;
  RequestParser parser;
  parser.header_limit(static_cast<uint32_t>(core_.options().max_header_bytes));
  parser.body_limit(core_.options().max_body_bytes);
  BodyHold hold{core_};
  if (beast::error_code ec = co_await ReadRequest(parser, hold)) {
    co_await AnswerReadError(ec, parser.get(), started);
    co_return false;
  }
  auto exchange = std::make_shared<Exchange>(parser.release());
  Response response = co_await Dispatch(exchange);
  core_.Observe(exchange->ctx, exchange->route, response.status);
  const bool keep_alive = exchange->raw.keep_alive() && !close_after_response_ && !core_.stopping();
  const bool written = co_await Write(*exchange, std::move(response), keep_alive, started);
  busy_ = false;
  co_return written&& keep_alive;
}

// Reads one whole request before the read timeout, answering "Expect: 100-continue".
// Parses what is already buffered first: a request that arrived in one segment (the usual
// case) is parsed without another read, timer or trip through the scheduler.
template <class Stream>
asio::awaitable<beast::error_code> Session<Stream>::ReadRequest(RequestParser& parser,
                                                                BodyHold& hold) {
  bool timer_set = false;
  bool continue_sent = false;
  beast::error_code ec;
  while (!parser.is_done()) {
    ParseBuffered(parser, ec);
    if (!ec || ec == beast_http::error::need_more) {
      if (!HoldBody(parser, hold)) co_return kNoRoomForBody;
    }
    if (ec != beast_http::error::need_more) break;
    ec = {};
    if (!timer_set) {
      Transport().expires_after(core_.options().read_timeout);
      timer_set = true;
    }
    if (!continue_sent && parser.is_header_done() && ExpectsContinue(parser.get())) {
      continue_sent = true;
      beast_http::response<beast_http::empty_body> go_on{beast_http::status::continue_, 11};
      std::tie(ec, std::ignore) = co_await beast_http::async_write(stream_, go_on, kAwaitTuple);
      if (ec) break;
    }
    ec = co_await ReadMore(parser);
    if (ec) break;
  }
  NoteStreamError(ec);
  co_return ec;
}

template <class Stream>
bool Session<Stream>::HoldBody(const RequestParser& parser, BodyHold& hold) const {
  if (hold.decided || !parser.is_header_done()) return true;
  hold.decided = true;
  size_t bytes = 0;
  if (auto length = parser.content_length()) {
    bytes = static_cast<size_t>(*length);
  } else if (parser.chunked()) {
    bytes = core_.options().max_body_bytes;  // the most it may grow to
  }
  if (bytes < kLargeRequest) return true;
  if (!core_.AdmitRequestBody(bytes)) return false;
  hold.bytes = bytes;
  return true;
}

// Feeds the buffered bytes to the parser; need_more when they end before the request does.
template <class Stream>
void Session<Stream>::ParseBuffered(RequestParser& parser, beast::error_code& ec) {
  while (!parser.is_done()) {
    if (buffer_.size() == 0) {
      ec = beast_http::error::need_more;
      return;
    }
    const size_t used = parser.put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec) return;
    if (used == 0) {
      ec = beast_http::error::need_more;
      return;
    }
  }
}

// One read into the buffer. The end of the stream inside a request is a partial message;
// before its first byte, the end of the stream (as Beast's own read reports them).
template <class Stream>
asio::awaitable<beast::error_code> Session<Stream>::ReadMore(RequestParser& parser) {
  const size_t room = std::max(buffer_.capacity() - buffer_.size(), kFirstReadBytes);
  auto [ec, n] =
      co_await stream_.async_read_some(buffer_.prepare(std::min(room, kMaxReadBytes)), kAwaitTuple);
  buffer_.commit(n);
  if (ec == asio::error::eof) {
    ec = {};
    if (parser.got_some()) {
      parser.put_eof(ec);  // a request cut short: partial_message
    } else {
      ec = beast_http::error::end_of_stream;
    }
  }
  co_return ec;
}

template <class Stream>
asio::awaitable<void> Session<Stream>::AnswerReadError(beast::error_code ec,
                                                       const BeastRequest& partial,
                                                       SteadyClock::time_point started) {
  const std::string_view target_path = PathOfTarget(partial.target());
  const std::string path(target_path.empty() ? "/" : target_path);
  Response response;
  if (ec == beast_http::error::header_limit) {
    response = Response::Json(
        431,
        R"({"error":"RequestHeaderFieldsTooLarge","description":"request headers too large"})");
  } else if (ec == kNoRoomForBody) {
    response = core_.router().RenderError(
        path, Error::Unavailable(fmt::format(
                  "request bodies of {} bytes in all are being received or handled, the most "
                  "allowed ([http] max_pending_request_bytes): retry later",
                  core_.options().max_pending_request_bytes)));
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

template <class Stream>
void Session<Stream>::Shutdown() {
  close_after_response_ = true;
  if (!busy_) Transport().cancel();  // wakes the idle read; the loop then ends
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::Write(Exchange& exchange, Response response, bool keep_alive,
                                             SteadyClock::time_point started) {
  struct Release {  // what the Respond that delivered it counted as pending
    ServerCore& core;
    size_t bytes;
    ~Release() { core.ReleaseResponse(bytes); }
  } release{core_, exchange.reserved_bytes};
  const unsigned status = response.status;
  const std::string head = core_.BuildHead(exchange, response, keep_alive, kTls);
  if (exchange.raw.method() == Verb::head) response.body.clear();  // its length is in the head
  const size_t bytes = response.body.size();
  const std::array<asio::const_buffer, 2> wire{asio::buffer(head), asio::buffer(response.body)};
  beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(wire);
  beast::error_code ec;
  if constexpr (!kTls) {
    // Usually the socket takes the whole response at once: no timer, no scheduler trip.
    rest.consume(asio::write(Transport().socket(), wire, ec));
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
  }
  // The rest as the client takes it: the timeout bounds each wait for progress, not the
  // whole answer, so a slow link can take a large page while a client that stops reading
  // is cut off after read_timeout.
  while (!ec && beast::buffer_bytes(rest) > 0) {
    Transport().expires_after(core_.options().read_timeout);
    size_t n = 0;
    std::tie(ec, n) = co_await stream_.async_write_some(rest, kAwaitTuple);
    rest.consume(n);
  }
  NoteStreamError(ec);
  const std::string& client = exchange.ctx.client_address;
  core_.Record(exchange, status, started, bytes, client.empty() ? client_ : client);
  co_return !ec;
}

// Drains the client's remaining bytes (bounded) after an error response. Plain TCP first
// shuts down our sending side so the client sees the end; over TLS the response said
// "Connection: close" and the client closes, or the bound ends the wait.
template <class Stream>
asio::awaitable<void> Session<Stream>::LingeringClose() {
  if constexpr (!kTls) {
    beast::error_code ignored;
    Transport().socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
  Transport().expires_after(kLingerTimeout);
  std::array<char, 8192> sink;
  for (size_t drained = 0; drained < kLingerMaxBytes;) {
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(sink), kAwaitTuple);
    if (ec) {
      NoteStreamError(ec);
      break;
    }
    drained += n;
  }
}

// TLS: sends close_notify and waits briefly for the client's, unless the TLS session or
// the socket is already broken (then there is nobody to tell).
template <class Stream>
asio::awaitable<void> Session<Stream>::ShutdownTls() {
  if (!tls_open_ || !Transport().socket().is_open()) co_return;
  tls_open_ = false;
  Transport().expires_after(kTlsShutdownTimeout);
  co_await stream_.async_shutdown(kAwaitTuple);
}

// TLS: after a failure of the stream itself (reset, timeout, TLS error), no close_notify.
// A cancellation (Stop()) or an HTTP parse error leave the TLS session usable.
template <class Stream>
void Session<Stream>::NoteStreamError(beast::error_code ec) {
  if constexpr (kTls) {
    static const auto& http_category =
        beast_http::make_error_code(beast_http::error::bad_method).category();
    if (ec && ec != asio::error::operation_aborted && ec.category() != http_category) {
      tls_open_ = false;
    }
  }
}

template <class Stream>
void Session<Stream>::Close() {
  beast::error_code ignored;
  Transport().socket().shutdown(tcp::socket::shutdown_send, ignored);
  Transport().close();
}

ServerCore::ServerCore(ServerOptions options, const Router& router, metrics::Registry& metrics)
    : options_(std::move(options)),
      router_(router),
      metrics_(metrics),
      connections_gauge_(metrics.GetGauge("zhicheng_http_connections", "Open HTTP connections.")),
      accept_failures_(metrics.GetCounter("zhicheng_http_accept_failures_total",
                                          "Failed accepts, e.g. out of file descriptors.")),
      connections_refused_(
          metrics.GetCounter("zhicheng_http_connections_refused_total",
                             "Connections closed at once because max_connections were open.")),
      address_refused_(
          metrics.GetCounter("zhicheng_http_connections_refused_per_address_total",
                             "Connections closed at once because their client address had "
                             "max_connections_per_address open.")),
      pending_responses_(options_.max_pending_response_bytes,
                         metrics.GetGauge("zhicheng_http_response_bytes_pending",
                                          "Bytes of response bodies being written to their clients "
                                          "(max_pending_response_bytes).")),
      pending_requests_(options_.max_pending_request_bytes,
                        metrics.GetGauge("zhicheng_http_request_bytes_pending",
                                         "Bytes of request bodies being received or handled, as "
                                         "announced (max_pending_request_bytes).")),
      cors_(options_.cors_allowed_origins),
      id_seed_(std::random_device{}() * 0x100000000ULL ^ std::random_device{}()),
      ios_(MakeIoContexts(options_.threads)) {}

ServerCore::~ServerCore() {
  {
    std::lock_guard lock(lifeline_->mu);
    lifeline_->alive = false;  // late Respond calls become no-ops from here on
  }
  for (auto& io : ios_) io->stop();
  drain_timer_.reset();
  acceptor_.reset();
  keep_running_.clear();
  ios_.clear();  // destroys the suspended session coroutines (they call SessionDestroyed)
}

Status ServerCore::Listen() {
  if (Status tls = LoadTls(); !tls) return tls;
  beast::error_code ec;
  tcp::resolver resolver(*ios_.front());
  auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return Fail(Error::BadRequest(
        fmt::format("cannot resolve listen address {}: {}", options_.host, ec.message())));
  }
  const tcp::endpoint endpoint = *endpoints.begin();
  acceptor_.emplace(Control());
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

// Loads a PEM certificate chain and its private key into `context`.
Status LoadCertificateAndKey(ssl::context& context, const std::string& cert,
                             const std::string& key) {
  beast::error_code ec;
  context.use_certificate_chain_file(cert, ec);
  if (ec) {
    return Fail(Error::BadRequest(
        fmt::format("cannot load TLS certificate chain {}: {}", cert, ec.message())));
  }
  context.use_private_key_file(key, ssl::context::pem, ec);
  if (ec) {
    return Fail(
        Error::BadRequest(fmt::format("cannot load TLS private key {}: {}", key, ec.message())));
  }
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    return Fail(Error::BadRequest(
        fmt::format("TLS private key {} does not match the certificate {}", key, cert)));
  }
  return Ok();
}

// The server's TLS context: TLS 1.2 or later, no compression, no renegotiation, OpenSSL's
// default cipher list (and security level) in the server's order of preference.
Status ServerCore::LoadTls() {
  const std::string& cert = options_.tls_cert_file;
  const std::string& key = options_.tls_key_file;
  if (cert.empty() && key.empty()) return Ok();
  if (cert.empty() || key.empty()) {
    return Fail(Error::BadRequest("TLS needs both a certificate file and a key file"));
  }
  ssl::context context(ssl::context::tls_server);
  context.set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                      ssl::context::single_dh_use);
  SSL_CTX* native = context.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  if (Status loaded = LoadCertificateAndKey(context, cert, key); !loaded) return loaded;
  tls_.emplace(std::move(context));
  return Ok();
}

void ServerCore::Run() {
  PrepareMetrics();
  if (acceptor_) {
    asio::co_spawn(Control(), AcceptLoop(),
                   [](std::exception_ptr e) { LogException(e, "accept loop"); });
  }
  keep_running_.clear();
  for (auto& io : ios_) keep_running_.push_back(asio::make_work_guard(*io));
  auto run = [](asio::io_context& io) {
    try {
      io.run();
    } catch (const std::exception& e) {
      spdlog::critical("http server I/O thread failed: {}", e.what());
    }
  };
  std::vector<std::jthread> others;
  for (size_t i = 1; i < ios_.size(); ++i) {
    others.emplace_back([&run, &io = *ios_[i]] {
      NameThisThread("zc-http-io");
      run(io);
    });
  }
  run(*ios_.front());  // the main thread keeps the process's name
}

size_t ServerCore::AdmitResponse(std::string_view path, Response& response) {
  const size_t bytes = response.body.size();
  if (bytes == 0) return 0;  // most writes' 204
  if (!pending_responses_.Take(bytes, bytes >= kLargeResponse)) {
    response = router_.RenderError(
        path, Error::Unavailable(fmt::format(
                  "answers of {} bytes in all are waiting for their clients to read them, the "
                  "most allowed ([http] max_pending_response_bytes): retry later",
                  options_.max_pending_response_bytes)));
    return AdmitResponse(path, response);  // small: counted, never refused
  }
  return bytes;
}

void ServerCore::ReleaseResponse(size_t bytes) {
  pending_responses_.Give(bytes);
}

bool ServerCore::AdmitRequestBody(size_t bytes) {
  return pending_requests_.Take(bytes, true);
}

void ServerCore::ReleaseRequestBody(size_t bytes) {
  pending_requests_.Give(bytes);
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
    asio::io_context& io = *ios_[next_io_++ % ios_.size()];
    auto [ec, socket] = co_await acceptor_->async_accept(io, kAwaitTuple);
    if (stopping_ || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // E.g. out of file descriptors: back off briefly instead of spinning.
      accept_failures_.Add();
      accept_log_.Failed(ec.message());
      asio::steady_timer backoff(Control(), std::chrono::milliseconds(50));
      co_await backoff.async_wait(kAwaitTuple);
      continue;
    }
    if (connections_.load() >= options_.max_connections) {
      connections_refused_.Add();
      accept_log_.Failed(fmt::format("{} connections are open ([http] max_connections): closed",
                                     options_.max_connections));
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    accept_log_.Succeeded();
    beast::error_code gone;  // the client reset the connection already
    const tcp::endpoint remote = socket.remote_endpoint(gone);
    if (gone || !AddressHasRoom(remote.address())) {
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    StartSession(std::move(socket), remote);
  }
}

bool ServerCore::AddressHasRoom(const asio::ip::address& address) {
  const size_t limit = options_.max_connections_per_address;
  if (limit == 0) return true;
  {
    std::lock_guard lock(sessions_mu_);
    auto it = per_address_.find(address);
    if (it == per_address_.end() || it->second < limit) return true;
  }
  address_refused_.Add();
  address_log_.Failed(
      fmt::format("{} has {} connections open ([http] max_connections_per_address): closed",
                  address.to_string(), limit));
  return false;
}

template <class Stream>
void SpawnSession(ServerCore& core, tcp::socket socket, const tcp::endpoint& remote) {
  auto session = std::make_shared<Session<Stream>>(core, std::move(socket), remote);
  core.SessionStarted(session.get(), session, remote.address());
  asio::co_spawn(session->executor(), session->Run(session),
                 [](std::exception_ptr e) { LogException(e, "session"); });
}

void ServerCore::StartSession(tcp::socket socket, const tcp::endpoint& remote) {
  if (tls_) {
    SpawnSession<TlsStream>(*this, std::move(socket), remote);
  } else {
    SpawnSession<PlainStream>(*this, std::move(socket), remote);
  }
}

void ServerCore::SessionStarted(SessionBase* session, std::weak_ptr<SessionBase> weak,
                                const asio::ip::address& address) {
  connections_.fetch_add(1);
  running_.fetch_add(1);
  connections_gauge_.Add(1);
  std::lock_guard lock(sessions_mu_);
  sessions_.emplace(session, LiveSession{std::move(weak), address});
  ++per_address_[address];
}

void ServerCore::SessionFinished() {
  if (running_.fetch_sub(1) == 1 && stopping_) {
    asio::post(Control(), [this] {
      if (running_.load() != 0) return;
      if (drain_timer_) drain_timer_->cancel();
      keep_running_.clear();
    });
  }
}

void ServerCore::SessionDestroyed(SessionBase* session) {
  connections_.fetch_sub(1);
  connections_gauge_.Add(-1);
  std::lock_guard lock(sessions_mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  if (auto count = per_address_.find(it->second.address); --count->second == 0) {
    per_address_.erase(count);
  }
  sessions_.erase(it);
}

void ServerCore::Stop() {
  if (stopping_.exchange(true)) return;
  asio::post(Control(), [this] { BeginDrain(); });
}

// On the control thread: no new connections; idle sessions close, busy ones finish.
void ServerCore::BeginDrain() {
  beast::error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  // Collected first and posted without the lock: dropping the last reference to a session
  // runs its destructor, which takes sessions_mu_.
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard lock(sessions_mu_);
    for (auto& [raw, live_session] : sessions_) {
      if (auto session = live_session.session.lock()) live.push_back(std::move(session));
    }
  }
  for (auto& session : live) {
    asio::post(session->executor(), [session] { session->Shutdown(); });
  }
  if (running_.load() == 0) {  // nothing to wait for: each run() returns when its work ends
    keep_running_.clear();
    return;
  }
  drain_timer_.emplace(Control(), options_.drain_timeout);
  drain_timer_->async_wait([this](beast::error_code ec) {
    if (ec) return;  // cancelled: every session finished in time
    spdlog::warn("http server: drain timeout, abandoning {} connection(s)", running_.load());
    for (auto& io : ios_) io->stop();
  });
}

std::string ServerCore::RequestIdFor(const BeastRequest& request) {
  auto incoming = request.find("X-Request-Id");
  if (incoming != request.end() && IsValidRequestId(incoming->value())) {
    return std::string(incoming->value());
  }
  return fmt::format("{:016x}", Mix(id_seed_ + id_counter_.fetch_add(1)));
}

std::expected<Identity, Denial> ServerCore::Authorize(const RequestContext& ctx,
                                                      const Route& route) const {
  if (!authorizer_) return Identity{};
  try {
    return authorizer_(ctx, route);
  } catch (const std::exception& e) {
    spdlog::error("http authorizer threw: {} (rid={})", e.what(), ctx.request_id);
    return Deny(Error::Internal("authorization failed"));
  }
}

// The authorizer's error in the path's format; a 429 says when to retry (at least 1 s).
Response ServerCore::RenderDenial(const RequestContext& ctx, const Denial& denial) const {
  Response response = router_.RenderError(ctx.path, denial.error, &ctx);
  if (response.status == 429) {
    response.Header("Retry-After", std::to_string(std::max(1u, denial.retry_after_seconds)));
  }
  return response;
}

// 404 or 405 (with Allow) in the path's format.
Response ServerCore::RenderNoRoute(const RequestContext& ctx, const Error& error) const {
  Response response = router_.RenderError(ctx.path, error, &ctx);
  if (error.code == ErrorCode::kMethodNotAllowed) {
    response.Header("Allow", JoinMethods(router_.AllowedMethods(ctx.path)));
  }
  return response;
}

// The wire response: the handler's status, headers and body, then what this layer adds to
// every response (request id, security headers, CORS, the 401 challenge).
std::string ServerCore::BuildHead(const Exchange& exchange, const Response& response,
                                  bool keep_alive, bool tls) const {
  ResponseHead head(response.status, exchange.raw.version());
  head.Set("Server", "zhicheng");
  if (!response.content_type.empty()) head.Set("Content-Type", response.content_type);
  for (const auto& [name, value] : response.headers) head.Insert(name, value);
  head.Set("X-Request-Id", exchange.ctx.request_id);
  AddSecurityHeaders(head, tls);
  cors_.Decorate(head, exchange.raw);
  if (response.status == 401 && !head.Has("WWW-Authenticate")) {
    head.Set("WWW-Authenticate", kBearerChallenge);
  }
  if (response.status == 503 && !head.Has("Retry-After")) {  // overloaded, storage full,
    head.Set("Retry-After", "1");                            // starting: each passes
  }
  head.Finish(keep_alive, response.body.size());
  return head.Serialize();
}

void ServerCore::Observe(const RequestContext& ctx, const Route* route, unsigned status) const {
  if (!observer_ || route == nullptr) return;
  try {
    observer_(ctx, route, status);
  } catch (const std::exception& e) {
    spdlog::error("http request observer threw: {} (rid={})", e.what(), ctx.request_id);
  }
}

void ServerCore::Record(const Exchange& exchange, unsigned status, SteadyClock::time_point started,
                        size_t bytes, std::string_view client) const {
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  const Route* route = exchange.route;
  const size_t index =
      route ? static_cast<size_t>(route - router_.Routes().data()) : latency_.size() - 1;
  RequestCounter(index, exchange.raw.method(), status).Add();
  if (index < latency_.size()) latency_[index]->Observe(seconds);
  if (options_.access_log) {
    spdlog::info("access method={} path={} status={} dur_ms={:.2f} bytes={} rid={} client={}",
                 beast_http::to_string(exchange.raw.method()), PathOfTarget(exchange.raw.target()),
                 status, seconds * 1000, bytes, exchange.ctx.request_id, client);
  }
}

// The requests counter of (route index, method, status), found in the registry once.
metrics::Counter& ServerCore::RequestCounter(size_t route_index, Verb method,
                                             unsigned status) const {
  const uint64_t key =
      (uint64_t{route_index} << 32) | (uint64_t{static_cast<unsigned>(method)} << 16) | status;
  std::lock_guard lock(request_counters_mu_);
  metrics::Counter*& counter = request_counters_[key];
  if (counter == nullptr) {
    const bool routed = route_index < router_.Routes().size();
    const std::string route_label =
        routed ? router_.Routes()[route_index].pattern : std::string(kUnmatchedRoute);
    counter = &metrics_.GetCounter(
        "zhicheng_http_requests_total", "HTTP requests answered.", {"route", "method", "status"},
        {route_label, std::string(beast_http::to_string(method)), std::to_string(status)});
  }
  return *counter;
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
void Server::SetRequestObserver(RequestObserver observer) {
  impl_->SetRequestObserver(std::move(observer));
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
