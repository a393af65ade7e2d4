// HTTPS tests: a self-signed certificate made in the test (test_certificate.h), a Beast TLS client
// that verifies it (chain and host name), plain HTTP sent to the TLS port, the handshake timeout,
// and Listen() errors for TLS files that cannot be used. Every wait is bounded by the client
// stream's timeout (kDeadline).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include <unistd.h>

#include "http/server.h"
#include "http/test_certificate.h"

namespace zc::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using RawResponse = beast_http::response<beast_http::string_body>;
using namespace std::chrono_literals;

constexpr auto kDeadline = 5s;  // upper bound for anything a test waits on

using testing::MakeSelfSigned;
using testing::PemPair;

ssl::context ClientContext(const std::string& trusted_pem) {
  ssl::context context(ssl::context::tls_client);
  if (!trusted_pem.empty()) context.add_certificate_authority(asio::buffer(trusted_pem));
  context.set_verify_mode(ssl::verify_peer);
  return context;
}

// A TLS client verifying the server against `trusted_pem` for the name "localhost".
class TlsClient {
 public:
  TlsClient(uint16_t port, const std::string& trusted_pem)
      : context_(ClientContext(trusted_pem)), stream_(io_, context_) {
    stream_.set_verify_callback(ssl::host_name_verification("localhost"));
    SSL_set_tlsext_host_name(stream_.native_handle(), "localhost");
    Transport().expires_after(kDeadline);
    Transport().connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port});
  }
  beast::error_code Handshake() {
    beast::error_code result;
    Transport().expires_after(kDeadline);
    stream_.async_handshake(ssl::stream_base::client, [&](beast::error_code ec) { result = ec; });
    Run();
    return result;
  }
  std::optional<RawResponse> Get(std::string target) {
    beast_http::request<beast_http::empty_body> request{beast_http::verb::get, target, 11};
    request.set(beast_http::field::host, "localhost");
    beast::error_code result;
    RawResponse response;
    Transport().expires_after(kDeadline);
    beast_http::async_write(stream_, request, [&](beast::error_code ec, size_t) {
      if (ec) result = ec;
      if (!ec) {
        beast_http::async_read(stream_, buffer_, response, [&](auto e, size_t) { result = e; });
      }
    });
    Run();
    if (result) return std::nullopt;
    return response;
  }

 private:
  beast::tcp_stream& Transport() { return beast::get_lowest_layer(stream_); }
  void Run() {
    io_.restart();
    io_.run();  // every operation is bounded by the stream's timeout
  }
  asio::io_context io_;
  ssl::context context_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

class TlsTest : public ::testing::Test {
 protected:
  TlsTest() {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("zc-tls-test-{}-{}", ::getpid(), reinterpret_cast<uintptr_t>(this));
    std::filesystem::create_directories(dir_);
    pem_ = MakeSelfSigned();
    cert_file_ = WriteFile("cert.pem", pem_.certificate);
    key_file_ = WriteFile("key.pem", pem_.key);
    router_.Add({Verb::get, "/hello", "", [](RequestContext& ctx, Respond respond) {
                   respond(Response::Text(200, "hello " + ctx.client_address));
                 }});
  }
  ~TlsTest() override {
    StopServer();
    std::filesystem::remove_all(dir_);
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << content;
    return path;
  }
  ServerOptions TlsOptions() const {
    ServerOptions options{.port = 0, .threads = 2};
    options.tls_cert_file = cert_file_;
    options.tls_key_file = key_file_;
    return options;
  }
  void StartServer(ServerOptions options) {
    server_ = std::make_unique<Server>(std::move(options), router_, registry_);
    ASSERT_TRUE(server_->Listen());
    run_thread_ = std::thread([this] { server_->Run(); });
  }
  void StopServer() {
    if (!server_) return;
    server_->Stop();
    run_thread_.join();
    server_.reset();
  }
  Status ListenWith(std::string cert, std::string key) {
    ServerOptions options{.port = 0};
    options.tls_cert_file = std::move(cert);
    options.tls_key_file = std::move(key);
    Server server(std::move(options), router_, registry_);
    return server.Listen();
  }

  std::filesystem::path dir_;
  PemPair pem_;
  std::string cert_file_, key_file_;
  Router router_;
  metrics::Registry registry_;
  std::unique_ptr<Server> server_;
  std::thread run_thread_;
};

TEST_F(TlsTest, AVerifyingClientGetsAnswersOverTls) {
  StartServer(TlsOptions());
  TlsClient client(server_->Port(), pem_.certificate);
  ASSERT_FALSE(client.Handshake());
  for (int i = 0; i < 2; ++i) {  // keep-alive over the same TLS session
    auto response = client.Get("/hello");
    ASSERT_TRUE(response) << i;
    EXPECT_EQ(response->result_int(), 200u);
    EXPECT_TRUE(response->body().starts_with("hello 127.0.0.1:"));
    EXPECT_EQ((*response)[beast_http::field::strict_transport_security], "max-age=31536000");
    EXPECT_EQ((*response)["X-Content-Type-Options"], "nosniff");
  }
  auto missing = client.Get("/missing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->result_int(), 404u);
  EXPECT_EQ((*missing)[beast_http::field::strict_transport_security], "max-age=31536000");
}

TEST_F(TlsTest, AClientThatDoesNotTrustTheCertificateFailsTheHandshake) {
  StartServer(TlsOptions());
  TlsClient stranger(server_->Port(), MakeSelfSigned().certificate);  // trusts another one
  EXPECT_TRUE(stranger.Handshake());
}

// Reads what the server sends until it closes, or until the deadline.
std::pair<std::string, beast::error_code> ReadUntilClose(beast::tcp_stream& stream,
                                                         asio::io_context& io) {
  std::string received;
  std::array<char, 4096> chunk;
  beast::error_code end;
  std::function<void(beast::error_code, size_t)> on_read = [&](beast::error_code ec, size_t n) {
    received.append(chunk.data(), n);
    if (ec) {
      end = ec;
      return;
    }
    stream.async_read_some(asio::buffer(chunk), on_read);
  };
  stream.expires_after(kDeadline);
  stream.async_read_some(asio::buffer(chunk), on_read);
  io.run();
  return {received, end};
}

TEST_F(TlsTest, PlainHttpToTheTlsPortGetsNoAnswerInClear) {
  StartServer(TlsOptions());
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), server_->Port()});
  const std::string request = "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n";
  stream.socket().write_some(asio::buffer(request));
  auto [received, end] = ReadUntilClose(stream, io);
  EXPECT_NE(end, beast::error::timeout) << "the server should close the connection";
  EXPECT_EQ(received.find("HTTP/"), std::string::npos) << received;
  EXPECT_EQ(received.find("hello"), std::string::npos);
}

TEST_F(TlsTest, TheHandshakeIsBoundedByTheReadTimeout) {
  ServerOptions options = TlsOptions();
  options.read_timeout = 1s;
  StartServer(options);
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), server_->Port()});
  auto [received, end] = ReadUntilClose(stream, io);  // never sends a ClientHello
  EXPECT_NE(end, beast::error::timeout);
  EXPECT_TRUE(received.empty());
}

TEST_F(TlsTest, ListenFailsClearlyWhenTheTlsFilesCannotBeUsed) {
  const auto missing = ListenWith((dir_ / "nope.pem").string(), key_file_);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("certificate"), std::string::npos);
  EXPECT_NE(missing.error().message.find("nope.pem"), std::string::npos);

  const auto bad_key = ListenWith(cert_file_, WriteFile("garbage.pem", "not a key"));
  ASSERT_FALSE(bad_key);
  EXPECT_NE(bad_key.error().message.find("garbage.pem"), std::string::npos);

  const auto other_key = WriteFile("other-key.pem", MakeSelfSigned().key);
  const auto mismatch = ListenWith(cert_file_, other_key);
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().message.find("other-key.pem"), std::string::npos)
      << mismatch.error().message;

  const auto half = ListenWith(cert_file_, "");
  ASSERT_FALSE(half);
  EXPECT_NE(half.error().message.find("both"), std::string::npos);
}

}  // namespace
}  // namespace zc::http
