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
  explicit RawConnection(uint16_t port) : socket_(io_) {
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
  }
  ~ServerTest() override { StopServer(); }

  // Access logging stays on (the default) so that its code path runs in every test.
  void StartServer(ServerOptions options = {}) {
    options.port = 0;
    options.threads = 2;
    server_ = std::make_unique<Server>(options, router_, registry_);
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

TEST_F(ServerTest, DecodesPathAndQueryForTheHandler) {
  StartServer();
  RawConnection connection(Port());
  const std::string body = "hello";
  connection.Write(fmt::format(
      "POST /echo?q=temperature>+20%3B HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{}",
      body.size(), body));
  auto response = connection.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 201u);
  EXPECT_EQ(response->body(), "hello");
  EXPECT_EQ((*response)["X-Query"], "temperature>+20;");
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
  EXPECT_EQ((*response)[beast_http::field::allow], "GET");
  EXPECT_EQ(boost::json::parse(response->body()).at("error"), "MethodNotAllowed");
}

TEST_F(ServerTest, OversizedBodyIs413InTheFormatOfThePathThenClose) {
  router_.SetErrorFormatter("/echo", [](const Error& e) {
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

TEST_F(ServerTest, AuthorizerDenialIsRenderedError) {
  StartServer();
  server_->Stop();  // the authorizer must be set before Run: restart with one
  run_thread_.join();
  server_ = std::make_unique<Server>(ServerOptions{.port = 0, .threads = 1}, router_, registry_);
  server_->SetAuthorizer([](const RequestContext& ctx, const Route& route) -> Result<Identity> {
    if (route.permission.empty()) return Identity{};
    if (!ctx.HasHeader("Authorization")) return Fail(Error::Unauthorized("token required"));
    return Fail(Error::Forbidden("permission " + route.permission + " missing"));
  });
  ASSERT_TRUE(server_->Listen());
  run_thread_ = std::thread([this] { server_->Run(); });

  RawConnection connection(Port());
  connection.Write(Get("/secret"));
  auto anonymous = connection.Read();
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->result_int(), 401u);
  EXPECT_EQ(boost::json::parse(anonymous->body()).at("error"), "Unauthorized");
  connection.Write(Get("/secret", "Authorization: Bearer x\r\n"));
  auto forbidden = connection.Read();
  ASSERT_TRUE(forbidden);
  EXPECT_EQ(forbidden->result_int(), 403u);
  connection.Write(Get("/items/public"));
  auto allowed = connection.Read();
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->result_int(), 200u);
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
