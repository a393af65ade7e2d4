// HttpNotifier against a real local HTTP server (http::Server on port 0): the receiver
// sees the method, path, headers and body; transport failures are retried and reported.
#include "api/ngsi/notifier.h"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include "http/server.h"

namespace zc::api::ngsi {
namespace {

// The value of `f` once it is ready, or a failure of the test (an exception gtest reports)
// when it is not within 10 s: no test waits unbounded for a notifier.
template <typename T>
T Within(std::future<T> f) {
  if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    throw std::runtime_error("no result within 10 s");
  }
  return f.get();
}

struct Received {
  std::string method;
  std::string target;
  std::string correlator;
  std::string service;
  std::string service_path;
  std::string attrs_format;
  std::string content_type;
  std::string body;
};

class NotifierTest : public ::testing::Test {
 protected:
  NotifierTest() {
    router_.Add({http::Verb::post, "/notify", "",
                 [this](http::RequestContext& ctx, const http::Respond& respond) {
                   Received r{std::string(ctx.raw.method_string()),
                              std::string(ctx.raw.target()),
                              std::string(ctx.Header("Fiware-Correlator")),
                              std::string(ctx.Header("Fiware-Service")),
                              std::string(ctx.Header("Fiware-ServicePath")),
                              std::string(ctx.Header("Ngsiv2-AttrsFormat")),
                              std::string(ctx.Header("Content-Type")),
                              ctx.Body()};
                   received_.set_value(std::move(r));
                   respond(http::Response::Empty(204));
                 }});
    // Counts the requests it is handling at once (most_burst_: the most seen).
    router_.Add({http::Verb::post, "/burst", "",
                 [this](http::RequestContext&, const http::Respond& respond) {
                   const int now = ++active_burst_;
                   int seen = most_burst_.load();
                   while (now > seen && !most_burst_.compare_exchange_weak(seen, now)) {
                   }
                   --active_burst_;
                   respond(http::Response::Empty(204));
                 }});
    http::ServerOptions options;
    options.port = 0;
    options.threads = 1;
    options.access_log = false;
    server_ = std::make_unique<http::Server>(options, router_, metrics_);
    EXPECT_TRUE(server_->Listen());
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~NotifierTest() override {
    server_->Stop();
    thread_.join();
  }

  context::NotificationResult SendAndWait(HttpNotifier& notifier,
                                          context::NotificationRequest request) {
    std::promise<context::NotificationResult> done;
    notifier.Send(std::move(request),
                  [&](context::NotificationResult r) { done.set_value(std::move(r)); });
    return Within(done.get_future());
  }

  metrics::Registry metrics_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  std::promise<Received> received_;
  std::atomic<int> active_burst_ = 0;
  std::atomic<int> most_burst_ = 0;
};

TEST_F(NotifierTest, DeliversHeadersAndBody) {
  HttpNotifier notifier;
  context::NotificationRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(server_->Port()) + "/notify?x=1";
  req.headers = {{"Content-Type", "application/json"},
                 {"Fiware-Service", "city"},
                 {"Fiware-ServicePath", "/a"},
                 {"Fiware-Correlator", "abc; cbnotif=1"},
                 {"Ngsiv2-AttrsFormat", "normalized"}};
  req.body = R"({"subscriptionId":"s","data":[]})";
  auto result = SendAndWait(notifier, req);
  EXPECT_EQ(result.status, 204u);
  Received r = Within(received_.get_future());
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/notify?x=1");
  EXPECT_EQ(r.correlator, "abc; cbnotif=1");
  EXPECT_EQ(r.service, "city");
  EXPECT_EQ(r.service_path, "/a");
  EXPECT_EQ(r.attrs_format, "normalized");
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, req.body);
}

TEST_F(NotifierTest, ReceiverStatusIsFinal) {
  HttpNotifier notifier;
  context::NotificationRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(server_->Port()) + "/elsewhere";
  req.body = "{}";
  EXPECT_EQ(SendAndWait(notifier, req).status, 404u);
}

TEST_F(NotifierTest, TransportFailureIsRetriedThenReported) {
  NotifierOptions options;
  options.backoff = std::chrono::milliseconds(1);
  HttpNotifier notifier(options);
  context::NotificationRequest req;
  req.url = "http://127.0.0.1:1/notify";  // nothing listens on port 1
  req.timeout = std::chrono::milliseconds(2000);
  auto result = SendAndWait(notifier, req);
  EXPECT_EQ(result.status, 0u);
  EXPECT_FALSE(result.error.empty());
}

TEST_F(NotifierTest, BadUrlIsNotRetried) {
  HttpNotifier notifier;
  context::NotificationRequest req;
  req.url = "ftp://127.0.0.1/x";
  auto result = SendAndWait(notifier, req);
  EXPECT_EQ(result.status, 0u);
  EXPECT_NE(result.error.find("http"), std::string::npos);
}

TEST_F(NotifierTest, ARequestCutShortByTheStopSaysSo) {
  // A receiver that takes the connection (the kernel's backlog) and never answers.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  std::promise<context::NotificationResult> done;
  {
    HttpNotifier notifier;
    context::NotificationRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/notify";
    req.timeout = std::chrono::milliseconds(60'000);
    notifier.Send(std::move(req),
                  [&](context::NotificationResult r) { done.set_value(std::move(r)); });
  }  // stops the notifier with the request in flight
  const auto result = Within(done.get_future());
  EXPECT_EQ(result.status, 0u);
  EXPECT_TRUE(result.stopped) << result.error;
}

// A burst larger than the wire's places: the rest wait their turn and all arrive, never
// more at once than the places. (A notification past the limit used to fail at once and be
// retried after the backoff, and most of such a burst was reported as failed.)
TEST_F(NotifierTest, ABurstBeyondTheWireWaitsItsTurn) {
  NotifierOptions options;
  options.client.max_in_flight = 2;
  options.backoff = std::chrono::milliseconds(60'000);  // a retry would not end in time
  constexpr int kBurst = 200;
  std::vector<std::promise<context::NotificationResult>> results(kBurst);
  {
    HttpNotifier notifier(options);
    for (int i = 0; i < kBurst; ++i) {
      context::NotificationRequest req;
      req.url = "http://127.0.0.1:" + std::to_string(server_->Port()) + "/burst";
      req.body = std::to_string(i);
      notifier.Send(std::move(req), [&results, i](context::NotificationResult r) {
        results[static_cast<size_t>(i)].set_value(std::move(r));
      });
    }
    for (int i = 0; i < kBurst; ++i) {
      const auto r = Within(results[static_cast<size_t>(i)].get_future());
      ASSERT_EQ(r.status, 204u) << "notification " << i << ": " << r.error;
    }
  }
  EXPECT_LE(most_burst_.load(), 2);
  EXPECT_GE(most_burst_.load(), 1);
}

// The notifications still waiting for a place when the notifier stops end, each once, as
// stopped: they say nothing about the receiver.
TEST_F(NotifierTest, WaitingNotificationsEndAsStoppedAtTheStop) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  NotifierOptions options;
  options.client.max_in_flight = 1;
  constexpr int kSent = 5;
  std::vector<std::promise<context::NotificationResult>> results(kSent);
  {
    HttpNotifier notifier(options);
    for (int i = 0; i < kSent; ++i) {
      context::NotificationRequest req;
      req.url = "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/n";
      req.timeout = std::chrono::milliseconds(60'000);
      notifier.Send(std::move(req), [&results, i](context::NotificationResult r) {
        results[static_cast<size_t>(i)].set_value(std::move(r));  // twice would throw
      });
    }
  }  // one on the wire to a receiver that never answers, four waiting
  for (int i = 0; i < kSent; ++i) {
    const auto r = Within(results[static_cast<size_t>(i)].get_future());
    EXPECT_TRUE(r.stopped) << i << ": " << r.error;
  }
}

}  // namespace
}  // namespace zc::api::ngsi
