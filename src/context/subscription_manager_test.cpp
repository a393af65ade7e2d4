// Tests of the subscription manager with the real Writer over a tiny in-memory store and a
// fake NotificationSender that records requests and lets the test complete them. Time is
// an injected clock; waits are on futures of write completions, never on sleeps.
#include "context/subscription_manager.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>

#include "common/json.h"

namespace zc::context {
namespace {

const std::vector<std::string> kWholeTenant{"/"};  // a caller granted every service path

// Keeps subscription documents; nothing else.
class MemoryStore : public ContextStore {
 public:
  Status Commit(const WriteBatch& batch) override {
    std::lock_guard lock(mu_);
    for (const auto& w : batch.subscriptions) {
      if (w.document) {
        docs_[{w.tenant, w.id}] = *w.document;
      } else {
        docs_.erase({w.tenant, w.id});
      }
    }
    return Ok();
  }
  Status LoadEntities(const std::function<void(std::string, Entity)>&) override { return Ok(); }
  Status LoadSubscriptions(
      const std::function<void(std::string, std::string, std::string)>& sink) override {
    std::lock_guard lock(mu_);
    for (const auto& [key, doc] : docs_) sink(key.first, key.second, doc);
    return Ok();
  }
  Result<std::vector<HistoryPoint>> QueryHistory(const HistoryQuery&) override {
    return std::vector<HistoryPoint>{};
  }
  Result<size_t> PruneHistory(TimeMs) override { return size_t{0}; }

  std::optional<std::string> Doc(const std::string& tenant, const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = docs_.find({tenant, id});
    if (it == docs_.end()) return std::nullopt;
    return it->second;
  }
  size_t Size() {
    std::lock_guard lock(mu_);
    return docs_.size();
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::string> docs_;
};

// Records notifications; the test answers them with Complete().
class FakeSender : public NotificationSender {
 public:
  void Send(NotificationRequest request, Done done) override {
    {
      std::lock_guard lock(mu_);
      sent.push_back(std::move(request));
      if (!complete_at_once) {
        pending_.push_back(std::move(done));
        return;
      }
    }
    done(at_once_result);  // as a stopping sender does: before Send returns
  }
  std::atomic<bool> complete_at_once{false};
  NotificationResult at_once_result{200, {}};
  // Completes the oldest pending notification.
  void Complete(NotificationResult result) {
    Done done;
    {
      std::lock_guard lock(mu_);
      ASSERT_FALSE(pending_.empty());
      done = std::move(pending_.front());
      pending_.erase(pending_.begin());
    }
    done(std::move(result));
  }
  std::vector<NotificationRequest> sent;

 private:
  std::mutex mu_;
  std::vector<Done> pending_;
};

EntityPtr Room(std::string id, double temperature) {
  auto e = std::make_shared<Entity>();
  e->id = std::move(id);
  e->type = "Room";
  e->attrs.emplace_back("temperature", Attribute{"Number", temperature, {}});
  return e;
}

EntityChange Change(std::string tenant, std::string id, double from, double to) {
  EntityChange c;
  c.kind = ChangeKind::kUpdate;
  c.tenant = std::move(tenant);
  c.before = Room(id, from);
  c.after = Room(id, to);
  c.updated_attrs = {"temperature"};
  if (from != to) c.changed_attrs = {"temperature"};
  c.correlator = "c";
  return c;
}

class ManagerTest : public ::testing::Test {
 protected:
  ManagerTest() { Reset(); }

  void Reset(SubscriptionManagerOptions options = {}) {
    manager_.reset();
    options.clock = [this] { return now_.load(); };
    manager_ = std::make_unique<SubscriptionManager>(writer_, sender_, options, metrics_);
  }

  std::string Create(std::string_view body, std::string tenant = "", std::string path = "/#") {
    auto spec = ParseSubscription(*json::Parse(body));
    EXPECT_TRUE(spec.has_value());
    std::promise<Result<std::string>> p;
    manager_->Create(tenant, path, std::move(*spec),
                     [&](Result<std::string> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return r.value_or("");
  }
  Status Wait(const std::function<void(SubscriptionManager::Done)>& call) {
    std::promise<Status> p;
    call([&](Status s) { p.set_value(std::move(s)); });
    return p.get_future().get();
  }
  // Every write submitted so far is durable once an empty batch completes.
  void Barrier() {
    std::promise<void> p;
    writer_.Submit({}, [&](Status) { p.set_value(); });
    p.get_future().get();
  }
  boost::json::object Get(const std::string& id, const std::string& tenant = "") {
    auto r = manager_->Get(tenant, kWholeTenant, id);
    EXPECT_TRUE(r.has_value());
    return r.value_or(boost::json::object{});
  }

  std::atomic<TimeMs> now_{1'700'000'000'000};
  metrics::Registry metrics_;
  MemoryStore store_;
  Writer writer_{store_, {}, metrics_};
  FakeSender sender_;
  std::unique_ptr<SubscriptionManager> manager_;
};

constexpr std::string_view kRoom1 = R"({"subject":{"entities":[{"id":"Room1"}]},
    "notification":{"http":{"url":"http://localhost:1/n"}}})";

TEST_F(ManagerTest, CreateIsDurableAndNotifiesOnChange) {
  const std::string id = Create(kRoom1);
  EXPECT_EQ(id.size(), 24u);
  EXPECT_TRUE(store_.Doc("", id).has_value());
  EXPECT_TRUE(sender_.sent.empty());  // no initial notification
  manager_->OnChange(Change("", "Room1", 1, 2));
  ASSERT_EQ(sender_.sent.size(), 1u);
  EXPECT_EQ(sender_.sent[0].subscription_id, id);
  manager_->OnChange(Change("", "Room1", 2, 2));       // nothing changed
  manager_->OnChange(Change("other", "Room1", 1, 2));  // another tenant
  manager_->OnChange(Change("", "Room2", 1, 2));
  EXPECT_EQ(sender_.sent.size(), 1u);
  sender_.Complete({200, {}});
  auto sub = Get(id);
  EXPECT_EQ(sub["notification"].at("timesSent").as_int64(), 1);
  EXPECT_EQ(sub["notification"].at("lastSuccessCode").as_uint64(), 200u);
  EXPECT_EQ(sub["status"].as_string(), "active");
}

TEST_F(ManagerTest, ACallerSeesAndManagesOnlySubscriptionsWithinItsServicePaths) {
  const std::string water = Create(kRoom1, "gaoming", "/water");
  const std::string traffic = Create(kRoom1, "gaoming", "/traffic/#");
  const std::string everything = Create(kRoom1, "gaoming", "/#");
  const std::vector<std::string> water_only{"/water"};
  const auto not_found = [](const auto& r) {
    return !r.has_value() && r.error().code == ErrorCode::kNotFound;
  };

  EXPECT_TRUE(manager_->Get("gaoming", water_only, water).has_value());
  EXPECT_TRUE(not_found(manager_->Get("gaoming", water_only, traffic)));
  EXPECT_TRUE(not_found(manager_->Get("gaoming", water_only, everything)));
  auto page = manager_->List("gaoming", water_only, 0, 10, 1 << 20);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->count, 1u);
  EXPECT_EQ(page->total, 1u);
  EXPECT_NE(page->json.find(water), std::string::npos);
  EXPECT_EQ(manager_->List("gaoming", water_only, 1, 10, 1 << 20)->count, 0u);
  EXPECT_EQ(manager_->List("gaoming", kWholeTenant, 0, 10, 1 << 20)->total, 3u);
  EXPECT_EQ(manager_->List("gaoming", {"/traffic"}, 0, 10, 1 << 20)->total, 1u);

  // Another department's subscription cannot be pointed elsewhere, nor deleted.
  const auto patch = *json::Parse(R"({"notification":{"http":{"url":"http://localhost:2/x"}}})");
  EXPECT_TRUE(not_found(
      Wait([&](auto done) { manager_->Update("gaoming", water_only, traffic, patch, done); })));
  EXPECT_TRUE(not_found(
      Wait([&](auto done) { manager_->Delete("gaoming", water_only, everything, done); })));
  EXPECT_EQ(Get(traffic, "gaoming")["notification"].at("http").at("url").as_string(),
            "http://localhost:1/n");
  EXPECT_EQ(manager_->List("gaoming", kWholeTenant, 0, 10, 1 << 20)->total, 3u);
  ASSERT_TRUE(
      Wait([&](auto done) { manager_->Update("gaoming", water_only, water, patch, done); }));
  ASSERT_TRUE(Wait([&](auto done) { manager_->Delete("gaoming", water_only, water, done); }));
}

TEST_F(ManagerTest, Throttling) {
  Create(std::string(kRoom1).insert(kRoom1.size() - 1, R"(,"throttling":10)"));
  manager_->OnChange(Change("", "Room1", 1, 2));
  now_ += 5000;
  manager_->OnChange(Change("", "Room1", 2, 3));  // within 10 s: skipped
  EXPECT_EQ(sender_.sent.size(), 1u);
  sender_.Complete({200, {}});
  now_ += 5000;
  manager_->OnChange(Change("", "Room1", 3, 4));
  EXPECT_EQ(sender_.sent.size(), 2u);
}

TEST_F(ManagerTest, ThrottlingDoesNotHoldBackAfterTheClockWasSetBack) {
  Create(std::string(kRoom1).insert(kRoom1.size() - 1, R"(,"throttling":10)"));
  manager_->OnChange(Change("", "Room1", 1, 2));
  sender_.Complete({200, {}});
  now_ -= 3600 * 1000;  // the wall clock stepped back an hour
  manager_->OnChange(Change("", "Room1", 2, 3));
  EXPECT_EQ(sender_.sent.size(), 2u);
  sender_.Complete({200, {}});
  now_ += 5000;  // throttled again from the notification just sent
  manager_->OnChange(Change("", "Room1", 3, 4));
  EXPECT_EQ(sender_.sent.size(), 2u);
}

TEST_F(ManagerTest, OneshotBecomesInactiveDurably) {
  const std::string id =
      Create(std::string(kRoom1).insert(kRoom1.size() - 1, R"(,"status":"oneshot")"));
  manager_->OnChange(Change("", "Room1", 1, 2));
  manager_->OnChange(Change("", "Room1", 2, 3));
  EXPECT_EQ(sender_.sent.size(), 1u);
  EXPECT_EQ(Get(id)["status"].as_string(), "inactive");
  Barrier();
  EXPECT_NE(store_.Doc("", id)->find(R"("status":"inactive")"), std::string::npos);
}

TEST_F(ManagerTest, ExpiredAndInactiveDoNotNotify) {
  const std::string id = Create(std::string(kRoom1).insert(
      kRoom1.size() - 1, R"(,"expires":"2023-11-14T22:13:30Z")"));  // 10 s after now_
  manager_->OnChange(Change("", "Room1", 1, 2));
  EXPECT_EQ(sender_.sent.size(), 1u);
  now_ += 20000;
  manager_->OnChange(Change("", "Room1", 2, 3));
  EXPECT_EQ(sender_.sent.size(), 1u);
  EXPECT_EQ(Get(id)["status"].as_string(), "expired");
  const std::string inactive =
      Create(std::string(kRoom1).insert(kRoom1.size() - 1, R"(,"status":"inactive")"));
  manager_->OnChange(Change("", "Room1", 3, 4));
  EXPECT_EQ(sender_.sent.size(), 1u);
}

TEST_F(ManagerTest, FailuresAndMaxFailsLimit) {
  const std::string id = Create(R"({"subject":{"entities":[{"id":"Room1"}]},
      "notification":{"http":{"url":"http://localhost:1/n"},"maxFailsLimit":1}})");
  manager_->OnChange(Change("", "Room1", 1, 2));
  sender_.Complete({0, "cannot connect"});
  auto sub = Get(id);
  EXPECT_EQ(sub["status"].as_string(), "failed");
  EXPECT_EQ(sub["notification"].at("lastFailureReason").as_string(), "cannot connect");
  EXPECT_EQ(sub["notification"].at("failsCounter").as_int64(), 1);
  manager_->OnChange(Change("", "Room1", 2, 3));
  sender_.Complete({500, {}});
  sub = Get(id);
  EXPECT_EQ(sub["status"].as_string(), "inactive");  // 2 failures > maxFailsLimit 1
  EXPECT_EQ(sub["notification"].at("lastFailureReason").as_string(), "HTTP status 500");
  manager_->OnChange(Change("", "Room1", 3, 4));
  EXPECT_EQ(sender_.sent.size(), 2u);
  // Reactivation resets the consecutive failures.
  ASSERT_TRUE(Wait([&](auto done) {
    manager_->Update("", kWholeTenant, id, *json::Parse(R"({"status":"active"})"), done);
  }));
  EXPECT_FALSE(Get(id)["notification"].as_object().contains("failsCounter"));
}

TEST_F(ManagerTest, UpdateDeleteListAndNotFound) {
  const std::string a = Create(kRoom1);
  const std::string b = Create(kRoom1, "", "/x");
  Create(kRoom1, "t2");
  auto page = manager_->List("", kWholeTenant, 0, 10, 1 << 20);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 2u);
  EXPECT_EQ(page->count, 2u);
  const auto items = json::Parse(page->json).value().as_array();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].at("id").as_string(), a);
  EXPECT_EQ(manager_->List("", kWholeTenant, 1, 10, 1 << 20)->count, 1u);
  EXPECT_EQ(manager_->List("", kWholeTenant, 0, 1, 1 << 20)->count, 1u);
  EXPECT_EQ(manager_->List("nobody", kWholeTenant, 0, 10, 1 << 20)->json, "[]");
  auto over = manager_->List("", kWholeTenant, 0, 10, page->json.size() - 1);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kNoResources);
  EXPECT_EQ(manager_->List("", kWholeTenant, 0, 10, page->json.size())->json, page->json);
  ASSERT_TRUE(Wait([&](auto done) {
    manager_->Update("", kWholeTenant, a, *json::Parse(R"({"throttling":3})"), done);
  }));
  EXPECT_EQ(Get(a)["throttling"].as_int64(), 3);
  auto bad = Wait([&](auto done) {
    manager_->Update("", kWholeTenant, a, *json::Parse(R"({"status":"nope"})"), done);
  });
  EXPECT_EQ(bad.error().code, ErrorCode::kBadRequest);
  ASSERT_TRUE(Wait([&](auto done) { manager_->Delete("", kWholeTenant, b, done); }));
  EXPECT_FALSE(store_.Doc("", b).has_value());
  auto missing = Wait([&](auto done) { manager_->Delete("", kWholeTenant, b, done); });
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, kSubscriptionNotFound);
  EXPECT_FALSE(manager_->Get("t2", kWholeTenant, a).has_value());
}

TEST_F(ManagerTest, ServicePathRestrictsNotifications) {
  Create(kRoom1, "", "/a");
  EntityChange c = Change("", "Room1", 1, 2);
  manager_->OnChange(c);  // entity in "/"
  EXPECT_TRUE(sender_.sent.empty());
  auto moved = std::make_shared<Entity>(*c.after);
  moved->service_path = "/a";
  c.after = moved;
  manager_->OnChange(c);
  EXPECT_EQ(sender_.sent.size(), 1u);
}

TEST_F(ManagerTest, CountersSurviveFlushAndLoad) {
  const std::string id = Create(kRoom1, "city");
  manager_->OnChange(Change("city", "Room1", 1, 2));
  sender_.Complete({204, {}});
  ASSERT_TRUE(Wait([&](auto done) { manager_->FlushCounters(done); }));
  Reset();
  ASSERT_TRUE(manager_->Load(store_));
  auto sub = Get(id, "city");
  EXPECT_EQ(sub["notification"].at("timesSent").as_int64(), 1);
  EXPECT_EQ(sub["notification"].at("lastSuccessCode").as_uint64(), 204u);
  EXPECT_EQ(manager_->Count(), 1u);
}

TEST_F(ManagerTest, LimitsPerTenantAndInFlight) {
  SubscriptionManagerOptions options;
  options.max_per_tenant = 1;
  options.max_in_flight = 1;
  Reset(options);
  Create(kRoom1);
  auto spec = ParseSubscription(*json::Parse(kRoom1));
  std::promise<Result<std::string>> p;
  manager_->Create("", "/#", std::move(*spec), [&](auto r) { p.set_value(std::move(r)); });
  EXPECT_EQ(p.get_future().get().error().code, ErrorCode::kUnprocessable);
  manager_->OnChange(Change("", "Room1", 1, 2));
  manager_->OnChange(Change("", "Room1", 2, 3));  // one still in flight: dropped
  EXPECT_EQ(sender_.sent.size(), 1u);
  EXPECT_NE(metrics_.Render().find("zhicheng_notifications_dropped_total 1"), std::string::npos);
  sender_.Complete({200, {}});
  manager_->OnChange(Change("", "Room1", 3, 4));
  EXPECT_EQ(sender_.sent.size(), 2u);
  sender_.Complete({200, {}});
}

// A receiver whose share of the notifications in progress is full loses the next ones
// (dropped before they are built, counted as sent as any dropped one is), and the other
// receivers' go on. A receiver named through a macro is held to its share as well.
TEST_F(ManagerTest, AReceiverWithoutRoomLosesItsNotificationsAndTheOthersGoOn) {
  SubscriptionManagerOptions options;
  options.max_in_progress_per_receiver = 2;
  Reset(options);
  const std::string full = Create(R"({"subject":{"entities":[{"idPattern":"^Room"}]},
      "notification":{"http":{"url":"http://full.example/n"}}})");
  Create(R"({"subject":{"entities":[{"id":"Room1"},{"id":"Room5"}]},
      "notification":{"http":{"url":"http://other.example/n"}}})");
  const std::string templated = Create(R"({"subject":{"entities":[{"id":"Room3"}]},
      "notification":{"httpCustom":{"url":"http://${type}.example/n"}}})");
  for (int room = 1; room <= 5; ++room) {
    manager_->OnChange(Change("", "Room" + std::to_string(room), 1, 2));
  }
  manager_->OnChange(Change("", "Room3", 2, 3));  // its lane: waits, the share is then full
  manager_->OnChange(Change("", "Room3", 3, 4));
  std::map<std::string, int> sent;
  for (const auto& request : sender_.sent) ++sent[request.receiver];
  EXPECT_EQ(sent, (std::map<std::string, int>{{"http://full.example:80", 2},
                                              {"http://other.example:80", 2},
                                              {"http://room.example:80", 1}}));
  // full: Room3..5 and twice Room3 again; templated: the third change of Room3.
  EXPECT_NE(metrics_.Render().find("zhicheng_notifications_dropped_total 6"), std::string::npos);
  EXPECT_EQ(Get(full).at("notification").at("timesSent"), 7);
  EXPECT_EQ(Get(templated).at("notification").at("timesSent"), 3);
  for (int i = 0; i < 6; ++i) sender_.Complete({200, {}});  // and Room3's waiting one
  ASSERT_EQ(sender_.sent.size(), 6u);
  manager_->OnChange(Change("", "Room4", 2, 3));  // room again
  EXPECT_EQ(sender_.sent.back().receiver, "http://full.example:80");
}

TEST_F(ManagerTest, AnEntitysNotificationsGoOutOneAfterTheOtherInOrder) {
  const std::string id = Create(R"({"subject":{"entities":[{"idPattern":"^Room"}]},
      "notification":{"http":{"url":"http://localhost:1/n"},"attrsFormat":"keyValues"}})");
  manager_->OnChange(Change("", "Room1", 1, 2));
  manager_->OnChange(Change("", "Room1", 2, 3));  // waits behind the first
  manager_->OnChange(Change("", "Room2", 1, 5));  // another entity: goes out at once
  manager_->OnChange(Change("", "Room1", 3, 4));
  ASSERT_EQ(sender_.sent.size(), 2u);
  EXPECT_NE(metrics_.Render().find("zhicheng_notifications_in_progress 4"), std::string::npos);
  EXPECT_NE(sender_.sent[0].body.find(R"("temperature":2)"), std::string::npos);
  EXPECT_NE(sender_.sent[1].body.find(R"("id":"Room2")"), std::string::npos);
  EXPECT_EQ(Get(id)["notification"].at("timesSent").as_int64(), 4);  // counted when triggered
  sender_.Complete({0, "timed out"});  // Room1's first, after the sender's retries
  ASSERT_EQ(sender_.sent.size(), 3u);
  EXPECT_NE(sender_.sent[2].body.find(R"("temperature":3)"), std::string::npos);
  sender_.Complete({200, {}});  // Room2's: nothing waits behind it
  EXPECT_EQ(sender_.sent.size(), 3u);
  sender_.Complete({200, {}});
  ASSERT_EQ(sender_.sent.size(), 4u);
  EXPECT_NE(sender_.sent[3].body.find(R"("temperature":4)"), std::string::npos);
  sender_.Complete({200, {}});
  manager_->OnChange(Change("", "Room1", 4, 6));  // the lane is idle again
  ASSERT_EQ(sender_.sent.size(), 5u);
  sender_.Complete({200, {}});
  EXPECT_NE(metrics_.Render().find("zhicheng_notifications_dropped_total 0"), std::string::npos)
      << "nothing was dropped";
  EXPECT_NE(metrics_.Render().find("zhicheng_notifications_in_progress 0"), std::string::npos);
}

TEST_F(ManagerTest, ALaneDropsItsOldestWaitingNotificationBeyondItsLimit) {
  SubscriptionManagerOptions options;
  options.max_waiting_per_lane = 2;
  Reset(options);
  Create(kRoom1);
  for (int v = 1; v <= 4; ++v) manager_->OnChange(Change("", "Room1", v, v + 1));
  // 2 is with the sender; 3 waited, then gave its place to 5.
  ASSERT_EQ(sender_.sent.size(), 1u);
  EXPECT_NE(metrics_.Render().find("zhicheng_notifications_dropped_total 1"), std::string::npos);
  for (const char* expected : {R"("value":4)", R"("value":5)"}) {
    sender_.Complete({200, {}});
    EXPECT_NE(sender_.sent.back().body.find(expected), std::string::npos)
        << sender_.sent.back().body;
  }
  sender_.Complete({200, {}});
  EXPECT_EQ(sender_.sent.size(), 3u);
}

TEST_F(ManagerTest, WaitingNotificationsAreWithdrawnWhenTheirSubscriptionIsDeletedOrOff) {
  const std::string deleted = Create(kRoom1);
  const std::string paused = Create(kRoom1);
  for (int v = 1; v <= 3; ++v) manager_->OnChange(Change("", "Room1", v, v + 1));
  ASSERT_EQ(sender_.sent.size(), 2u);  // one of each lane; two wait behind each
  ASSERT_TRUE(Wait([&](auto done) { manager_->Delete("", kWholeTenant, deleted, done); }));
  ASSERT_TRUE(Wait([&](auto done) {
    manager_->Update("", kWholeTenant, paused, *json::Parse(R"({"status":"inactive"})"), done);
  }));
  sender_.Complete({200, {}});
  sender_.Complete({200, {}});
  EXPECT_EQ(sender_.sent.size(), 2u) << "nothing more went out";
  const std::string rendered = metrics_.Render();
  EXPECT_NE(rendered.find("zhicheng_notifications_withdrawn_total 4"), std::string::npos);
  EXPECT_NE(rendered.find("zhicheng_notifications_in_progress 0"), std::string::npos);
  EXPECT_NE(rendered.find("zhicheng_notifications_dropped_total 0"), std::string::npos);
}

TEST_F(ManagerTest, AOneshotsNotificationWaitingInItsLaneIsStillSent) {
  const std::string id = Create(kRoom1);
  manager_->OnChange(Change("", "Room1", 1, 2));
  ASSERT_TRUE(Wait([&](auto done) {
    manager_->Update("", kWholeTenant, id, *json::Parse(R"({"status":"oneshot"})"), done);
  }));
  manager_->OnChange(Change("", "Room1", 2, 3));  // waits; its subscription is now inactive
  manager_->OnChange(Change("", "Room1", 3, 4));  // not triggered
  EXPECT_EQ(Get(id)["status"].as_string(), "inactive");
  sender_.Complete({200, {}});
  ASSERT_EQ(sender_.sent.size(), 2u);
  EXPECT_NE(sender_.sent[1].body.find(R"("value":3)"), std::string::npos);
  sender_.Complete({200, {}});
  EXPECT_NE(metrics_.Render().find("zhicheng_notifications_withdrawn_total 0"), std::string::npos);
}

TEST_F(ManagerTest, ANotificationUrlCanBeRefusedAtCreateAndUpdate) {
  SubscriptionManagerOptions options;
  options.check_url = [](const std::string& url) -> Status {
    if (url.find("forbidden") != std::string::npos) return Fail(Error::BadRequest("no: " + url));
    return Ok();
  };
  Reset(options);
  auto spec = ParseSubscription(*json::Parse(R"({"subject":{"entities":[{"id":"Room1"}]},
      "notification":{"http":{"url":"http://forbidden/n"}}})"));
  ASSERT_TRUE(spec.has_value());
  std::promise<Result<std::string>> created;
  manager_->Create("", "/#", std::move(*spec), [&](auto r) { created.set_value(std::move(r)); });
  auto refused = created.get_future().get();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message, "no: http://forbidden/n");
  EXPECT_EQ(store_.Size(), 0u);
  const std::string id = Create(kRoom1);
  const Status updated = Wait([&](auto done) {
    manager_->Update("", kWholeTenant, id,
                     *json::Parse(R"({"notification":{"http":{"url":"http://forbidden/x"}}})"),
                     done);
  });
  ASSERT_FALSE(updated.has_value());
  EXPECT_EQ(updated.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(Get(id)["notification"].at("http").at("url").as_string(), "http://localhost:1/n");
}

TEST_F(ManagerTest, TheSizeOfTheNotificationsInProgressIsBounded) {
  SubscriptionManagerOptions options;
  options.max_in_progress_bytes = 400;  // two of these notifications, not three
  Reset(options);
  Create(R"({"subject":{"entities":[{"idPattern":"^Room"}]},
      "notification":{"http":{"url":"http://localhost:1/n"}}})");
  for (const char* room : {"Room1", "Room2", "Room3"}) manager_->OnChange(Change("", room, 1, 2));
  ASSERT_EQ(sender_.sent.size(), 2u);
  ASSERT_GT(sender_.sent[0].body.size() + sender_.sent[0].url.size(), 134u);
  ASSERT_LE(sender_.sent[0].body.size() + sender_.sent[0].url.size(), 200u);
  EXPECT_NE(metrics_.Render().find("zhicheng_notifications_dropped_total 1"), std::string::npos);
  sender_.Complete({200, {}});  // frees its bytes
  manager_->OnChange(Change("", "Room3", 2, 3));
  EXPECT_EQ(sender_.sent.size(), 3u);
  sender_.Complete({200, {}});
  sender_.Complete({200, {}});
}

TEST_F(ManagerTest, NotificationsCutShortByAStopAreNotTheReceiversFailures) {
  const std::string id = Create(R"({"subject":{"entities":[{"id":"Room1"}]},
      "notification":{"http":{"url":"http://localhost:1/n"},"maxFailsLimit":1}})");
  manager_->OnChange(Change("", "Room1", 1, 2));
  manager_->OnChange(Change("", "Room1", 2, 3));
  sender_.at_once_result = {0, "notifier stopped", true};
  sender_.complete_at_once = true;  // stopping: the waiting one completes inside Send
  sender_.Complete({0, "notifier stopped", true});
  EXPECT_EQ(sender_.sent.size(), 2u);
  auto sub = Get(id);
  EXPECT_EQ(sub["status"].as_string(), "active");
  EXPECT_FALSE(sub["notification"].as_object().contains("failsCounter"));
  EXPECT_FALSE(sub["notification"].as_object().contains("lastFailure"));
  EXPECT_NE(metrics_.Render().find("zhicheng_notifications_failed_total 0"), std::string::npos);
}

TEST_F(ManagerTest, ALongLaneDrainsThroughASenderThatCompletesAtOnce) {
  // A stopping sender completes each notification inside Send; the lane's next ones must
  // follow in a loop, not a recursion as deep as the lane (which would overflow the stack).
  constexpr int kWaiting = 50'000;
  SubscriptionManagerOptions options;
  options.max_waiting_per_lane = kWaiting;
  options.max_in_flight = kWaiting + 1;
  options.max_in_progress_per_receiver = kWaiting + 1;
  Reset(options);
  Create(kRoom1);
  for (int v = 0; v <= kWaiting; ++v) manager_->OnChange(Change("", "Room1", v, v + 1));
  ASSERT_EQ(sender_.sent.size(), 1u);
  sender_.complete_at_once = true;
  sender_.Complete({200, {}});
  ASSERT_EQ(sender_.sent.size(), size_t{kWaiting} + 1);
  EXPECT_NE(sender_.sent.back().body.find(fmt::format(R"("value":{})", kWaiting + 1)),
            std::string::npos);
  EXPECT_NE(metrics_.Render().find("zhicheng_notifications_in_progress 0"), std::string::npos);
  manager_->OnChange(Change("", "Room1", 1, 2));  // the lane was left idle
  EXPECT_EQ(sender_.sent.size(), size_t{kWaiting} + 2);
}

}  // namespace
}  // namespace zc::context
