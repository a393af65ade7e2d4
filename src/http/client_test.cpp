#include "http/client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <future>
#include <set>
#include <thread>

#include "http/server.h"

namespace zc::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kDeadline = 5s;

// Sends one request and waits (bounded) for its callback.
Result<OutboundResponse> SendAndWait(Client& client, OutboundRequest request) {
  auto done = std::make_shared<std::promise<Result<OutboundResponse>>>();
  auto future = done->get_future();
  client.Send(std::move(request),
              [done](Result<OutboundResponse> r) { done->set_value(std::move(r)); });
  if (future.wait_for(kDeadline) != std::future_status::ready) {
    return Fail(Error::Internal("test: no callback within the deadline"));
  }
  return future.get();
}

// A listening socket that never accepts: connections complete in the kernel's backlog,
// requests are never read and never answered.
class SilentServer {
 public:
  SilentServer() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {}
  std::string Url() const {
    return fmt::format("http://127.0.0.1:{}/notify", acceptor_.local_endpoint().port());
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
};

// A real server on port 0 whose /peer route answers with the caller's address.
class EchoServer {
 public:
  EchoServer() {
    router_.Add({Verb::post, "/peer", "", [](RequestContext& ctx, Respond respond) {
                   respond(Response::Text(200, ctx.client_address + " " + ctx.Body() + " " +
                                                   std::string(ctx.Header("X-Test"))));
                 }});
    server_ = std::make_unique<Server>(ServerOptions{.port = 0, .threads = 1, .access_log = false},
                                       router_, registry_);
    EXPECT_TRUE(server_->Listen());
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~EchoServer() {
    server_->Stop();
    thread_.join();
  }
  std::string Url(std::string_view path) const {
    return fmt::format("http://127.0.0.1:{}{}", server_->Port(), path);
  }

 private:
  Router router_;
  metrics::Registry registry_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST(Client, PostsAndReadsTheResponse) {
  EchoServer server;
  Client client;
  auto result = SendAndWait(
      client, {.url = server.Url("/peer"), .headers = {{"X-Test", "yes"}}, .body = "hello"});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 200u);
  EXPECT_TRUE(result->body.ends_with(" hello yes")) << result->body;
}

TEST(Client, ReusesKeepAliveConnections) {
  EchoServer server;
  Client client;
  std::set<std::string> peers;
  for (int i = 0; i < 3; ++i) {
    auto result = SendAndWait(client, {.url = server.Url("/peer"), .body = "x"});
    ASSERT_TRUE(result);
    peers.insert(result->body.substr(0, result->body.find(' ')));
  }
  EXPECT_EQ(peers.size(), 1u);  // one client address: one connection
}

TEST(Client, ReportsHttpErrorStatusesAsResponses) {
  EchoServer server;
  Client client;
  auto result = SendAndWait(client, {.method = "GET", .url = server.Url("/missing")});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 404u);
}

TEST(Client, ConnectionRefusedIsUnavailable) {
  uint16_t closed_port;
  {
    asio::io_context io;
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    closed_port = acceptor.local_endpoint().port();
  }
  Client client;
  auto result = SendAndWait(client, {.url = fmt::format("http://127.0.0.1:{}/", closed_port)});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
}

TEST(Client, SilentServerTimesOutWithUnavailable) {
  SilentServer silent;
  Client client;
  const auto before = std::chrono::steady_clock::now();
  auto result = SendAndWait(client, {.url = silent.Url(), .body = "{}", .timeout = 300ms});
  const auto elapsed = std::chrono::steady_clock::now() - before;
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 3s);
}

TEST(Client, BadUrlsAreBadRequest) {
  Client client;
  for (std::string url : {"not a url", "https://example.org/", "ftp://x/", "http:///path", ""}) {
    auto result = SendAndWait(client, {.url = url});
    ASSERT_FALSE(result) << url;
    EXPECT_EQ(result.error().code, ErrorCode::kBadRequest) << url;
  }
  auto bad_method = SendAndWait(client, {.method = "FETCH!", .url = "http://127.0.0.1:1/"});
  ASSERT_FALSE(bad_method);
  EXPECT_EQ(bad_method.error().code, ErrorCode::kBadRequest);
}

TEST(Client, RequestsOverMaxInFlightFailAtOnce) {
  SilentServer silent;
  std::promise<Result<OutboundResponse>> first, second;
  {
    Client client(ClientOptions{.max_in_flight = 1});
    client.Send({.url = silent.Url(), .timeout = 60s},
                [&](Result<OutboundResponse> r) { first.set_value(std::move(r)); });
    client.Send({.url = silent.Url(), .timeout = 60s},
                [&](Result<OutboundResponse> r) { second.set_value(std::move(r)); });
    auto rejected = second.get_future();
    ASSERT_EQ(rejected.wait_for(kDeadline), std::future_status::ready);
    auto result = rejected.get();
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  }
  // The destructor failed the pending request instead of waiting for its 60 s timeout.
  auto pending = first.get_future();
  ASSERT_EQ(pending.wait_for(0s), std::future_status::ready);
  auto result = pending.get();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
}

TEST(Client, RetriesOnceWhenTheIdleConnectionWentStale) {
  // Each connection answers one request with a keep-alive response, then closes: the
  // second request finds a stale pooled socket and must retry on a new connection.
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::thread server([&] {
    for (int i = 0; i < 2; ++i) {
      tcp::socket socket = acceptor.accept();
      std::string request;
      asio::read_until(socket, asio::dynamic_buffer(request), "\r\n\r\n");
      asio::write(socket,
                  asio::buffer(std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")));
    }
  });
  Client client;
  const std::string url = fmt::format("http://127.0.0.1:{}/", acceptor.local_endpoint().port());
  for (int i = 0; i < 2; ++i) {
    auto result = SendAndWait(client, {.method = "GET", .url = url});
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->body, "ok");
  }
  server.join();
}

}  // namespace
}  // namespace zc::http
