// Tests of the context service's write path with the real Writer over an in-memory store
// whose Commit can be held at a gate: that is how the tests see the state between
// "evaluated" and "durable" without timing. Waits are on futures, never on sleeps.
#include "context/service.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <map>

namespace zc::context {
namespace {

// Records committed batches; Commit blocks while the gate is closed.
class GatedStore : public ContextStore {
 public:
  Status Commit(const WriteBatch& batch) override {
    std::unique_lock lock(mu_);
    ++commits_waiting_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    --commits_waiting_;
    for (const auto& w : batch.entities) {
      entity_rows_.push_back(w.after ? w.key.id : "-" + w.key.id);
    }
    history_rows_ += batch.history.size();
    for (const auto& h : batch.history) {
      history_times_.push_back(h.time);
      history_index_[h.entity_id + "/" + h.attr].push_back(h.observed);
    }
    return fail_next_ ? Fail(Error::Internal("disk full")) : Ok();
  }
  Status LoadEntities(const std::function<void(std::string, Entity)>&) override { return Ok(); }
  Status LoadSubscriptions(
      const std::function<void(std::string, std::string, std::string)>&) override {
    return Ok();
  }
  Result<std::vector<HistoryPoint>> QueryHistory(const HistoryQuery&) override {
    return std::vector<HistoryPoint>{};
  }
  Result<size_t> PruneHistory(TimeMs) override { return size_t{0}; }

  void SetOpen(bool open) {
    std::lock_guard lock(mu_);
    open_ = open;
    changed_.notify_all();
  }
  void WaitForWaitingCommit() {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [this] { return commits_waiting_ > 0; });
  }
  void FailCommits(bool fail) {
    std::lock_guard lock(mu_);
    fail_next_ = fail;
  }
  std::vector<std::string> EntityRows() {
    std::lock_guard lock(mu_);
    return entity_rows_;
  }
  size_t HistoryRows() {
    std::lock_guard lock(mu_);
    return history_rows_;
  }
  std::vector<TimeMs> HistoryTimes() {
    std::lock_guard lock(mu_);
    return history_times_;
  }
  // The stated times (HistoryRow::observed) of the rows of "entity/attr", in commit order.
  std::vector<std::optional<TimeMs>> StatedTimes(const std::string& series) {
    std::lock_guard lock(mu_);
    return history_index_[series];
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool open_ = true;
  bool fail_next_ = false;
  int commits_waiting_ = 0;
  std::vector<std::string> entity_rows_;
  size_t history_rows_ = 0;
  std::vector<TimeMs> history_times_;
  std::map<std::string, std::vector<std::optional<TimeMs>>> history_index_;
};

Attribute Num(double v) {
  return Attribute{.type = "Number", .value = v};
}

EntityOp Create(std::string id, double t) {
  EntityOp op{.kind = WriteKind::kCreate, .id = std::move(id), .type = "Sensor"};
  op.attrs.emplace_back("t", Num(t));
  return op;
}

EntityOp Update(std::string id, double t, WriteKind kind = WriteKind::kUpdate) {
  EntityOp op{.kind = kind, .id = std::move(id)};
  op.attrs.emplace_back("t", Num(t));
  return op;
}

Attribute Date(const char* text) {
  return Attribute{.type = "DateTime", .value = bj::string(text)};
}

// Applies `ops` through `service` and returns a future of the outcome.
std::future<Result<WriteOutcome>> ApplyOn(ContextService& service, std::vector<EntityOp> ops,
                                          std::string tenant = "") {
  auto done = std::make_shared<std::promise<Result<WriteOutcome>>>();
  auto f = done->get_future();
  service.Apply({.tenant = std::move(tenant)}, std::move(ops),
                [done](Result<WriteOutcome> r) { done->set_value(std::move(r)); });
  return f;
}

// A second service with other options, writing to the same store.
struct OtherService {
  OtherService(ContextStore& store, ServiceOptions options)
      : writer(store, {}, metrics), service(writer, std::move(options), metrics) {}
  metrics::Registry metrics;
  Writer writer;
  ContextService service;
};

class ServiceTest : public ::testing::Test {
 protected:
  // Applies and returns a future of the outcome.
  std::future<Result<WriteOutcome>> Apply(std::vector<EntityOp> ops, std::string tenant = "") {
    return ApplyOn(service_, std::move(ops), std::move(tenant));
  }
  std::vector<EntityOp> One(EntityOp op) {
    std::vector<EntityOp> ops;
    ops.push_back(std::move(op));
    return ops;
  }
  std::optional<double> ValueOf(const std::string& id, const std::string& tenant = "") {
    auto e = service_.Get(tenant, PathScope::All(), id, std::nullopt);
    if (!e) return std::nullopt;
    return (*e)->Find("t")->value.to_number<double>();
  }

  GatedStore store_;
  metrics::Registry metrics_;
  Writer writer_{store_, {}, metrics_};
  ContextService service_{writer_, {}, metrics_};
};

TEST_F(ServiceTest, WritesBecomeVisibleOnlyOnceDurable) {
  store_.SetOpen(false);
  auto created = Apply(One(Create("S1", 20)));
  store_.WaitForWaitingCommit();
  EXPECT_FALSE(ValueOf("S1")) << "readers must not see a write before it is durable";
  store_.SetOpen(true);
  ASSERT_TRUE(created.get());
  EXPECT_EQ(ValueOf("S1"), 20);
}

TEST_F(ServiceTest, LaterWritesSeePendingOnes) {
  store_.SetOpen(false);
  auto created = Apply(One(Create("S1", 20)));
  store_.WaitForWaitingCommit();
  // Not durable yet, but an update must find the entity (it is pending).
  auto updated = Apply(One(Update("S1", 21)));
  auto duplicate = Apply(One(Create("S1", 22)));
  auto dup = duplicate.get();  // rejected at evaluation, without waiting for the gate
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  store_.SetOpen(true);
  ASSERT_TRUE(created.get());
  auto u = updated.get();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->updated, 1u);
  EXPECT_EQ(ValueOf("S1"), 21);
}

TEST_F(ServiceTest, AWriteWithoutTypeBuildsOnThePendingVersionNotTheCommittedOne) {
  ASSERT_TRUE(Apply(One(Create("S1", 20))).get());  // committed
  store_.SetOpen(false);
  auto first = Apply(One(Update("S1", 21)));  // pending on top of it
  store_.WaitForWaitingCommit();
  EntityOp append{.kind = WriteKind::kAppend, .id = "S1"};  // no type: found by id
  append.attrs.emplace_back("u", Num(5));
  auto second = Apply(One(std::move(append)));
  store_.SetOpen(true);
  ASSERT_TRUE(first.get());
  ASSERT_TRUE(second.get());
  auto e = service_.Get("", PathScope::All(), "S1", std::nullopt);
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)->Find("t")->value.to_number<double>(), 21) << "the append undid the update";
  ASSERT_NE((*e)->Find("u"), nullptr);
}

TEST_F(ServiceTest, ChangesOfOneEntityGetIncreasingTimes) {
  // Three changes in one batch share the batch's clock reading; each still gets its own time.
  std::vector<EntityOp> ops;
  ops.push_back(Create("S1", 1));
  ops.push_back(Update("S1", 2));
  ops.push_back(Update("S1", 3));
  ASSERT_TRUE(Apply(std::move(ops)).get());
  auto e = service_.Get("", PathScope::All(), "S1", std::nullopt);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ((*e)->modified, (*e)->created + 2);
  EXPECT_EQ((*e)->Find("t")->modified, (*e)->created + 2);
  const auto times = store_.HistoryTimes();
  ASSERT_EQ(times.size(), 3u);
  EXPECT_LT(times[0], times[1]);
  EXPECT_LT(times[1], times[2]);
}

// History rows are indexed at the TimeInstant the same request wrote, else at the
// attribute's own TimeInstant metadata, else at the change time: a TimeInstant left from an
// earlier write, or one that is not a date, is not used.
TEST_F(ServiceTest, HistoryIsIndexedAtTheTimeInstantTheWriteStates) {
  auto stamped = [&](double v, const char* text) {
    Attribute a = Num(v);
    a.metadata.emplace_back("TimeInstant", Metadata{"DateTime", bj::string(text)});
    return a;
  };
  EntityOp create = Create("G1", 1);
  create.attrs.emplace_back("TimeInstant", Date("2026-07-01T08:00:00+08:00"));
  create.attrs.emplace_back("level", stamped(2.5, "2026-07-01T00:30:00Z"));  // the attr wins
  ASSERT_TRUE(Apply(One(std::move(create))).get());
  EntityOp stamped_only = Update("G1", 2);
  stamped_only.attrs.at(0).second = stamped(2, "2026-07-01T01:00:00Z");
  ASSERT_TRUE(Apply(One(std::move(stamped_only))).get());
  ASSERT_TRUE(Apply(One(Update("G1", 3))).get());  // TimeInstant is still there, but old
  EntityOp not_a_date = Update("G1", 4);
  not_a_date.attrs.emplace_back("TimeInstant", Date("yesterday"));
  ASSERT_TRUE(Apply(One(std::move(not_a_date))).get());

  const TimeMs eight = ParseIso8601("2026-07-01T00:00:00Z").value_or(0);
  const TimeMs nine = ParseIso8601("2026-07-01T01:00:00Z").value_or(0);
  ASSERT_GT(eight, 0);
  using Times = std::vector<std::optional<TimeMs>>;
  EXPECT_EQ(store_.StatedTimes("G1/t"), (Times{eight, nine, std::nullopt, std::nullopt}));
  EXPECT_EQ(store_.StatedTimes("G1/level"), (Times{eight}));
  EXPECT_EQ(store_.StatedTimes("G1/TimeInstant"), (Times{eight, std::nullopt}));
  auto e = service_.Get("", PathScope::All(), "G1", std::nullopt);
  ASSERT_TRUE(e.has_value());
  EXPECT_GT((*e)->Find("t")->modified, nine) << "dateModified stays the change time";
}

TEST_F(ServiceTest, TheTimeIndexAttributeCanBeSwitchedOff) {
  OtherService plain(store_, {.time_index_attributes = {}});
  EntityOp create = Create("G2", 1);
  create.attrs.emplace_back("TimeInstant", Date("2026-07-01T00:00:00Z"));
  ASSERT_TRUE(ApplyOn(plain.service, One(std::move(create))).get());
  EXPECT_EQ(store_.StatedTimes("G2/t"), (std::vector<std::optional<TimeMs>>{std::nullopt}));
}

// With several names (TimeInstant, then the smart data models' dateObserved) the first one
// the request wrote as a date counts, for the attribute and for metadata alike.
TEST_F(ServiceTest, TheFirstTimeIndexNameTheWriteStatesCounts) {
  OtherService both_names(store_, {.time_index_attributes = {"TimeInstant", "dateObserved"}});
  auto apply = [&](EntityOp op) {
    return ApplyOn(both_names.service, One(std::move(op))).get().has_value();
  };
  EntityOp observed = Create("AQ-1", 1);
  observed.attrs.emplace_back("dateObserved", Date("2013-03-01T00:00:00Z"));
  ASSERT_TRUE(apply(std::move(observed)));
  EntityOp both = Update("AQ-1", 2, WriteKind::kAppend);
  both.attrs.emplace_back("dateObserved", Date("2013-03-01T01:00:00Z"));
  both.attrs.emplace_back("TimeInstant", Date("2013-03-01T01:00:05Z"));
  ASSERT_TRUE(apply(std::move(both)));
  EntityOp metadata = Update("AQ-1", 3);
  metadata.attrs.at(0).second.metadata.emplace_back(
      "dateObserved", Metadata{"DateTime", bj::string("2013-03-01T02:00:00Z")});
  ASSERT_TRUE(apply(std::move(metadata)));
  auto at = [](const char* text) { return ParseIso8601(text); };
  EXPECT_EQ(
      store_.StatedTimes("AQ-1/t"),
      (std::vector<std::optional<TimeMs>>{at("2013-03-01T00:00:00Z"), at("2013-03-01T01:00:05Z"),
                                          at("2013-03-01T02:00:00Z")}));
}

TEST_F(ServiceTest, BatchIsAllOrNothing) {
  ASSERT_TRUE(Apply(One(Create("S1", 1))).get());
  std::vector<EntityOp> ops;
  ops.push_back(Update("S1", 2));
  ops.push_back(Update("Missing", 3));
  auto r = Apply(std::move(ops)).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(ValueOf("S1"), 1);
  EXPECT_EQ(store_.EntityRows(), std::vector<std::string>{"S1"});
}

TEST_F(ServiceTest, StrictAppendAndUpdateCheckAttributes) {
  ASSERT_TRUE(Apply(One(Create("S1", 1))).get());
  auto strict = Apply(One(Update("S1", 2, WriteKind::kAppendStrict))).get();
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error().code, ErrorCode::kUnprocessable);
  EntityOp missing{.kind = WriteKind::kUpdate, .id = "S1"};
  missing.attrs.emplace_back("nothere", Num(1));
  auto upd = Apply(One(std::move(missing))).get();
  ASSERT_FALSE(upd);
  EXPECT_EQ(upd.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(ValueOf("S1"), 1);
}

EntityOp WithAttrs(WriteKind kind, std::string id, std::vector<std::string> names) {
  EntityOp op{.kind = kind, .id = std::move(id), .type = "Sensor"};
  for (auto& name : names) op.attrs.emplace_back(std::move(name), Num(1));
  return op;
}

TEST_F(ServiceTest, AnEntityDoesNotGrowPastTheAttributeLimit) {
  OtherService limited(store_, {.max_attrs_per_entity = 2});
  auto apply = [&](EntityOp op) { return ApplyOn(limited.service, One(std::move(op))).get(); };
  ASSERT_TRUE(apply(WithAttrs(WriteKind::kCreate, "S1", {"a", "b"})));
  auto grown = apply(WithAttrs(WriteKind::kAppend, "S1", {"c"}));
  ASSERT_FALSE(grown);
  EXPECT_EQ(grown.error().code, ErrorCode::kPayloadTooLarge);
  EXPECT_EQ(grown.error().message,
            "an entity may have at most 2 attributes ([context] max_attributes_per_entity)");
  EXPECT_FALSE(
      ApplyOn(limited.service, One(WithAttrs(WriteKind::kUpsert, "S1", {"a", "d"}))).get());
  auto s1 = limited.service.Get("", PathScope::All(), "S1", std::nullopt);
  ASSERT_TRUE(s1);
  EXPECT_EQ((*s1)->attrs.size(), 2u);
  EXPECT_TRUE(apply(WithAttrs(WriteKind::kAppend, "S1", {"a", "b"})));  // no new attribute
  EXPECT_TRUE(apply(WithAttrs(WriteKind::kReplace, "S1", {"x", "y"})));
}

// A store holding one entity, written before a limit was lowered.
struct StoreWithOneEntity : GatedStore {
  explicit StoreWithOneEntity(Entity e) : stored(std::move(e)) {}
  Status LoadEntities(const std::function<void(std::string, Entity)>& sink) override {
    sink("", stored);
    return Ok();
  }
  Entity stored;
};

// Stored before the limit was lowered: written on as long as it does not grow.
TEST(ServiceLimitTest, AnEntityOverALoweredLimitCanStillBeWrittenButNotGrown) {
  Entity wide{.id = "Wide", .type = "Sensor", .service_path = "/"};
  for (const char* name : {"a", "b", "c"}) wide.attrs.emplace_back(name, Num(1));
  StoreWithOneEntity store(std::move(wide));
  OtherService limited(store, {.max_attrs_per_entity = 2});
  ASSERT_TRUE(limited.service.Load(store));
  EntityOp update{.kind = WriteKind::kUpdate, .id = "Wide"};
  update.attrs.emplace_back("a", Num(2));
  EXPECT_TRUE(ApplyOn(limited.service, {update}).get());
  EntityOp append{.kind = WriteKind::kAppend, .id = "Wide"};
  append.attrs.emplace_back("d", Num(2));
  auto grown = ApplyOn(limited.service, {append}).get();
  ASSERT_FALSE(grown);
  EXPECT_EQ(grown.error().code, ErrorCode::kPayloadTooLarge);
}

Attribute Picture(size_t bytes) {
  return Attribute{.type = "Text", .value = bj::string(bytes, 'p')};
}

EntityOp WithPicture(WriteKind kind, std::string id, std::string name, size_t bytes) {
  EntityOp op{.kind = kind, .id = std::move(id), .type = "Camera"};
  op.attrs.emplace_back(std::move(name), Picture(bytes));
  return op;
}

TEST_F(ServiceTest, AnEntityDoesNotGrowPastTheByteLimit) {
  OtherService limited(store_, {.max_entity_bytes = 10000});
  auto apply = [&](EntityOp op) { return ApplyOn(limited.service, One(std::move(op))).get(); };
  auto huge = apply(WithPicture(WriteKind::kCreate, "C1", "p0", 20000));
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, ErrorCode::kPayloadTooLarge);
  EXPECT_TRUE(huge.error().message.starts_with("the entity would take about 200"));
  EXPECT_TRUE(
      huge.error().message.ends_with(" bytes, more than 10000 ([context] max_entity_bytes)"));
  EXPECT_FALSE(limited.service.Get("", PathScope::All(), "C1", std::nullopt));

  ASSERT_TRUE(apply(WithPicture(WriteKind::kCreate, "C1", "p0", 6000)));
  auto grown = apply(WithPicture(WriteKind::kAppend, "C1", "p1", 6000));
  ASSERT_FALSE(grown);
  EXPECT_EQ(grown.error().code, ErrorCode::kPayloadTooLarge);
  EXPECT_FALSE(apply(WithPicture(WriteKind::kUpsert, "C1", "p0", 12000)));
  EXPECT_FALSE(apply(WithPicture(WriteKind::kReplace, "C1", "p2", 12000)));
  auto c1 = limited.service.Get("", PathScope::All(), "C1", std::nullopt);
  ASSERT_TRUE(c1);
  ASSERT_EQ((*c1)->attrs.size(), 1u);
  EXPECT_EQ((*c1)->attrs[0].second.value.as_string().size(), 6000u);
  EXPECT_TRUE(apply(WithPicture(WriteKind::kUpdate, "C1", "p0", 9000)));
  EXPECT_TRUE(apply(WithPicture(WriteKind::kReplace, "C1", "p1", 3000)));
  EXPECT_TRUE(apply(WithPicture(WriteKind::kAppend, "C1", "p2", 3000)));
}

// Stored before the limit was lowered: it may shrink or stay, not grow.
TEST(ServiceLimitTest, AnEntityOverALoweredByteLimitCanStillBeWrittenButNotGrown) {
  Entity large{.id = "Large", .type = "Camera", .service_path = "/"};
  large.attrs.emplace_back("p0", Picture(20000));
  large.attrs.emplace_back("n", Num(1));
  StoreWithOneEntity store(std::move(large));
  OtherService limited(store, {.max_entity_bytes = 10000});
  ASSERT_TRUE(limited.service.Load(store));
  EntityOp update{.kind = WriteKind::kUpdate, .id = "Large"};
  update.attrs.emplace_back("n", Num(2));
  EXPECT_TRUE(ApplyOn(limited.service, {update}).get());
  auto grown = ApplyOn(limited.service, {WithPicture(WriteKind::kUpdate, "Large", "p0", 20001)});
  ASSERT_FALSE(grown.get());
  EXPECT_TRUE(
      ApplyOn(limited.service, {WithPicture(WriteKind::kUpdate, "Large", "p0", 15000)}).get());
}

EntityOp Delete(std::string id) {
  return EntityOp{.kind = WriteKind::kDeleteEntity, .id = std::move(id)};
}

TEST_F(ServiceTest, ATenantHoldsAtMostItsEntityLimit) {
  OtherService limited(store_, {.max_entities_per_tenant = 3});
  auto apply = [&](std::vector<EntityOp> ops, std::string tenant = "") {
    return ApplyOn(limited.service, std::move(ops), std::move(tenant)).get();
  };
  ASSERT_TRUE(apply({Create("S1", 1), Create("S2", 2)}));
  auto over = apply({Create("S3", 3), Create("S4", 4)});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kNoResources);
  EXPECT_EQ(over.error().message,
            "this service holds 2 entities and may hold at most 3 ([context] "
            "max_entities_per_tenant)");
  EXPECT_FALSE(limited.service.Get("", PathScope::All(), "S3", std::nullopt)) << "all or nothing";
  ASSERT_TRUE(apply({Create("S3", 3)}));
  EXPECT_FALSE(apply({Create("S4", 4)}));
  EntityOp upsert = Update("S2", 6, WriteKind::kUpsert);
  upsert.type = "Sensor";
  EXPECT_TRUE(apply({Update("S1", 5), upsert})) << "no new entity";
  upsert.type = "OtherType";
  EXPECT_FALSE(apply({upsert})) << "an upsert that creates counts";
  EXPECT_TRUE(apply({Delete("S1"), Create("S5", 5)})) << "one out, one in";
  EXPECT_TRUE(apply({Create("S1", 1), Create("S2", 2), Create("S3", 3)}, "other"))
      << "another tenant has its own count";
  ASSERT_TRUE(apply({Delete("S2")}));
  EXPECT_TRUE(apply({Create("S4", 4)}));
  EXPECT_EQ(limited.service.EntityCount(), 6u);
}

// Creations still on their way to the disk count: the limit holds while commits queue.
TEST_F(ServiceTest, PendingCreationsCountAgainstTheEntityLimit) {
  OtherService limited(store_, {.max_entities_per_tenant = 2});
  store_.SetOpen(false);
  auto first = ApplyOn(limited.service, One(Create("A", 1)));
  store_.WaitForWaitingCommit();
  auto second = ApplyOn(limited.service, One(Create("B", 2)));
  auto third = ApplyOn(limited.service, One(Create("C", 3)));
  ASSERT_EQ(third.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "refused at evaluation, before any commit";
  auto refused = third.get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kNoResources);
  store_.SetOpen(true);
  EXPECT_TRUE(first.get());
  EXPECT_TRUE(second.get());
}

// A write that fails to commit gives its creations back.
TEST_F(ServiceTest, AFailedCommitFreesItsPlaceUnderTheEntityLimit) {
  OtherService limited(store_, {.max_entities_per_tenant = 1});
  store_.FailCommits(true);
  ASSERT_FALSE(ApplyOn(limited.service, One(Create("S1", 1))).get());
  store_.FailCommits(false);
  EXPECT_TRUE(ApplyOn(limited.service, One(Create("S2", 2))).get());
  EXPECT_FALSE(ApplyOn(limited.service, One(Create("S3", 3))).get());
}

// An expired entity takes memory until the purge removes it, so it counts until then; a new
// entity with its key takes its place.
TEST_F(ServiceTest, AnExpiredEntityCountsUntilPurged) {
  OtherService limited(store_, {.max_entities_per_tenant = 2});
  EntityOp old = Create("Old", 1);
  old.set_expires = true;
  old.expires = NowMs() - 1000;
  ASSERT_TRUE(ApplyOn(limited.service, {old, Create("Live", 2)}).get());
  EXPECT_FALSE(ApplyOn(limited.service, One(Create("New", 3))).get());
  std::promise<size_t> purged;
  limited.service.PurgeExpired([&purged](size_t n) { purged.set_value(n); });
  EXPECT_EQ(purged.get_future().get(), 1u);
  EXPECT_TRUE(ApplyOn(limited.service, One(Create("New", 3))).get());
  old.expires = NowMs() - 1000;
  ASSERT_FALSE(ApplyOn(limited.service, {old}).get());
  ASSERT_TRUE(ApplyOn(limited.service, {Delete("New")}).get());
  ASSERT_TRUE(ApplyOn(limited.service, {old}).get());
  EXPECT_TRUE(ApplyOn(limited.service, One(Create("Old", 4))).get())
      << "in the expired one's place";
  EXPECT_FALSE(ApplyOn(limited.service, One(Create("New", 3))).get());
}

// Entities loaded at start count; a tenant over a lowered limit is still written and deleted.
TEST(ServiceLimitTest, LoadedEntitiesCountAgainstTheEntityLimit) {
  StoreWithOneEntity store(Entity{.id = "Stored", .type = "Sensor", .service_path = "/"});
  OtherService limited(store, {.max_entities_per_tenant = 1});
  ASSERT_TRUE(limited.service.Load(store));
  auto refused = ApplyOn(limited.service, {Create("S1", 1)}).get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kNoResources);
  OtherService lowered(store, {.max_entities_per_tenant = 0});
  ASSERT_TRUE(lowered.service.Load(store));
  EXPECT_TRUE(ApplyOn(lowered.service, {Create("S1", 1)}).get()) << "0: no limit";
}

TEST_F(ServiceTest, FailedCommitIsReportedAndLeavesNothingVisible) {
  store_.FailCommits(true);
  auto r = Apply(One(Create("S1", 1))).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_FALSE(ValueOf("S1"));
  store_.FailCommits(false);
  EXPECT_TRUE(Apply(One(Create("S1", 2))).get()) << "the pending overlay was cleared";
  EXPECT_EQ(ValueOf("S1"), 2);
}

TEST_F(ServiceTest, GroupCommitMergesQueuedWritesInOrder) {
  store_.SetOpen(false);
  auto first = Apply(One(Create("A", 1)));
  store_.WaitForWaitingCommit();  // the writer holds A; B and C queue up behind it
  auto second = Apply(One(Create("B", 2)));
  auto third = Apply(One(Create("C", 3)));
  store_.SetOpen(true);
  ASSERT_TRUE(first.get());
  ASSERT_TRUE(second.get());
  ASSERT_TRUE(third.get());
  EXPECT_EQ(store_.EntityRows(), (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(store_.HistoryRows(), 3u);
}

TEST(WriterTest, RunsAGroupsPublishStepsThenItsEndHookThenItsCompletions) {
  GatedStore store;
  metrics::Registry metrics;
  Writer writer{store, {}, metrics};
  std::mutex mu;
  std::vector<std::string> events;
  auto note = [&](std::string e) {
    std::lock_guard lock(mu);
    events.push_back(std::move(e));
  };
  writer.SetPublishEnd([&] { note("end"); });
  store.SetOpen(false);
  WriteBatch held;
  held.history.push_back({.entity_id = "A"});
  writer.Submit(std::move(held), [&](Status) { note("done A"); });
  store.WaitForWaitingCommit();  // the writer holds A; the next three form one group
  std::promise<void> last_done;
  for (const std::string id : {"B", "C", "D"}) {
    WriteBatch b;
    b.history.push_back({.entity_id = id});
    Writer::Completion publish = nullptr;
    if (id != "C") publish = [&, id](Status s) { note("publish " + id + (s ? "" : " failed")); };
    writer.Submit(
        std::move(b),
        [&, id](Status) {
          note("done " + id);
          if (id == "D") last_done.set_value();
        },
        std::move(publish));
  }
  store.SetOpen(true);
  last_done.get_future().get();
  std::lock_guard lock(mu);
  EXPECT_EQ(events, (std::vector<std::string>{"done A", "publish B", "publish D", "end", "done B",
                                              "done C", "done D"}));
}

TEST_F(ServiceTest, TenantsAreSeparate) {
  ASSERT_TRUE(Apply(One(Create("S1", 1)), "shuiwu").get());
  EXPECT_FALSE(ValueOf("S1"));
  EXPECT_EQ(ValueOf("S1", "shuiwu"), 1);
  ASSERT_TRUE(Apply(One(Create("S1", 5)), "huanbao").get());
  EXPECT_EQ(ValueOf("S1", "shuiwu"), 1);
}

TEST_F(ServiceTest, DeleteRemovesFromQueriesAndIndexes) {
  ASSERT_TRUE(Apply(One(Create("S1", 1))).get());
  ASSERT_TRUE(Apply(One(Create("S2", 2))).get());
  ASSERT_TRUE(Apply(One(EntityOp{.kind = WriteKind::kDeleteEntity, .id = "S1"})).get());
  EntityQuery q;
  q.selectors.push_back({.type = "Sensor"});
  q.count = true;
  auto r = service_.Query("", PathScope::All(), q);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->entities.size(), 1u);
  EXPECT_EQ(r->entities[0]->id, "S2");
  EXPECT_EQ(r->total, 1u);
  EXPECT_EQ(service_.EntityCount(), 1u);
}

TEST_F(ServiceTest, AQueryGivesUpAtItsVisitLimit) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Apply(One(Create("S" + std::to_string(i), i))).get());
  EntityQuery q{.limit = 3, .max_visits = 5};
  auto early = service_.Query("", PathScope::All(), q);  // three visits are enough
  ASSERT_TRUE(early);
  EXPECT_FALSE(early->gave_up);
  EXPECT_EQ(early->entities.size(), 3u);
  q.count = true;  // counting visits all ten
  auto counted = service_.Query("", PathScope::All(), q);
  ASSERT_TRUE(counted);
  EXPECT_TRUE(counted->gave_up);
  EXPECT_TRUE(counted->entities.empty());
  q.max_visits = 0;
  auto whole = service_.Query("", PathScope::All(), q);
  ASSERT_TRUE(whole);
  EXPECT_FALSE(whole->gave_up);
  EXPECT_EQ(whole->total, 10u);
}

TEST_F(ServiceTest, TypesListTheirAttributesInFirstSeenOrderWithinTheBudget) {
  EntityOp a{.kind = WriteKind::kCreate, .id = "A1", .type = "Lamp"};
  a.attrs.emplace_back("power", Num(1));
  a.attrs.emplace_back("colour", Attribute{.type = "Text", .value = "warm"});
  EntityOp b{.kind = WriteKind::kCreate, .id = "B1", .type = "Lamp"};
  b.attrs.emplace_back("colour", Num(2700));
  b.attrs.emplace_back("level", Num(3));
  ASSERT_TRUE(Apply({a, b, Create("S1", 1)}).get());
  auto all = service_.Types("", PathScope::All(), {});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].type, "Lamp");
  EXPECT_EQ((*all)[1].type, "Sensor");
  const auto& lamp = (*all)[0];
  EXPECT_EQ(lamp.count, 2u);
  ASSERT_EQ(lamp.attrs.size(), 3u);
  EXPECT_EQ(lamp.attrs[0].first, "power");
  EXPECT_EQ(lamp.attrs[1].first, "colour");
  EXPECT_EQ(lamp.attrs[1].second, (std::vector<std::string>{"Text", "Number"}));
  EXPECT_EQ(lamp.attrs[2].first, "level");
  auto one = service_.Types("", PathScope::All(), {.type = "Sensor"});
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].count, 1u);
  auto names = service_.Types("", PathScope::All(), {.attrs = false, .max_bytes = 10});
  ASSERT_TRUE(names);
  EXPECT_TRUE((*names)[0].attrs.empty());
  auto over = service_.Types("", PathScope::All(), {.max_bytes = 60});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kNoResources);
  EXPECT_TRUE(service_.Types("", PathScope::All(), {.max_bytes = 200}));
}

// Past 32 names a type's attributes are found by hash: same answer, linear time.
TEST_F(ServiceTest, TypesWithManyAttributeNamesKeepFirstSeenOrder) {
  std::vector<EntityOp> ops;
  for (int i = 0; i < 40; ++i) {
    EntityOp op{.kind = WriteKind::kCreate, .id = "W" + std::to_string(i), .type = "Wide"};
    op.attrs.emplace_back("own_" + std::to_string(i), Num(i));
    op.attrs.emplace_back("shared", i == 39 ? Attribute{.type = "Text", .value = "x"} : Num(i));
    ops.push_back(std::move(op));
  }
  ASSERT_TRUE(Apply(std::move(ops)).get());
  auto types = service_.Types("", PathScope::All(), {.type = "Wide"});
  ASSERT_TRUE(types);
  const auto& attrs = (*types)[0].attrs;
  ASSERT_EQ(attrs.size(), 41u);
  EXPECT_EQ(attrs[0].first, "own_0");
  EXPECT_EQ(attrs[1].first, "shared");
  EXPECT_EQ(attrs[1].second, (std::vector<std::string>{"Number", "Text"}));
  EXPECT_EQ(attrs[40].first, "own_39");
}

// A client that writes to made-up tenants must not leave state behind for each one.
TEST_F(ServiceTest, AFailedWriteCreatesNoTenant) {
  EXPECT_EQ(service_.TenantCount(), 0u);
  auto missing = Apply(One(Update("S1", 2, WriteKind::kUpdate)), "made_up").get();
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service_.TenantCount(), 0u);
  ASSERT_TRUE(Apply(One(Create("S1", 1)), "made_up").get());
  EXPECT_EQ(service_.TenantCount(), 1u) << "the create made the tenant";
  EXPECT_FALSE(Apply(One(Update("S1", 2, WriteKind::kUpdate)), "other").get());
  EXPECT_FALSE(Apply({Create("S2", 1), Create("S2", 1)}, "other").get());
  EXPECT_EQ(service_.TenantCount(), 1u);
  EXPECT_EQ(ValueOf("S1", "made_up"), 1);
}

TEST_F(ServiceTest, WithAnyAttrKeepsEntitiesHoldingOneOfTheAttributes) {
  ASSERT_TRUE(Apply(One(Create("S1", 1))).get());
  EntityOp other{.kind = WriteKind::kCreate, .id = "S2", .type = "Sensor"};
  other.attrs.emplace_back("level", Num(2));
  ASSERT_TRUE(Apply(One(std::move(other))).get());
  EntityQuery q;
  q.with_any_attr = {"level", "absent"};
  auto r = service_.Query("", PathScope::All(), q);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->entities.size(), 1u);
  EXPECT_EQ(r->entities[0]->id, "S2");
  q.with_any_attr = {"t", "level"};
  EXPECT_EQ(service_.Query("", PathScope::All(), q)->entities.size(), 2u);
  q.with_any_attr = {"absent"};
  EXPECT_TRUE(service_.Query("", PathScope::All(), q)->entities.empty());
}

TEST_F(ServiceTest, ExpiredEntitiesAreAbsentAndGetPurged) {
  EntityOp op = Create("Old", 1);
  op.set_expires = true;
  op.expires = NowMs() - 1000;  // already past
  ASSERT_TRUE(Apply(One(std::move(op))).get());
  ASSERT_TRUE(Apply(One(Create("Live", 2))).get());
  EXPECT_FALSE(ValueOf("Old"));
  auto patch = Apply(One(Update("Old", 3))).get();
  ASSERT_FALSE(patch);
  EXPECT_EQ(patch.error().code, ErrorCode::kNotFound);
  std::promise<size_t> purged;
  service_.PurgeExpired([&purged](size_t n) { purged.set_value(n); });
  EXPECT_EQ(purged.get_future().get(), 1u);
  EXPECT_EQ(service_.EntityCount(), 1u);
  EXPECT_TRUE(Apply(One(Create("Old", 4))).get()) << "the id is free again";
  EXPECT_EQ(ValueOf("Old"), 4);
}

}  // namespace
}  // namespace zc::context
