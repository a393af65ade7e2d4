// Behaviour tests of the HTTP server over real sockets on port 0: keep-alive, pipelining,
// limits (413, 431, timeouts, connection cap), Respond from other threads, Stop(),
// metrics, the security headers, CORS, authorizer denials (401 challenge, 429
// Retry-After) and the request observer. Every wait is bounded by kDeadline.
#include "http/server.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include <condition_variable>
#include <deque>
#include <future>
#include <thread>

#include "http/client.h"

namespace zc::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using RawResponse = beast_http::response<beast_http::string_body>;
using namespace std::chrono_literals;

constexpr auto kDeadline = 5s;  // upper bound for anything a test waits on

// A client connection driven synchronously by the test, every wait bounded by a deadline.
class RawConnection {
 public:
  // From `source` (another loopback address is another client) when given.
  explicit RawConnection(uint16_t port, std::string_view source = {}) : socket_(io_) {
    if (!source.empty()) {
      socket_.open(asio::ip::tcp::v4());
      socket_.bind({asio::ip::make_address(source), 0});
    }
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  void Write(std::string_view bytes) {
    beast::error_code ec;
    asio::write(socket_, asio::buffer(bytes), ec);  // the server may close early (413, 431)
  }
  std::optional<RawResponse> Read() {
    auto response = std::make_shared<RawResponse>();
    std::optional<beast::error_code> result;
    beast_http::async_read(socket_, buffer_, *response,
                           [&](beast::error_code ec, size_t) { result = ec; });
    RunUntil(result);
    if (!result || *result) return std::nullopt;
    return std::move(*response);
  }
  // True when the server closes the connection before the deadline.
  bool WaitForClose() {
    for (;;) {
      std::optional<beast::error_code> result;
      socket_.async_read_some(asio::buffer(scratch_),
                              [&](beast::error_code ec, size_t) { result = ec; });
      RunUntil(result);
      if (!result) return false;
      if (*result) return true;
    }
  }
  // Reads the answer to a HEAD request: its head only, whatever Content-Length says.
  std::optional<RawResponse> ReadHeadOnly() {
    auto parser = std::make_shared<beast_http::response_parser<beast_http::string_body>>();
    parser->skip(true);
    std::optional<beast::error_code> result;
    beast_http::async_read(socket_, buffer_, *parser,
                           [&](beast::error_code ec, size_t) { result = ec; });
    RunUntil(result);
    if (!result || *result) return std::nullopt;
    return parser->release();
  }
  void Close() { socket_.close(); }

 private:
  void RunUntil(std::optional<beast::error_code>& result) {
    io_.restart();
    io_.run_for(kDeadline);
    if (!result) {
      socket_.cancel();
      io_.restart();
      io_.run();
      result.reset();
    }
  }
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::array<char, 4096> scratch_;
};

std::string Get(std::string_view target, std::string_view extra_headers = "") {
  return fmt::format("GET {} HTTP/1.1\r\nHost: test\r\n{}\r\n", target, extra_headers);
}

// Requests whose handlers respond later: the test takes them and answers from its thread.
class Parking {
 public:
  struct Parked {
    RequestContext* ctx;
    Respond respond;
  };
  void Park(RequestContext& ctx, Respond respond) {
    std::lock_guard lock(mu_);
    parked_.push_back({&ctx, std::move(respond)});
    cv_.notify_all();
  }
  std::optional<Parked> Take() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kDeadline, [&] { return !parked_.empty(); })) return std::nullopt;
    Parked parked = std::move(parked_.front());
    parked_.pop_front();
    return parked;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Parked> parked_;
};

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() {
    router_.Add({Verb::get, "/items/{id}", "", [](RequestContext& ctx, Respond respond) {
                   respond(Response::Json(200, fmt::format(R"({{"id":"{}","client":"{}"}})",
                                                           ctx.Param("id"), ctx.client_address)));
                 }});
    router_.Add({Verb::post, "/echo", "", [](RequestContext& ctx, Respond respond) {
                   Response response = Response::Text(201, ctx.Body());
                   response.Header("X-Query", std::string(ctx.Query("q").value_or("-")));
                   respond(std::move(response));
                 }});
    router_.Add({Verb::get, "/later", "", [this](RequestContext& ctx, Respond respond) {
                   parking_.Park(ctx, std::move(respond));
                 }});
    router_.Add({Verb::get, "/secret", "admin",
                 [](RequestContext&, Respond respond) { respond(Response::Empty(204)); }});
    router_.Add({Verb::get, "/throws", "",
                 [](RequestContext&, Respond) { throw std::runtime_error("bug"); }});
    router_.Add({Verb::get, "/big/{mib}", "", [](RequestContext& ctx, Respond respond) {
                   std::string body(std::stoul(std::string(ctx.Param("mib"))) << 20, ' ');
                   for (size_t i = 0; i < body.size(); ++i) {
                     body[i] = static_cast<char>('a' + i % 26);
                   }
                   respond(Response::Text(200, std::move(body)));
                 }});
    router_.Add({Verb::get, "/empty", "",
                 [](RequestContext&, Respond respond) { respond(Response::Empty(204)); }});
    router_.Add({Verb::get, "/cached", "", [](RequestContext&, Respond respond) {
                   respond(Response::Text(200, "ok").Header("Cache-Control", "max-age=60"));
                 }});
  }
  ~ServerTest() override { StopServer(); }

  // Access logging stays on (the default) so that its code path runs in every test.
  void StartServer(ServerOptions options = {}) {
    options.port = 0;
    options.threads = 2;
    server_ = std::make_unique<Server>(options, router_, registry_);
    if (authorizer_) server_->SetAuthorizer(authorizer_);
    if (observer_) server_->SetRequestObserver(observer_);
    ASSERT_TRUE(server_->Listen());
    run_thread_ = std::thread([this] { server_->Run(); });
  }
  void StopServer() {
    if (!server_) return;
    server_->Stop();
    run_thread_.join();
    server_.reset();
  }
  uint16_t Port() const { return server_->Port(); }

  Router router_;
  metrics::Registry registry_;
  Parking parking_;
  Authorizer authorizer_;     // installed by StartServer when set
  RequestObserver observer_;  // installed by StartServer when set
  std::unique_ptr<Server> server_;
  std::thread run_thread_;
};

TEST_F(ServerTest, AnswersWithHeadersAndKeepsTheConnectionAlive) {
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/items/a"));
  auto first = connection.Read();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->result_int(), 200u);
  EXPECT_EQ((*first)[beast_http::field::server], "zhicheng");
  EXPECT_EQ((*first)[beast_http::field::content_type], "application/json");
  EXPECT_EQ((*first)[beast_http::field::content_length], std::to_string(first->body().size()));
  EXPECT_TRUE(first->keep_alive());
  connection.Write(Get("/items/b"));
  auto second = connection.Read();
  ASSERT_TRUE(second);
  // Same connection: the handler saw the same client address both times.
  auto client_of = [](const RawResponse& r) {
    return std::string(boost::json::parse(r.body()).at("client").as_string());
  };
  EXPECT_EQ(client_of(*first), client_of(*second));
  EXPECT_EQ(boost::json::parse(second->body()).at("id"), "b");
}

// RFC 9110 section 8.6: no Content-Length on a 204; the client still finds where the next
// response starts.
TEST_F(ServerTest, NoContentHasNoLengthAndTheConnectionGoesOn) {
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/empty") + Get("/items/after"));
  auto empty = connection.Read();
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->result_int(), 204u);
  EXPECT_EQ(empty->find(beast_http::field::content_length), empty->end());
  EXPECT_TRUE(empty->body().empty());
  auto next = connection.Read();
  ASSERT_TRUE(next);
  EXPECT_EQ(boost::json::parse(next->body()).at("id"), "after");
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/items/1") + Get("/items/2") + Get("/items/3"));
  for (const char* id : {"1", "2", "3"}) {
    auto response = connection.Read();
    ASSERT_TRUE(response);
    EXPECT_EQ(boost::json::parse(response->body()).at("id").as_string(), id);
  }
}

TEST_F(ServerTest, ARequestSentInPiecesIsReadWhole) {
  StartServer();
  RawConnection connection(Port());
  connection.Write("POST /echo?q=pieces HTTP/1.1\r\nHo");
  connection.Write("st: t\r\nContent-Length: 11\r\n\r\nhello");
  connection.Write(" world");
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 201u);
  EXPECT_EQ(response->body(), "hello world");
  EXPECT_EQ((*response)["X-Query"], "pieces");
}

// The client sends the body only once told to continue: the server reads it after the 100.
TEST_F(ServerTest, ExpectContinueIsAnsweredBeforeTheBodyIsRead) {
  StartServer();
  RawConnection connection(Port());
  connection.Write(
      "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  auto go_on = connection.Read();
  ASSERT_TRUE(go_on);
  EXPECT_EQ(go_on->result_int(), 100u);
  connection.Write("body");
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 201u);
  EXPECT_EQ(response->body(), "body");
}

// More than the socket takes at once: the rest of the response is written asynchronously.
TEST_F(ServerTest, AResponseLargerThanTheSocketBufferArrivesWhole) {
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/big/6") + Get("/items/after"));
  auto big = connection.Read();
  ASSERT_TRUE(big);
  ASSERT_EQ(big->body().size(), size_t{6} << 20);
  for (size_t i = 0; i < big->body().size(); i += 4099) {
    ASSERT_EQ(big->body()[i], static_cast<char>('a' + i % 26)) << "at byte " << i;
  }
  auto next = connection.Read();
  ASSERT_TRUE(next);
  EXPECT_EQ(boost::json::parse(next->body()).at("id").as_string(), "after");
}

TEST_F(ServerTest, DecodesPathAndQueryForTheHandler) {
  StartServer();
  RawConnection connection(Port());
  const std::string body = "hello";
  connection.Write(fmt::format(
      "POST /echo?q=temperature>%2B20%3B+x HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{}",
      body.size(), body));
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 201u);
  EXPECT_EQ(response->body(), "hello");
  EXPECT_EQ((*response)["X-Query"], "temperature>+20; x");
}

TEST_F(ServerTest, UnknownPathIsJsonNotFound) {
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/nothing/here"));
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 404u);
  EXPECT_EQ(boost::json::parse(response->body()).at("error"), "NotFound");
  EXPECT_TRUE(response->keep_alive());
}

TEST_F(ServerTest, OtherMethodIsMethodNotAllowedWithAllow) {
  StartServer();
  RawConnection connection(Port());
  connection.Write("DELETE /items/1 HTTP/1.1\r\nHost: t\r\n\r\n");
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 405u);
  EXPECT_EQ((*response)[beast_http::field::allow], "GET, HEAD");
  EXPECT_EQ(boost::json::parse(response->body()).at("error"), "MethodNotAllowed");
}

// RFC 9110 section 9.3.2: HEAD answers what GET would, without the body.
TEST_F(ServerTest, HeadAnswersTheHeadOfGetWithoutTheBody) {
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/items/abc"));
  auto get = connection.Read();
  ASSERT_TRUE(get);
  connection.Write("HEAD /items/abc HTTP/1.1\r\nHost: t\r\n\r\n" + Get("/items/after"));
  auto head = connection.ReadHeadOnly();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->result_int(), 200u);
  EXPECT_EQ((*head)[beast_http::field::content_type], "application/json");
  EXPECT_EQ((*head)[beast_http::field::content_length], std::to_string(get->body().size()));
  auto next = connection.Read();  // would start inside a body sent after the head
  ASSERT_TRUE(next);
  EXPECT_EQ(boost::json::parse(next->body()).at("id"), "after");
  connection.Write("HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n");
  auto refused = connection.ReadHeadOnly();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->result_int(), 405u);
  EXPECT_EQ((*refused)[beast_http::field::allow], "POST");
}

TEST_F(ServerTest, OversizedBodyIs413InTheFormatOfThePathThenClose) {
  router_.SetErrorFormatter("/echo", [](const Error& e, const RequestContext*) {
    return Response::Text(StatusFor(e.code), "echo says: " + e.message);
  });
  ServerOptions options;
  options.max_body_bytes = 1000;
  StartServer(options);
  RawConnection connection(Port());
  const std::string body(5000, 'x');
  connection.Write(fmt::format("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{}",
                               body.size(), body));
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 413u);
  EXPECT_TRUE(response->body().starts_with("echo says: request body exceeds 1000 bytes"));
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(connection.WaitForClose());
}

TEST_F(ServerTest, ChunkedBodyOverTheLimitIs413) {
  ServerOptions options;
  options.max_body_bytes = 10;
  StartServer(options);
  RawConnection connection(Port());
  connection.Write(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 413u);
  EXPECT_EQ(boost::json::parse(response->body()).at("error"), "RequestEntityTooLarge");
}

TEST_F(ServerTest, HugeHeadersAre431) {
  StartServer();  // default max_header_bytes: 8 KiB
  RawConnection connection(Port());
  connection.Write(Get("/items/1", fmt::format("X-Big: {}\r\n", std::string(20000, 'a'))));
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 431u);
  EXPECT_TRUE(connection.WaitForClose());
}

TEST_F(ServerTest, MalformedRequestIs400) {
  StartServer();
  RawConnection connection(Port());
  connection.Write("GET /items/1 HTTP/1.1\r\nBad Header Line\r\n\r\n");
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 400u);
}

TEST_F(ServerTest, HandlerMayRespondLaterFromAnotherThread) {
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/later?who=me"));
  auto parked = parking_.Take();
  ASSERT_TRUE(parked);
  std::thread responder([parked = std::move(*parked)] {
    // The context stays valid until Respond is called.
    parked.respond(Response::Text(200, std::string(parked.ctx->Query("who").value_or("?"))));
  });
  auto response = connection.Read();
  responder.join();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
  EXPECT_EQ(response->body(), "me");
}

TEST_F(ServerTest, RespondAfterTheClientLeftIsHarmless) {
  StartServer();
  {
    RawConnection connection(Port());
    connection.Write(Get("/later"));
    auto parked = parking_.Take();
    ASSERT_TRUE(parked);
    connection.Close();
    parked->respond(Response::Text(200, "nobody listens"));
    parked->respond(Response::Text(200, "twice is ignored"));
  }
  RawConnection next(Port());
  next.Write(Get("/items/ok"));
  auto response = next.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
}

TEST_F(ServerTest, EchoesValidRequestIdsAndGeneratesOthers) {
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/items/1", "X-Request-Id: abc-123_x.y\r\n"));
  auto echoed = connection.Read();
  ASSERT_TRUE(echoed);
  EXPECT_EQ((*echoed)["X-Request-Id"], "abc-123_x.y");

  connection.Write(Get("/items/1", "X-Request-Id: bad id!\r\n"));
  auto replaced = connection.Read();
  ASSERT_TRUE(replaced);
  const std::string generated((*replaced)["X-Request-Id"]);
  EXPECT_EQ(generated.size(), 16u);
  EXPECT_EQ(generated.find_first_not_of("0123456789abcdef"), std::string::npos);

  connection.Write(Get("/nothing"));
  auto not_found = connection.Read();
  ASSERT_TRUE(not_found);
  EXPECT_EQ((*not_found)["X-Request-Id"].size(), 16u);
  EXPECT_NE((*not_found)["X-Request-Id"], generated);
}

// Denies anonymous calls to routes with a permission (401), calls with the token "limited"
// (429, retry in 7 s) and other tokens without "admin" (403); "Bearer admin" is allowed.
std::expected<Identity, Denial> TestAuthorizer(const RequestContext& ctx, const Route& route) {
  if (route.permission.empty()) return Identity{};
  const std::string_view token = ctx.Header("Authorization");
  if (token.empty()) return Deny(Error::Unauthorized("token required"));
  if (token == "Bearer limited") return Deny(Error::TooManyRequests("slow down"), 7);
  if (token != "Bearer admin") return Deny(Error::Forbidden("permission " + route.permission));
  Identity identity;
  identity.subject = "alice";
  identity.permissions = {"admin"};
  return identity;
}

TEST_F(ServerTest, AuthorizerDenialIsRenderedError) {
  authorizer_ = TestAuthorizer;
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/secret"));
  auto anonymous = connection.Read();
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->result_int(), 401u);
  EXPECT_EQ(boost::json::parse(anonymous->body()).at("error"), "Unauthorized");
  EXPECT_EQ((*anonymous)[beast_http::field::www_authenticate], R"(Bearer realm="zhicheng")");
  EXPECT_EQ(anonymous->count(beast_http::field::retry_after), 0u);
  connection.Write(Get("/secret", "Authorization: Bearer x\r\n"));
  auto forbidden = connection.Read();
  ASSERT_TRUE(forbidden);
  EXPECT_EQ(forbidden->result_int(), 403u);
  EXPECT_EQ(forbidden->count(beast_http::field::www_authenticate), 0u);
  connection.Write(Get("/secret", "Authorization: Bearer admin\r\n"));
  auto granted = connection.Read();
  ASSERT_TRUE(granted);
  EXPECT_EQ(granted->result_int(), 204u);
  connection.Write(Get("/items/public"));
  auto allowed = connection.Read();
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->result_int(), 200u);
}

TEST_F(ServerTest, RateLimitDenialSaysWhenToRetry) {
  authorizer_ = TestAuthorizer;
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/secret", "Authorization: Bearer limited\r\n"));
  auto limited = connection.Read();
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->result_int(), 429u);
  EXPECT_EQ((*limited)[beast_http::field::retry_after], "7");
  EXPECT_EQ(boost::json::parse(limited->body()).at("error"), "TooManyRequests");
  EXPECT_TRUE(limited->keep_alive());
}

TEST_F(ServerTest, A429WithoutSecondsStillSaysRetryAfterOne) {
  authorizer_ = [](const RequestContext&, const Route&) -> std::expected<Identity, Denial> {
    return Deny(Error::TooManyRequests("busy"));
  };
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/items/1"));
  auto limited = connection.Read();
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->result_int(), 429u);
  EXPECT_EQ((*limited)[beast_http::field::retry_after], "1");
}

// A 503 (overloaded, storage full, starting) tells clients when to try again: 1 s unless
// the handler said otherwise.
TEST_F(ServerTest, A503SaysRetryAfterUnlessTheHandlerDid) {
  router_.Add({Verb::get, "/busy", "",
               [](RequestContext&, Respond respond) { respond(Response::Text(503, "busy")); }});
  router_.Add({Verb::get, "/busy-long", "", [](RequestContext&, Respond respond) {
                 respond(Response::Text(503, "busy").Header("Retry-After", "30"));
               }});
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/busy"));
  auto busy = connection.Read();
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->result_int(), 503u);
  EXPECT_EQ((*busy)[beast_http::field::retry_after], "1");
  connection.Write(Get("/busy-long"));
  auto longer = connection.Read();
  ASSERT_TRUE(longer);
  EXPECT_EQ(longer->count(beast_http::field::retry_after), 1u);
  EXPECT_EQ((*longer)[beast_http::field::retry_after], "30");
  connection.Write(Get("/items/1"));
  auto fine = connection.Read();
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->count(beast_http::field::retry_after), 0u);
}

// Handlers learn the answer size they may build from the server's options.
TEST_F(ServerTest, HandlersSeeTheResponseSizeLimit) {
  router_.Add({Verb::get, "/limit", "", [](RequestContext& ctx, Respond respond) {
                 respond(Response::Text(200, std::to_string(ctx.max_response_bytes)));
               }});
  StartServer({.max_response_bytes = 123456});
  RawConnection connection(Port());
  connection.Write(Get("/limit"));
  auto answer = connection.Read();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->body(), "123456");
}

TEST_F(ServerTest, AuthorizerExceptionIs500) {
  authorizer_ = [](const RequestContext&, const Route&) -> std::expected<Identity, Denial> {
    throw std::runtime_error("bug");
  };
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/items/1"));
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 500u);
}

TEST_F(ServerTest, HandlerExceptionIs500) {
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/throws"));
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 500u);
}

TEST_F(ServerTest, IdleConnectionIsClosedAfterIdleTimeout) {
  ServerOptions options;
  options.idle_timeout = 1s;
  StartServer(options);
  RawConnection connection(Port());
  connection.Write(Get("/items/1"));
  ASSERT_TRUE(connection.Read());
  const auto before = std::chrono::steady_clock::now();
  EXPECT_TRUE(connection.WaitForClose());
  EXPECT_LT(std::chrono::steady_clock::now() - before, 3s);
}

TEST_F(ServerTest, SlowRequestIsClosedAfterReadTimeout) {
  ServerOptions options;
  options.read_timeout = 1s;
  StartServer(options);
  RawConnection connection(Port());
  connection.Write("GET /items/1 HTTP/1.1\r\nHost: t\r\n");  // never finishes the headers
  EXPECT_TRUE(connection.WaitForClose());
}

// The read timeout bounds each wait for the client to take more of an answer, not the whole
// answer: a client on a slow link (about 5 MB/s here) that takes 16 MB over more than twice
// the timeout gets it all. (The kernel wakes a writer when a third or so of its send buffer,
// up to 4 MB, is free, so a client must take about 1.3 MB per timeout.)
TEST_F(ServerTest, ASlowReaderGetsALargeAnswerWholeWhileItKeepsReading) {
  ServerOptions options;
  options.read_timeout = 1s;
  StartServer(options);
  asio::io_context io;
  tcp::socket socket(io);
  socket.open(tcp::v4());
  socket.set_option(asio::socket_base::receive_buffer_size(256 * 1024));  // little in the kernel
  socket.connect({asio::ip::make_address("127.0.0.1"), Port()});
  asio::write(socket, asio::buffer(Get("/big/16")));
  std::string received;
  std::vector<char> chunk(size_t{256} * 1024);
  const auto started = std::chrono::steady_clock::now();
  beast::error_code ec;
  while (received.size() < (size_t{16} << 20) && !ec) {
    std::this_thread::sleep_for(50ms);  // the slow link, not a synchronisation
    received.append(chunk.data(), socket.read_some(asio::buffer(chunk), ec));
  }
  EXPECT_GT(std::chrono::steady_clock::now() - started, 2s) << "the reading took the timeout twice";
  ASSERT_FALSE(ec) << ec.message() << " after " << received.size() << " bytes";
  EXPECT_GE(received.size(), size_t{16} << 20);
}

TEST_F(ServerTest, ConnectionsOverTheLimitAreClosed) {
  ServerOptions options;
  options.max_connections = 1;
  StartServer(options);
  RawConnection first(Port());
  first.Write(Get("/items/1"));
  ASSERT_TRUE(first.Read());  // the first connection is established and served
  RawConnection second(Port());
  EXPECT_TRUE(second.WaitForClose());
}

TEST_F(ServerTest, ConnectionsOverTheLimitOfOneAddressAreClosed) {
  ServerOptions options;
  options.max_connections_per_address = 2;
  StartServer(options);
  const auto served = [](RawConnection& connection) {
    connection.Write(Get("/items/1"));
    return connection.Read().has_value();
  };
  auto first = std::make_unique<RawConnection>(Port());
  RawConnection second(Port());
  ASSERT_TRUE(served(*first));
  ASSERT_TRUE(served(second));
  RawConnection third(Port());
  EXPECT_TRUE(third.WaitForClose());
  RawConnection other_client(Port(), "127.0.0.2");
  EXPECT_TRUE(served(other_client));
  EXPECT_NE(registry_.Render().find("zhicheng_http_connections_refused_per_address_total 1"),
            std::string::npos);
  first.reset();  // its place comes back once the server has seen it close
  bool again = false;
  for (int attempt = 0; attempt < 500 && !again; ++attempt) {
    RawConnection next(Port());
    again = served(next);
  }
  EXPECT_TRUE(again);
}

TEST_F(ServerTest, LargeRequestBodiesBeingReceivedAreBoundedInAll) {
  ServerOptions options;
  options.max_pending_request_bytes = 150 * 1024;
  StartServer(options);
  const auto post_head = [](size_t length) {
    return fmt::format("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", length);
  };
  const auto pending = [this] {
    const std::string text = registry_.Render();
    const std::string name = "\nzhicheng_http_request_bytes_pending ";
    return std::stoul(text.substr(text.find(name) + name.size()));
  };
  // A client that announces 100 KiB and sends part of it holds the 100 KiB.
  RawConnection slow(Port());
  slow.Write(post_head(100 * 1024) + std::string(1000, 'a'));
  const auto until = std::chrono::steady_clock::now() + 10s;  // its head reaches the server
  while (pending() == 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  ASSERT_EQ(pending(), 100u * 1024);
  // Another 100 KiB would pass 150 KiB: 503 before its body is read, then closed.
  RawConnection refused(Port());
  refused.Write(post_head(100 * 1024));
  auto answer = refused.Read();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->result_int(), 503);
  EXPECT_EQ((*answer)["Retry-After"], "1");
  EXPECT_NE(answer->body().find("max_pending_request_bytes"), std::string::npos);
  EXPECT_TRUE(refused.WaitForClose());
  // Small bodies are neither counted nor refused.
  RawConnection small(Port());
  small.Write(post_head(1000) + std::string(1000, 'b'));
  answer = small.Read();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->result_int(), 201);
  // The slow one is served once it has sent its body, and its bytes are released.
  slow.Write(std::string(100 * 1024 - 1000, 'a'));
  answer = slow.Read();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->result_int(), 201);
  EXPECT_EQ(answer->body().size(), 100u * 1024);
  RawConnection again(Port());
  again.Write(post_head(100 * 1024) + std::string(100 * 1024, 'c'));
  answer = again.Read();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->result_int(), 201);
}

TEST_F(ServerTest, StopDeliversTheResponseInFlightThenRunReturns) {
  StartServer();
  RawConnection busy(Port());
  RawConnection idle(Port());
  idle.Write(Get("/items/1"));
  ASSERT_TRUE(idle.Read());
  busy.Write(Get("/later"));
  auto parked = parking_.Take();
  ASSERT_TRUE(parked);
  server_->Stop();
  EXPECT_TRUE(idle.WaitForClose());
  parked->respond(Response::Text(200, "finished"));
  auto response = busy.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "finished");
  EXPECT_FALSE(response->keep_alive());
  run_thread_.join();  // Run() returned
  server_.reset();
}

TEST_F(ServerTest, DrainTimeoutBoundsStopAndLateRespondIsHarmless) {
  ServerOptions options;
  options.drain_timeout = 1s;
  StartServer(options);
  RawConnection connection(Port());
  connection.Write(Get("/later"));
  auto parked = parking_.Take();
  ASSERT_TRUE(parked);
  StopServer();  // returns after the drain timeout although the handler never answered
  parked->respond(Response::Text(200, "too late"));  // the server is gone: a no-op
}

TEST_F(ServerTest, CountsRequestsByRouteMethodAndStatus) {
  StartServer();
  RawConnection connection(Port());
  // Metrics are recorded once a response is written; the answer to the last request
  // proves that the three before it were recorded (one request at a time per connection).
  connection.Write(Get("/items/1") + Get("/items/2") + Get("/nope") + Get("/throws"));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(connection.Read());
  const std::string text = registry_.Render();
  EXPECT_NE(
      text.find(R"(zhicheng_http_requests_total{route="/items/{id}",method="GET",status="200"} 2)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(R"(zhicheng_http_requests_total{route="unmatched",method="GET",status="404"} 1)"),
      std::string::npos);
  EXPECT_NE(text.find(R"(zhicheng_http_request_duration_seconds_count{route="/items/{id}"} 2)"),
            std::string::npos);
  EXPECT_NE(text.find("zhicheng_http_connections 1"), std::string::npos);
}

TEST_F(ServerTest, ServesTheClient) {
  StartServer();
  Client client;
  std::promise<Result<OutboundResponse>> done;
  client.Send({.method = "POST",
               .url = fmt::format("http://127.0.0.1:{}/echo?q=a%20b", Port()),
               .body = "payload"},
              [&](Result<OutboundResponse> r) { done.set_value(std::move(r)); });
  auto future = done.get_future();
  ASSERT_EQ(future.wait_for(kDeadline), std::future_status::ready);
  auto result = future.get();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 201u);
  EXPECT_EQ(result->body, "payload");
}

TEST_F(ServerTest, EveryResponseCarriesTheSecurityHeaders) {
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/items/1") + Get("/nothing") + Get("/throws"));
  for (unsigned status : {200u, 404u, 500u}) {
    auto response = connection.Read();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result_int(), status);
    EXPECT_EQ((*response)["X-Content-Type-Options"], "nosniff");
    EXPECT_EQ((*response)[beast_http::field::x_frame_options], "DENY");
    EXPECT_EQ((*response)["Referrer-Policy"], "no-referrer");
    EXPECT_EQ((*response)[beast_http::field::cache_control], "no-store");
    EXPECT_EQ(response->count(beast_http::field::strict_transport_security), 0u);  // no TLS
    EXPECT_EQ(response->count(beast_http::field::access_control_allow_origin), 0u);
  }
  // Read errors are answered with them too.
  RawConnection malformed(Port());
  malformed.Write("GET /items/1 HTTP/1.1\r\nBad Header Line\r\n\r\n");
  auto bad = malformed.Read();
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->result_int(), 400u);
  EXPECT_EQ((*bad)["X-Content-Type-Options"], "nosniff");
}

TEST_F(ServerTest, AHandlerMayChooseCacheControl) {
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/cached"));
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->count(beast_http::field::cache_control), 1u);
  EXPECT_EQ((*response)[beast_http::field::cache_control], "max-age=60");
}

std::string Options(std::string_view target, std::string_view origin,
                    std::string_view request_method = "GET") {
  std::string headers = fmt::format("Origin: {}\r\n", origin);
  if (!request_method.empty()) {
    headers += fmt::format("Access-Control-Request-Method: {}\r\n", request_method);
  }
  return fmt::format("OPTIONS {} HTTP/1.1\r\nHost: test\r\n{}\r\n", target, headers);
}

TEST_F(ServerTest, CorsIsClosedByDefault) {
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/items/1", "Origin: https://app.example\r\n"));
  auto simple = connection.Read();
  ASSERT_TRUE(simple);
  EXPECT_EQ(simple->result_int(), 200u);
  EXPECT_EQ(simple->count(beast_http::field::access_control_allow_origin), 0u);
  EXPECT_EQ(simple->count(beast_http::field::vary), 0u);
  connection.Write(Options("/items/1", "https://app.example"));
  auto preflight = connection.Read();
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->result_int(), 405u);
  EXPECT_EQ(preflight->count(beast_http::field::access_control_allow_origin), 0u);
  EXPECT_EQ(preflight->count(beast_http::field::access_control_allow_methods), 0u);
}

TEST_F(ServerTest, CorsHeadersOnlyForAnAllowedOrigin) {
  ServerOptions options;
  options.cors_allowed_origins = {"https://app.example/", "https://other.example"};
  StartServer(options);
  RawConnection connection(Port());
  connection.Write(Get("/items/1", "Origin: https://app.example\r\n") +
                   Get("/nothing", "Origin: https://app.example\r\n") +
                   Get("/items/1", "Origin: https://evil.example\r\n") + Get("/items/1"));
  for (unsigned status : {200u, 404u}) {  // errors are readable by the page too
    auto allowed = connection.Read();
    ASSERT_TRUE(allowed);
    EXPECT_EQ(allowed->result_int(), status);
    EXPECT_EQ((*allowed)[beast_http::field::access_control_allow_origin], "https://app.example");
    EXPECT_EQ((*allowed)[beast_http::field::vary], "Origin");
    EXPECT_EQ((*allowed)[beast_http::field::access_control_expose_headers],
              "Fiware-Correlator, Fiware-Total-Count, X-Request-Id, Location");
  }
  for (int i = 0; i < 2; ++i) {  // another origin, then no Origin at all
    auto other = connection.Read();
    ASSERT_TRUE(other);
    EXPECT_EQ(other->result_int(), 200u);
    EXPECT_EQ(other->count(beast_http::field::access_control_allow_origin), 0u);
    EXPECT_EQ(other->count(beast_http::field::vary), 0u);
    EXPECT_EQ(other->count(beast_http::field::access_control_expose_headers), 0u);
  }
}

TEST_F(ServerTest, CorsPreflightIsAnsweredBeforeAuthorization) {
  authorizer_ = TestAuthorizer;
  router_.Add({Verb::delete_, "/secret", "admin",
               [](RequestContext&, Respond respond) { respond(Response::Empty(204)); }});
  ServerOptions options;
  options.cors_allowed_origins = {"https://app.example"};
  StartServer(options);
  RawConnection connection(Port());
  connection.Write(Options("/secret", "https://app.example", "DELETE"));
  auto preflight = connection.Read();
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->result_int(), 204u);  // no credentials, yet not 401
  EXPECT_EQ((*preflight)[beast_http::field::access_control_allow_origin], "https://app.example");
  EXPECT_EQ((*preflight)[beast_http::field::access_control_allow_methods], "DELETE, GET, HEAD");
  EXPECT_EQ((*preflight)[beast_http::field::access_control_allow_headers],
            "Authorization, X-Auth-Token, Content-Type, Fiware-Service, Fiware-ServicePath, "
            "Fiware-Correlator, X-Request-Id");
  EXPECT_EQ((*preflight)[beast_http::field::access_control_max_age], "600");
  EXPECT_TRUE(preflight->body().empty());
}

TEST_F(ServerTest, CorsPreflightsThatDoNotQualifyGetTheNormalResponse) {
  ServerOptions options;
  options.cors_allowed_origins = {"https://app.example"};
  StartServer(options);
  RawConnection connection(Port());
  connection.Write(Options("/items/1", "https://evil.example"));
  auto disallowed = connection.Read();
  ASSERT_TRUE(disallowed);
  EXPECT_EQ(disallowed->result_int(), 405u);
  EXPECT_EQ(disallowed->count(beast_http::field::access_control_allow_origin), 0u);
  EXPECT_EQ(disallowed->count(beast_http::field::access_control_allow_methods), 0u);
  connection.Write(Options("/nothing", "https://app.example"));
  auto no_route = connection.Read();
  ASSERT_TRUE(no_route);
  EXPECT_EQ(no_route->result_int(), 404u);
  EXPECT_EQ(no_route->count(beast_http::field::access_control_allow_methods), 0u);
  connection.Write(Options("/items/1", "https://app.example", ""));  // a plain OPTIONS
  auto plain = connection.Read();
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->result_int(), 405u);
  EXPECT_EQ((*plain)[beast_http::field::access_control_allow_origin], "https://app.example");
}

TEST_F(ServerTest, CorsStarAllowsAnyOriginButNull) {
  ServerOptions options;
  options.cors_allowed_origins = {"*"};
  StartServer(options);
  RawConnection connection(Port());
  connection.Write(Get("/items/1", "Origin: https://anywhere.example\r\n") +
                   Get("/items/1", "Origin: null\r\n"));
  auto any = connection.Read();
  ASSERT_TRUE(any);
  EXPECT_EQ((*any)[beast_http::field::access_control_allow_origin], "https://anywhere.example");
  auto null_origin = connection.Read();
  ASSERT_TRUE(null_origin);
  EXPECT_EQ(null_origin->count(beast_http::field::access_control_allow_origin), 0u);
}

TEST_F(ServerTest, ObserverSeesEveryRoutedRequestWithStatusAndIdentity) {
  authorizer_ = TestAuthorizer;
  std::mutex mu;
  std::vector<std::string> seen;  // guarded by mu
  observer_ = [&](const RequestContext& ctx, const Route* route, unsigned status) {
    std::lock_guard lock(mu);
    seen.push_back(
        fmt::format("{} {} {} {}", ctx.path, route->pattern, status, ctx.identity.subject));
  };
  ServerOptions options;
  options.cors_allowed_origins = {"*"};
  StartServer(options);
  RawConnection connection(Port());
  connection.Write(Get("/items/7") + Get("/nothing") + Options("/items/7", "https://a.example") +
                   "DELETE /items/1 HTTP/1.1\r\nHost: t\r\n\r\n" + Get("/secret") +
                   Get("/secret", "Authorization: Bearer limited\r\n") +
                   Get("/secret", "Authorization: Bearer x\r\n") +
                   Get("/secret", "Authorization: Bearer admin\r\n") + Get("/throws"));
  // The observer runs before each response is written: all are seen once all are read.
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(connection.Read()) << i;
  StopServer();
  const std::vector<std::string> expected = {
      "/items/7 /items/{id} 200 anonymous", "/secret /secret 401 anonymous",
      "/secret /secret 429 anonymous",      "/secret /secret 403 anonymous",
      "/secret /secret 204 alice",          "/throws /throws 500 anonymous"};
  EXPECT_EQ(seen, expected);
}

TEST_F(ServerTest, AThrowingObserverDoesNotBreakTheResponse) {
  observer_ = [](const RequestContext&, const Route*, unsigned) {
    throw std::runtime_error("audit down");
  };
  StartServer();
  RawConnection connection(Port());
  connection.Write(Get("/items/1"));
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
}

TEST(ServerListen, FailsOnAPortInUse) {
  Router router;
  metrics::Registry registry;
  Server first(ServerOptions{.port = 0}, router, registry);
  ASSERT_TRUE(first.Listen());
  Server second(ServerOptions{.port = first.Port()}, router, registry);
  auto status = second.Listen();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace zc::http
