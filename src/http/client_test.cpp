#include "http/client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <netinet/tcp.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "common/temp_dir.h"
#include "http/server.h"
#include "http/test_certificate.h"

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

// Reads one request's head from `socket` and writes `answer`: a receiver scripted byte by
// byte. Returns the first error (the client may have gone).
boost::system::error_code AnswerRequest(tcp::socket& socket, std::string_view answer) {
  std::string request;
  boost::system::error_code ec;
  asio::read_until(socket, asio::dynamic_buffer(request), "\r\n\r\n", ec);
  if (!ec) asio::write(socket, asio::buffer(answer), ec);
  return ec;
}

// Accepts connections and answers each request with a head announcing 100 bytes, of which
// it sends 3 and holds the rest back until it is destroyed.
class StallingServer {
 public:
  StallingServer() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~StallingServer() {
    stopping_ = true;
    tcp::socket wake(io_);  // a connection of its own ends the blocked accept
    boost::system::error_code ignored;
    wake.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }
  std::string Url() const {
    return fmt::format("http://127.0.0.1:{}/n", acceptor_.local_endpoint().port());
  }
  int Connections() const { return connections_; }

 private:
  void Serve() {
    std::vector<tcp::socket> held;  // closed when the server stops
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = acceptor_.accept(ec);
      if (ec || stopping_) return;
      ++connections_;
      AnswerRequest(socket, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
      held.push_back(std::move(socket));
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// A real server on port 0 whose /peer route answers with the caller's address; over TLS
// with `tls`'s certificate and key when given.
class EchoServer {
 public:
  explicit EchoServer(const testing::PemPair* tls = nullptr) {
    router_.Add({Verb::post, "/peer", "", [](RequestContext& ctx, Respond respond) {
                   respond(Response::Text(200, ctx.client_address + " " + ctx.Body() + " " +
                                                   std::string(ctx.Header("X-Test"))));
                 }});
    router_.Add({Verb::get, "/peer", "", [](RequestContext& ctx, Respond respond) {
                   respond(Response::Text(200, ctx.client_address + " got"));
                 }});
    ServerOptions options{.port = 0, .threads = 1, .access_log = false};
    if (tls != nullptr) {
      options.tls_cert_file = WriteFile(dir_, "cert.pem", tls->certificate);
      options.tls_key_file = WriteFile(dir_, "key.pem", tls->key);
      scheme_ = "https";
    }
    server_ = std::make_unique<Server>(std::move(options), router_, registry_);
    EXPECT_TRUE(server_->Listen());
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~EchoServer() {
    server_->Stop();
    thread_.join();
  }
  std::string Url(std::string_view path, std::string_view host = "127.0.0.1") const {
    return fmt::format("{}://{}:{}{}", scheme_, host, server_->Port(), path);
  }
  static std::string WriteFile(const TempDir& dir, const char* name, const std::string& text) {
    const std::string path = (dir.path() / name).string();
    std::ofstream(path) << text;
    return path;
  }

 private:
  TempDir dir_{"zc-client-test"};
  std::string scheme_ = "http";
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

// The answer to HEAD announces the length of a body it does not carry.
TEST(Client, ReadsTheAnswerToHeadWithoutWaitingForABody) {
  EchoServer server;
  Client client;
  auto head = SendAndWait(client, {.method = "HEAD", .url = server.Url("/peer")});
  ASSERT_TRUE(head) << head.error().message;
  EXPECT_EQ(head->status, 200u);
  EXPECT_EQ(head->body, "");
  auto next = SendAndWait(client, {.method = "GET", .url = server.Url("/peer")});
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_TRUE(next->body.ends_with(" got")) << next->body;
}

TEST(Client, ReportsHttpErrorStatusesAsResponses) {
  EchoServer server;
  Client client;
  auto result = SendAndWait(client, {.method = "GET", .url = server.Url("/missing")});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 404u);
}

TEST(Client, ConnectsOnlyInsideTheAllowedNetworks) {
  EchoServer server;
  Client elsewhere({.allowed_networks = *NetworkList::Parse({"10.0.0.0/8", "fd00::/8"})});
  auto refused = SendAndWait(elsewhere, {.url = server.Url("/peer"), .body = "x"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kForbidden);
  EXPECT_EQ(refused.error().message, "127.0.0.1 (127.0.0.1) is outside the allowed networks");
  Client local({.allowed_networks = *NetworkList::Parse({"127.0.0.0/8"})});
  for (const char* host : {"127.0.0.1", "localhost"}) {
    auto result = SendAndWait(local, {.url = server.Url("/peer", host), .body = "x"});
    ASSERT_TRUE(result) << host << ": " << result.error().message;
    EXPECT_EQ(result->status, 200u);
  }
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
  EXPECT_EQ(result.error().message, "no response from " + silent.Url() + " within 300 ms");
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 3s);
}

// A receiver that sends its head and part of the body, then closes the connection: an error
// for a caller that needs the body, the status for one that does not.
TEST(Client, ABodyBrokenOffAnswersWithItsStatusOnlyWhenTheStatusSuffices) {
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::thread server([&] {
    for (int i = 0; i < 2; ++i) {
      tcp::socket socket = acceptor.accept();
      AnswerRequest(socket, "HTTP/1.1 503 Busy\r\nContent-Length: 100\r\n\r\nab");
    }  // closed after 2 of the 100 bytes
  });
  const std::string url = fmt::format("http://127.0.0.1:{}/n", acceptor.local_endpoint().port());
  Client client;
  auto needed = SendAndWait(client, {.url = url, .body = "{}"});
  auto suffices = SendAndWait(client, {.url = url, .body = "{}", .status_suffices = true});
  server.join();
  ASSERT_FALSE(needed);
  EXPECT_EQ(needed.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(needed.error().message.rfind("read failed: ", 0), 0u) << needed.error().message;
  ASSERT_TRUE(suffices) << suffices.error().message;
  EXPECT_EQ(suffices->status, 503u);
  EXPECT_EQ(suffices->body, "");
}

// The reason for a timeout says how far the exchange got: a receiver that takes the
// connection but not the request, and one that sends its head and then stalls.
TEST(Client, ATimeoutSaysHowFarTheExchangeGot) {
  SilentServer silent;  // the kernel accepts; nobody reads: 32 MiB cannot all be buffered
  Client client;
  auto unread = SendAndWait(
      client, {.url = silent.Url(), .body = std::string(size_t{32} << 20, 'x'), .timeout = 300ms});
  ASSERT_FALSE(unread);
  EXPECT_EQ(unread.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(unread.error().message,
            "the request to " + silent.Url() + " was not taken within 300 ms");

  StallingServer stalling;
  auto stalled = SendAndWait(client, {.url = stalling.Url(), .body = "{}", .timeout = 300ms});
  ASSERT_FALSE(stalled);
  EXPECT_EQ(stalled.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(stalled.error().message,
            "the response from " + stalling.Url() + " (status 200) was not complete within 300 ms");
}

// With status_suffices the head answers: the stalled body neither fails the request nor
// keeps the connection (the next request opens another).
TEST(Client, WhenTheStatusSufficesAStalledBodyStillAnswers) {
  StallingServer stalling;
  Client client;
  for (int i = 0; i < 2; ++i) {
    auto result = SendAndWait(
        client, {.url = stalling.Url(), .body = "{}", .timeout = 300ms, .status_suffices = true});
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->status, 200u);
    EXPECT_EQ(result->body, "");
  }
  EXPECT_EQ(stalling.Connections(), 2);
}

TEST(Client, BadUrlsAreBadRequest) {
  Client client;
  for (std::string url : {"not a url", "mailto:ops@example.org", "ftp://x/", "http:///path", ""}) {
    auto result = SendAndWait(client, {.url = url});
    ASSERT_FALSE(result) << url;
    EXPECT_EQ(result.error().code, ErrorCode::kBadRequest) << url;
  }
  auto bad_method = SendAndWait(client, {.method = "FETCH!", .url = "http://127.0.0.1:1/"});
  ASSERT_FALSE(bad_method);
  EXPECT_EQ(bad_method.error().code, ErrorCode::kBadRequest);
}

TEST(Client, HeaderFieldsThatWouldSplitTheRequestAreRefused) {
  Client client;
  const std::vector<std::pair<std::string, std::string>> bad[] = {
      {{"X-A", "a\r\nX-Injected: 1"}},
      {{"X-A", std::string("nul\0byte", 8)}},
      {{"X A", "1"}},
      {{"X-A:", "1"}},
      {{"", "1"}}};
  for (const auto& headers : bad) {
    auto result = SendAndWait(client, {.url = "http://127.0.0.1:1/", .headers = headers});
    ASSERT_FALSE(result) << headers.front().first;
    EXPECT_EQ(result.error().code, ErrorCode::kBadRequest) << headers.front().first;
  }
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
      AnswerRequest(socket, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
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

// Waits (bounded) until the peer has acknowledged the FIN that `socket` sent after its last
// bytes: from then on those bytes are in the peer's receive queue.
bool WaitUntilFinAcknowledged(tcp::socket& socket) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    tcp_info info{};
    socklen_t size = sizeof info;
    if (getsockopt(socket.native_handle(), IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return false;
    if (info.tcpi_state == TCP_FIN_WAIT2 || info.tcpi_state == TCP_TIME_WAIT) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

TEST(Client, DoesNotReuseAnIdleConnectionOnWhichTheServerSpoke) {
  // The receiver answers the first request; while that connection idles in the pool it
  // sends an unasked 408 and closes, as some servers and proxies do on their idle timeout.
  // The second request must not take that 408 for its answer: it goes out on a new
  // connection.
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::promise<void> first_answered;
  std::promise<bool> spoke;
  std::thread server([&] {
    boost::system::error_code ec;
    tcp::socket first = acceptor.accept();
    AnswerRequest(first, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
    first_answered.get_future().wait_for(kDeadline);
    asio::write(
        first,
        asio::buffer(std::string_view("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                                      "Content-Length: 0\r\n\r\n")),
        ec);
    first.shutdown(tcp::socket::shutdown_send, ec);
    spoke.set_value(WaitUntilFinAcknowledged(first));
    tcp::socket second = acceptor.accept(ec);
    if (!ec) AnswerRequest(second, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond");
  });
  const tcp::endpoint endpoint = acceptor.local_endpoint();
  const std::string url = fmt::format("http://127.0.0.1:{}/", endpoint.port());
  Client client;
  auto first = SendAndWait(client, {.method = "GET", .url = url});
  first_answered.set_value();
  auto delivered = spoke.get_future();
  ASSERT_EQ(delivered.wait_for(kDeadline), std::future_status::ready);
  EXPECT_TRUE(delivered.get());
  auto second = SendAndWait(client, {.method = "GET", .url = url});
  if (!second || second->body != "second") {  // the server still waits for a connection
    tcp::socket unblock(io);
    boost::system::error_code ignored;
    unblock.connect(endpoint, ignored);
  }
  server.join();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->body, "first");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->status, 200u);
  EXPECT_EQ(second->body, "second");
}

TEST(Client, SkipsInterimResponsesAndKeepsTheConnection) {
  // One connection: each answer starts with a 1xx, which is not the answer.
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::thread server([&] {
    tcp::socket socket = acceptor.accept();
    for (std::string_view answer :
         {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none",
          "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
          "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\ntwo"}) {
      std::string request;
      boost::system::error_code ec;
      asio::read_until(socket, asio::dynamic_buffer(request), "\r\n\r\n", ec);
      if (ec) return;  // the client closed the connection
      asio::write(socket, asio::buffer(answer), ec);
    }
  });
  const std::string url = fmt::format("http://127.0.0.1:{}/", acceptor.local_endpoint().port());
  Result<OutboundResponse> first = Fail(Error::Internal("not sent"));
  Result<OutboundResponse> second = first;
  {
    Client client;
    first = SendAndWait(client, {.method = "GET", .url = url});
    second = SendAndWait(client, {.method = "GET", .url = url});
  }  // closes the pooled connection, which ends the server's read
  server.join();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->status, 200u);
  EXPECT_EQ(first->body, "one");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->status, 201u);
  EXPECT_EQ(second->body, "two");
}

// A receiver that announces, or sends, a body longer than max_response_body_bytes: its
// status is the answer, the body is neither waited for nor kept, and the connection is not
// used again (the next request opens another).
TEST(Client, ALongResponseBodyIsNotReadButItsStatusCounts) {
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::string chunked = "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 64; ++i) chunked += "400\r\n" + std::string(1024, 'c') + "\r\n";
  chunked += "0\r\n\r\n";
  std::thread server([&] {
    // 10 MB announced, 5 bytes sent, the connection kept open: a client that waited for the
    // body would time out.
    const std::string announced = "HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\nhello";
    for (const std::string* answer : {&announced, static_cast<const std::string*>(&chunked)}) {
      tcp::socket socket = acceptor.accept();
      boost::system::error_code ec = AnswerRequest(socket, *answer);
      char sink[4096];
      while (!ec) socket.read_some(asio::buffer(sink), ec);  // until the client closes
    }
  });
  const std::string url = fmt::format("http://127.0.0.1:{}/", acceptor.local_endpoint().port());
  Result<OutboundResponse> announced = Fail(Error::Internal("not sent"));
  Result<OutboundResponse> sent = announced;
  {
    Client client({.max_response_body_bytes = 4096});
    announced =
        SendAndWait(client, {.method = "GET", .url = url, .timeout = std::chrono::seconds(30)});
    sent = SendAndWait(client, {.method = "GET", .url = url, .timeout = std::chrono::seconds(30)});
  }
  server.join();
  ASSERT_TRUE(announced) << announced.error().message;
  EXPECT_EQ(announced->status, 200u);
  EXPECT_EQ(announced->body.size(), 0u);
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->status, 202u);
  EXPECT_EQ(sent->body.size(), 0u);
}

// HTTPS: the receiver's certificate is self-signed for localhost and 127.0.0.1 unless a
// test says otherwise; the client trusts it through `ca_file`.
class ClientTlsTest : public ::testing::Test {
 protected:
  std::string TrustFile(const testing::PemPair& pem) {
    return EchoServer::WriteFile(dir_, "trusted.pem", pem.certificate);
  }
  TempDir dir_{"zc-client-tls"};
  testing::PemPair pem_ = testing::MakeSelfSigned();
};

TEST_F(ClientTlsTest, PostsOverTlsToAReceiverSignedByTheCaFile) {
  EchoServer server(&pem_);
  Client client(ClientOptions{.ca_file = TrustFile(pem_)});
  std::set<std::string> peers;
  for (std::string_view host : {"127.0.0.1", "localhost", "127.0.0.1"}) {
    auto result = SendAndWait(
        client, {.url = server.Url("/peer", host), .headers = {{"X-Test", "tls"}}, .body = "hi"});
    ASSERT_TRUE(result) << host << ": " << result.error().message;
    EXPECT_EQ(result->status, 200u);
    EXPECT_TRUE(result->body.ends_with(" hi tls")) << result->body;
    if (host == "127.0.0.1") peers.insert(result->body.substr(0, result->body.find(' ')));
  }
  EXPECT_EQ(peers.size(), 1u);  // the first connection was kept alive and reused
}

TEST_F(ClientTlsTest, RefusesACertificateItDoesNotTrust) {
  EchoServer server(&pem_);
  Client client;  // the system's trust store only
  auto result = SendAndWait(client, {.url = server.Url("/peer"), .body = "x"});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(result.error().message.find("certificate verify failed"), std::string::npos)
      << result.error().message;
}

TEST_F(ClientTlsTest, RefusesACertificateThatNamesAnotherHost) {
  const testing::PemPair other =
      testing::MakeSelfSigned("receiver.example", "DNS:receiver.example");
  EchoServer server(&other);
  Client client(ClientOptions{.ca_file = TrustFile(other)});
  for (std::string_view host : {"127.0.0.1", "localhost"}) {
    auto result = SendAndWait(client, {.url = server.Url("/peer", host), .body = "x"});
    ASSERT_FALSE(result) << host;
    EXPECT_NE(result.error().message.find("mismatch"), std::string::npos) << result.error().message;
  }
}

TEST_F(ClientTlsTest, AcceptsAnyCertificateWhenVerificationIsOff) {
  EchoServer server(&pem_);
  Client client(ClientOptions{.verify_certificates = false});
  auto result = SendAndWait(client, {.url = server.Url("/peer"), .body = "x"});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 200u);
}

TEST_F(ClientTlsTest, AnHttpsUrlToAPlainHttpReceiverFailsItsHandshake) {
  EchoServer plain;
  Client client(ClientOptions{.ca_file = TrustFile(pem_)});
  std::string url = plain.Url("/peer");
  url.replace(0, 4, "https");
  auto result = SendAndWait(client, {.url = url, .body = "x", .timeout = 3s});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(result.error().message.find("TLS handshake with 127.0.0.1:"), std::string::npos)
      << result.error().message;
}

TEST_F(ClientTlsTest, CheckClientOptionsLoadsTheCaFile) {
  EXPECT_TRUE(CheckClientOptions({}));
  EXPECT_TRUE(CheckClientOptions({.ca_file = TrustFile(pem_)}));
  const std::string missing = (dir_.path() / "missing.pem").string();
  auto absent = CheckClientOptions({.ca_file = missing});
  ASSERT_FALSE(absent);
  EXPECT_NE(absent.error().message.find(missing), std::string::npos) << absent.error().message;
  const std::string garbage = EchoServer::WriteFile(dir_, "garbage.pem", "not a certificate\n");
  EXPECT_FALSE(CheckClientOptions({.ca_file = garbage}));
  // A client built with a CA file it cannot load fails https:// calls with that reason.
  Client client(ClientOptions{.ca_file = garbage});
  auto result = SendAndWait(client, {.url = "https://127.0.0.1:1/"});
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find(garbage), std::string::npos) << result.error().message;
}

}  // namespace
}  // namespace zc::http
