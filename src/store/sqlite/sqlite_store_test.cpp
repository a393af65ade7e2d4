// Tests of the SQLite store against real database files in a temporary directory: entity,
// subscription and history round trips, history filters and windows, aggregation, pruning,
// persistence across reopen, concurrent reads during commits, and schema migrations.
#include "store/sqlite/sqlite_store.h"
#include "common/temp_dir.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "context/entity_codec.h"
#include "store/sqlite/schema.h"

namespace zc::store {
namespace {

using context::HistoryQuery;
using context::HistoryRow;
using context::WriteBatch;

context::EntityPtr MakeEntity(std::string id, std::string type, std::string sp, double temp) {
  auto e = std::make_shared<context::Entity>();
  e->id = std::move(id);
  e->type = std::move(type);
  e->service_path = std::move(sp);
  e->created = 1000;
  e->modified = 2000;
  context::Attribute a;
  a.type = "Number";
  a.value = temp;
  a.created = 1000;
  a.modified = 2000;
  e->attrs.emplace_back("temperature", std::move(a));
  return e;
}

HistoryRow Row(std::string id, std::string attr, TimeMs t, std::string value, std::string sp = "/",
               std::string tenant = "", std::string type = "Room") {
  return {std::move(tenant),
          std::move(sp),
          std::move(id),
          std::move(type),
          std::move(attr),
          "Number",
          t,
          std::move(value)};
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen(SqliteOptions options = {}) {
    store_.reset();
    auto s = SqliteStore::Open(dir_.path(), options);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    store_ = std::move(*s);
  }
  void CommitRows(std::vector<HistoryRow> rows) {
    WriteBatch b;
    b.history = std::move(rows);
    auto s = store_->Commit(b);
    ASSERT_TRUE(s.has_value()) << s.error().message;
  }
  std::vector<context::HistoryPoint> Query(HistoryQuery q) {
    auto r = store_->QueryHistory(q);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r.value_or(std::vector<context::HistoryPoint>{});
  }
  static std::vector<TimeMs> Times(const std::vector<context::HistoryPoint>& pts) {
    std::vector<TimeMs> t;
    for (const auto& p : pts) t.push_back(p.time);
    return t;
  }
  // Room1/temperature at t = 1..10 (value = t), Room1/humidity at t = 1..10, Room2 at 5.
  void CommitSeries() {
    std::vector<HistoryRow> rows;
    for (TimeMs t = 1; t <= 10; ++t) {
      rows.push_back(Row("Room1", "temperature", t, std::to_string(t)));
      rows.push_back(Row("Room1", "humidity", t, "\"h" + std::to_string(t) + "\""));
    }
    rows.push_back(Row("Room2", "temperature", 5, "50", "/a/b"));
    CommitRows(std::move(rows));
  }

  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, CreatesWalDatabaseAtCurrentVersion) {
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "zhicheng.db"));
  auto db = OpenDb(store_->File(), SQLITE_OPEN_READONLY, 1000);
  ASSERT_TRUE(db.has_value());
  auto v = SchemaVersion(db->get());
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, kSchemaVersion);
  auto st = Prepare(db->get(), "PRAGMA journal_mode");
  ASSERT_TRUE(st.has_value());
  ASSERT_EQ(sqlite3_step(st->get()), SQLITE_ROW);
  EXPECT_EQ(ColumnText(st->get(), 0), "wal");
}

TEST_F(SqliteStoreTest, EntitiesRoundTripAndDelete) {
  WriteBatch b;
  b.entities.push_back({"t1", {"R1", "Room", "/a"}, MakeEntity("R1", "Room", "/a", 21.5)});
  b.entities.push_back({"", {"R2", "Room", "/"}, MakeEntity("R2", "Room", "/", 19)});
  ASSERT_TRUE(store_->Commit(b).has_value());
  WriteBatch update;  // upsert replaces the document
  update.entities.push_back({"t1", {"R1", "Room", "/a"}, MakeEntity("R1", "Room", "/a", 30)});
  ASSERT_TRUE(store_->Commit(update).has_value());

  std::map<std::string, std::string> loaded;
  ASSERT_TRUE(store_
                  ->LoadEntities([&](std::string tenant, context::Entity e) {
                    loaded[tenant + "|" + e.id] = context::EncodeEntity(e);
                  })
                  .has_value());
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded["t1|R1"], context::EncodeEntity(*MakeEntity("R1", "Room", "/a", 30)));
  EXPECT_EQ(loaded["|R2"], context::EncodeEntity(*MakeEntity("R2", "Room", "/", 19)));

  WriteBatch del;
  del.entities.push_back({"t1", {"R1", "Room", "/a"}, nullptr});
  ASSERT_TRUE(store_->Commit(del).has_value());
  loaded.clear();
  ASSERT_TRUE(store_
                  ->LoadEntities([&](std::string tenant, context::Entity e) {
                    loaded[tenant + "|" + e.id] = "";
                  })
                  .has_value());
  EXPECT_EQ(loaded.size(), 1u);
  EXPECT_TRUE(loaded.contains("|R2"));
}

TEST_F(SqliteStoreTest, SubscriptionsUpsertAndDelete) {
  WriteBatch b;
  b.subscriptions.push_back({"t", "s1", std::string(R"({"a":1})")});
  b.subscriptions.push_back({"t", "s2", std::string(R"({"b":2})")});
  ASSERT_TRUE(store_->Commit(b).has_value());
  WriteBatch c;
  c.subscriptions.push_back({"t", "s1", std::string(R"({"a":3})")});
  c.subscriptions.push_back({"t", "s2", std::nullopt});
  ASSERT_TRUE(store_->Commit(c).has_value());
  std::vector<std::string> seen;
  ASSERT_TRUE(store_
                  ->LoadSubscriptions([&](std::string tenant, std::string id, std::string doc) {
                    seen.push_back(tenant + "/" + id + "=" + doc);
                  })
                  .has_value());
  EXPECT_EQ(seen, std::vector<std::string>{R"(t/s1={"a":3})"});
}

TEST_F(SqliteStoreTest, HistoryFiltersByEntityAttrTypeAndTime) {
  CommitSeries();
  HistoryQuery q;
  q.entity_ids = {"Room1"};
  q.attrs = {"temperature"};
  auto pts = Query(q);
  ASSERT_EQ(pts.size(), 10u);
  EXPECT_EQ(pts.front().value_json, "1");
  EXPECT_EQ(pts.back().time, 10);
  EXPECT_EQ(pts.front().entity_type, "Room");

  q.from = 3;
  q.to = 6;
  EXPECT_EQ(Times(Query(q)), (std::vector<TimeMs>{3, 4, 5, 6}));

  HistoryQuery all_temps;
  all_temps.attrs = {"temperature"};
  all_temps.entity_types = {"Room"};
  EXPECT_EQ(Query(all_temps).size(), 11u);
  all_temps.entity_types = {"Car"};
  EXPECT_TRUE(Query(all_temps).empty());

  HistoryQuery other_tenant;
  other_tenant.tenant = "elsewhere";
  EXPECT_TRUE(Query(other_tenant).empty());
}

// More rows than one multi-row insert takes (32): two full statements and a remainder, in
// three series whose rows interleave in the batch.
TEST_F(SqliteStoreTest, EveryRowOfALargeCommitIsStoredInItsSeries) {
  std::vector<HistoryRow> rows;
  for (TimeMs t = 1; t <= 25; ++t) {
    for (const char* room : {"RoomA", "RoomB", "RoomC"}) {
      rows.push_back(Row(room, "temperature", t, std::string(room) + "-" + std::to_string(t)));
      if (t % 7 == 0) rows.back().metadata_json = R"({"unit":{"type":"Text","value":"CEL"}})";
    }
  }
  ASSERT_EQ(rows.size(), 75u);
  CommitRows(std::move(rows));
  for (const char* room : {"RoomA", "RoomB", "RoomC"}) {
    HistoryQuery q;
    q.entity_ids = {room};
    auto pts = Query(q);
    ASSERT_EQ(pts.size(), 25u) << room;
    for (size_t i = 0; i < pts.size(); ++i) {
      EXPECT_EQ(pts[i].time, static_cast<TimeMs>(i + 1)) << room;
      EXPECT_EQ(pts[i].value_json, std::string(room) + "-" + std::to_string(i + 1)) << room;
    }
  }
  HistoryQuery all;
  all.last_n = 1000;
  EXPECT_EQ(Query(all).size(), 75u);
}

TEST_F(SqliteStoreTest, HistoryLastNLimitOffset) {
  CommitSeries();
  HistoryQuery q;
  q.entity_ids = {"Room1"};
  q.attrs = {"temperature"};
  q.last_n = 3;
  EXPECT_EQ(Times(Query(q)), (std::vector<TimeMs>{8, 9, 10}));  // still ascending
  q.limit = 2;
  EXPECT_EQ(Times(Query(q)), (std::vector<TimeMs>{9, 10}));
  q.last_n.reset();
  q.limit = 3;
  q.offset = 4;
  EXPECT_EQ(Times(Query(q)), (std::vector<TimeMs>{5, 6, 7}));
  q.offset = 100;
  EXPECT_TRUE(Query(q).empty());
}

TEST_F(SqliteStoreTest, HistoryCountsInstants) {
  CommitSeries();
  HistoryQuery q;
  q.entity_ids = {"Room1"};
  q.count_instants = true;
  q.limit = 2;
  q.offset = 1;
  auto pts = Query(q);
  ASSERT_EQ(pts.size(), 4u);  // two instants of two attributes each
  EXPECT_EQ(Times(pts), (std::vector<TimeMs>{2, 2, 3, 3}));
  q.offset = 0;
  q.last_n = 1;
  EXPECT_EQ(Times(Query(q)), (std::vector<TimeMs>{10, 10}));
}

TEST_F(SqliteStoreTest, HistoryServicePathScopes) {
  CommitRows({Row("E1", "x", 1, "1", "/a"), Row("E2", "x", 2, "2", "/a/b"),
              Row("E3", "x", 3, "3", "/ab"), Row("E4", "x", 4, "4", "/")});
  auto ids = [&](std::vector<std::string> scopes) {
    HistoryQuery q;
    q.service_paths = std::move(scopes);
    std::string s;
    for (const auto& p : Query(q)) s += p.entity_id;
    return s;
  };
  EXPECT_EQ(ids({}), "E1E2E3E4");
  EXPECT_EQ(ids({"/a"}), "E1");
  EXPECT_EQ(ids({"/a/#"}), "E1E2");
  EXPECT_EQ(ids({"/#"}), "E1E2E3E4");
  EXPECT_EQ(ids({"/", "/ab"}), "E3E4");
}

TEST_F(SqliteStoreTest, AggregatesOverRangeAndBuckets) {
  constexpr TimeMs kDay = 86'400'000;
  std::vector<HistoryRow> rows;
  for (int d = 0; d < 3; ++d) {
    for (int i = 0; i < 4; ++i) {
      rows.push_back(Row("R", "t", d * kDay + i * 1000, std::to_string(i)));
    }
  }
  rows.push_back(Row("R", "t", 5, "\"text\""));
  CommitRows(std::move(rows));
  context::HistoryAggregateQuery aq;
  aq.filter.entity_ids = {"R"};
  aq.method = context::AggrMethod::kCount;
  auto r = store_->AggregateHistory(aq);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->at(0).value, 13.0);

  aq.method = context::AggrMethod::kAvg;
  aq.period = context::AggrPeriod::kDay;
  r = store_->AggregateHistory(aq);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ(r->at(1).start, kDay);
  EXPECT_EQ(r->at(1).value, 1.5);

  aq.method = context::AggrMethod::kMax;
  aq.period = context::AggrPeriod::kMonth;
  aq.filter.last_n = 1;
  r = store_->AggregateHistory(aq);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->at(0).start, 0);
  EXPECT_EQ(r->at(0).value, 3.0);

  CommitRows({Row("T", "s", 1, "\"a\"")});
  aq = {};
  aq.filter.entity_ids = {"T"};
  aq.method = context::AggrMethod::kSum;
  r = store_->AggregateHistory(aq);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_FALSE(r->at(0).value.has_value());
}

// Rows with a time their writer stated (a device's TimeInstant) are indexed, filtered and
// ordered by it, whether they arrive in order or not, and wherever they are stored: staged,
// or directly in small chunks, where a late row lands in a newer chunk than rows it precedes.
TEST_F(SqliteStoreTest, HistoryIsIndexedAtTheStatedTime) {
  SqliteOptions direct;
  direct.history_direct_rows = 0;
  direct.history_chunk_rows = 2;
  int round = 0;  // small chunks first: a later reopen with larger ones starts a new chunk
  for (const SqliteOptions& options : {direct, SqliteOptions{}}) {
    Reopen(options);
    const std::string id = "Gauge" + std::to_string(round++);
    // Change times 100..103; stated times out of order, one row without.
    std::vector<HistoryRow> rows;
    const std::optional<TimeMs> stated[] = {4000, 1000, 3000, std::nullopt};
    for (TimeMs t = 100; t <= 103; ++t) {
      rows.push_back(Row(id, "level", t, std::to_string(t)));
      rows.back().observed = stated[t - 100];
    }
    CommitRows(std::move(rows));
    HistoryRow late = Row(id, "level", 104, "104");  // a buffered reading, sent later
    late.observed = 2000;
    CommitRows({late});

    HistoryQuery q;
    q.entity_ids = {id};
    auto all = Query(q);
    EXPECT_EQ(Times(all), (std::vector<TimeMs>{103, 1000, 2000, 3000, 4000}));
    std::vector<std::string> values;
    for (const auto& p : all) values.push_back(p.value_json);
    EXPECT_EQ(values, (std::vector<std::string>{"103", "101", "104", "102", "100"}));
    q.from = 1500;
    q.to = 3500;
    EXPECT_EQ(Times(Query(q)), (std::vector<TimeMs>{2000, 3000}));
    q.from = q.to = std::nullopt;
    q.last_n = 2;
    EXPECT_EQ(Times(Query(q)), (std::vector<TimeMs>{3000, 4000}));
  }
}

TEST_F(SqliteStoreTest, PrunesWholeAndPartialChunks) {
  SqliteOptions small;
  small.history_chunk_rows = 4;
  Reopen(small);
  std::vector<HistoryRow> rows;
  for (TimeMs t = 0; t < 10; ++t) rows.push_back(Row("R", "t", t, std::to_string(t)));
  CommitRows(std::move(rows));
  auto removed = store_->PruneHistory(6);
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  EXPECT_EQ(*removed, 6u);
  EXPECT_EQ(Times(Query({})), (std::vector<TimeMs>{6, 7, 8, 9}));
  removed = store_->PruneHistory(6);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(*removed, 0u);
  CommitRows({Row("R", "t", 20, "20")});  // writes continue after pruning
  EXPECT_EQ(Times(Query({})), (std::vector<TimeMs>{6, 7, 8, 9, 20}));
}

// A deletion removes what a read with the same selection shows, from chunks written
// directly and from rows still staged, and nothing else: not another attribute, entity,
// type, service path or tenant, and not outside the time range.
TEST_F(SqliteStoreTest, DeleteHistoryRemovesWhatTheSelectionNames) {
  SqliteOptions small;
  small.history_chunk_rows = 4;
  small.history_direct_rows = 8;  // CommitSeries' 21 rows go to history, a one-row commit is staged
  Reopen(small);
  CommitSeries();
  CommitRows({Row("Room1", "temperature", 11, "11")});
  CommitRows({Row("Room1", "temperature", 3, "3", "/", "other")});
  auto remove = [&](HistoryQuery q) {
    auto n = store_->DeleteHistory(q);
    EXPECT_TRUE(n.has_value()) << n.error().message;
    return n.value_or(0);
  };
  HistoryQuery temperature;
  temperature.entity_ids = {"Room1"};
  temperature.attrs = {"temperature"};
  HistoryQuery range = temperature;
  range.from = 3;
  range.to = 5;
  EXPECT_EQ(remove(range), 3u);
  EXPECT_EQ(Times(Query(temperature)), (std::vector<TimeMs>{1, 2, 6, 7, 8, 9, 10, 11}));
  HistoryQuery humidity = temperature;
  humidity.attrs = {"humidity"};
  EXPECT_EQ(Query(humidity).size(), 10u);

  HistoryQuery staged = temperature;
  staged.from = 11;
  EXPECT_EQ(remove(staged), 1u) << "the staged row";
  HistoryQuery other_type;
  other_type.entity_types = {"Store"};
  EXPECT_EQ(remove(other_type), 0u);
  HistoryQuery exact_path;
  exact_path.service_paths = {"/a"};
  EXPECT_EQ(remove(exact_path), 0u) << "Room2 is under /a/b";
  HistoryQuery subtree;
  subtree.service_paths = {"/a/#"};
  EXPECT_EQ(remove(subtree), 1u);
  EXPECT_EQ(remove(subtree), 0u) << "nothing left to delete";

  Reopen(small);
  EXPECT_EQ(Times(Query(temperature)), (std::vector<TimeMs>{1, 2, 6, 7, 8, 9, 10}));
  EXPECT_EQ(Query(humidity).size(), 10u);
  HistoryQuery other_tenant;
  other_tenant.tenant = "other";
  EXPECT_EQ(Query(other_tenant).size(), 1u);
  HistoryQuery all;
  EXPECT_EQ(remove(all), 17u);
  CommitRows({Row("Room1", "temperature", 20, "20")});  // writes go on after a deletion
  EXPECT_EQ(Times(Query({})), (std::vector<TimeMs>{20}));
}

// Retention goes by the time index: a reading stated long ago is pruned even though it
// arrived last, and one stated recently is kept even though it arrived first.
TEST_F(SqliteStoreTest, PruningFollowsTheStatedTime) {
  SqliteOptions small;
  small.history_chunk_rows = 4;
  small.history_direct_rows = 0;
  Reopen(small);
  HistoryRow recent = Row("R", "t", 100, "\"recent\"");
  recent.observed = 5000;
  CommitRows({recent});
  std::vector<HistoryRow> later;
  for (TimeMs t = 101; t < 110; ++t) later.push_back(Row("R", "t", t, std::to_string(t)));
  later.back().observed = 50;  // a buffered reading from long ago, arriving late
  CommitRows(std::move(later));
  // Later rows close its chunk (the chunk being written is never pruned).
  std::vector<HistoryRow> closing;
  for (TimeMs t = 110; t < 115; ++t) closing.push_back(Row("S", "t", t + 2000, "0"));
  CommitRows(std::move(closing));
  auto removed = store_->PruneHistory(1000);
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  HistoryQuery q;
  q.entity_ids = {"R"};
  const auto times = Times(Query(q));
  EXPECT_EQ(std::count(times.begin(), times.end(), 50), 0) << "the old reading is pruned";
  EXPECT_EQ(std::count(times.begin(), times.end(), 5000), 1) << "the recent one is kept";
}

// The listing finds each entity's latest time in range wherever it lies: in an older chunk
// behind newer ones (a series gone silent, with a late row in the newest chunk), stated
// early by a late row, or still staged. Direct and staged writes alike.
TEST_F(SqliteStoreTest, ListsEntitiesWithTheirLatestTime) {
  for (const size_t direct_rows : {size_t{0}, size_t{1000}}) {
    SCOPED_TRACE(direct_rows);
    SqliteOptions small;
    small.history_chunk_rows = 4;
    small.history_direct_rows = direct_rows;  // 0: every row to history; 1000: staged first
    Reopen(small);
    const std::string tenant = "t" + std::to_string(direct_rows);
    CommitRows({Row("B", "t", 10, "1", "/", tenant)});
    CommitRows({Row("C", "v", 12, "1", "/x", tenant, "Car")});
    for (TimeMs t = 20; t < 26; ++t) CommitRows({Row("A", "t", t, "1", "/", tenant)});
    ASSERT_TRUE(store_->Flush(context::ContextStore::FlushMode::kAll).has_value());
    for (TimeMs t = 26; t < 32; ++t) CommitRows({Row("A", "t", t, "1", "/", tenant)});
    HistoryRow late = Row("A", "h", 40, "1", "/", tenant);
    late.observed = 3;  // a buffered reading: written last, stated early
    CommitRows({late, Row("B", "t", 8, "1", "/", tenant)});

    auto list = [&](HistoryQuery q) {
      q.tenant = tenant;
      auto r = store_->ListHistoryEntities(q);
      EXPECT_TRUE(r.has_value()) << r.error().message;
      std::vector<std::string> out;
      for (const auto& e : r.value_or(std::vector<context::HistoryEntity>{})) {
        out.push_back(fmt::format("{}/{}@{}", e.entity_id, e.entity_type, e.latest));
      }
      return out;
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(list({}), (V{"A/Room@31", "B/Room@10", "C/Car@12"}));
    HistoryQuery q;
    q.entity_types = {"Room"};
    EXPECT_EQ(list(q), (V{"A/Room@31", "B/Room@10"}));
    q = {};
    q.to = 15;
    EXPECT_EQ(list(q), (V{"A/Room@3", "B/Room@10", "C/Car@12"}));
    q = {};
    q.from = 11;
    q.to = 30;
    EXPECT_EQ(list(q), (V{"A/Room@30", "C/Car@12"}));
    q = {};
    q.offset = 1;
    q.limit = 1;
    EXPECT_EQ(list(q), (V{"B/Room@10"}));
    q = {};
    q.service_paths = {"/x"};
    EXPECT_EQ(list(q), (V{"C/Car@12"}));
    q = {};
    q.from = 100;
    EXPECT_EQ(list(q), V{});
  }
}

TEST_F(SqliteStoreTest, PersistsAcrossReopen) {
  CommitSeries();
  WriteBatch b;
  b.entities.push_back({"", {"R1", "Room", "/"}, MakeEntity("R1", "Room", "/", 1)});
  ASSERT_TRUE(store_->Commit(b).has_value());
  Reopen();
  int entities = 0;
  ASSERT_TRUE(store_->LoadEntities([&](std::string, context::Entity) { ++entities; }).has_value());
  EXPECT_EQ(entities, 1);
  EXPECT_TRUE(store_->AwaitSeriesCache().has_value());  // loaded beside LoadEntities
  CommitRows({Row("Room1", "temperature", 11, "11")});  // existing series, new chunk
  HistoryQuery q;
  q.entity_ids = {"Room1"};
  q.attrs = {"temperature"};
  EXPECT_EQ(Query(q).size(), 11u);
}

TEST_F(SqliteStoreTest, ReadsRunConcurrentlyWithCommits) {
  constexpr int kBatches = 50;
  std::atomic<bool> writer_done = false;
  std::thread writer([&] {
    for (int i = 0; i < kBatches; ++i) {
      std::vector<HistoryRow> rows;
      for (int e = 0; e < 20; ++e) rows.push_back(Row("E" + std::to_string(e), "v", i, "1"));
      WriteBatch b;
      b.history = std::move(rows);
      EXPECT_TRUE(b.history.size() == 20 && store_->Commit(b).has_value());
    }
    writer_done = true;
  });
  size_t last = 0;
  int reads = 0;
  while (!writer_done || reads == 0) {
    auto r = store_->QueryHistory({});
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->size() % 20, 0u);  // whole batches only: commits are atomic
    EXPECT_GE(r->size(), last);
    last = r->size();
    ++reads;
  }
  writer.join();
  EXPECT_EQ(Query({}).size(), 20u * kBatches);
}

// The rows of a table, read through a connection of the test's own.
int64_t CountRows(const std::filesystem::path& file, const std::string& table) {
  auto db = OpenDb(file, SQLITE_OPEN_READONLY, 1000);
  EXPECT_TRUE(db.has_value());
  auto st = Prepare(db->get(), "SELECT count(*) FROM " + table);
  EXPECT_TRUE(st.has_value());
  EXPECT_EQ(sqlite3_step(st->get()), SQLITE_ROW);
  return sqlite3_column_int64(st->get(), 0);
}

// The value of zhicheng_store_staged_history_rows in `metrics` (-1 when absent).
int64_t StagedGauge(metrics::Registry& metrics) {
  const std::string text = metrics.Render();
  const std::string name = "\nzhicheng_store_staged_history_rows ";
  const size_t at = text.find(name);
  return at == std::string::npos ? -1 : std::stoll(text.substr(at + name.size()));
}

// Every read a client can make of the rows below, rendered as one string per read.
std::vector<std::string> ReadEverything(SqliteStore& store) {
  std::vector<HistoryQuery> queries(6);
  queries[1].entity_ids = {"R1"};
  queries[1].attrs = {"t"};
  queries[2].last_n = 5;
  queries[3].from = 10;
  queries[3].to = 20;
  queries[3].entity_types = {"Room"};
  queries[4].count_instants = true;
  queries[4].offset = 2;
  queries[4].limit = 3;
  queries[5].service_paths = {"/a/#"};
  std::vector<std::string> out;
  for (const HistoryQuery& q : queries) {
    std::string text;
    const auto points = store.QueryHistory(q);
    EXPECT_TRUE(points.has_value());
    for (const auto& p : points.value_or(std::vector<context::HistoryPoint>{})) {
      text +=
          fmt::format("{}/{}/{}@{}={} ", p.entity_id, p.entity_type, p.attr, p.time, p.value_json);
    }
    out.push_back(text);
  }
  for (auto period : {context::AggrPeriod::kNone, context::AggrPeriod::kSecond}) {
    context::HistoryAggregateQuery aq;
    aq.method = context::AggrMethod::kAvg;
    aq.period = period;
    std::string text;
    const auto buckets = store.AggregateHistory(aq);
    EXPECT_TRUE(buckets.has_value());
    for (const auto& b : buckets.value_or(std::vector<context::HistoryBucket>{})) {
      text += fmt::format("{}/{}@{}={} ", b.entity_id, b.attr, b.start, b.value.value_or(-1));
    }
    out.push_back(text);
  }
  return out;
}

// Small commits stage their rows (staged_history.cpp); the reads must not tell where rows
// are: staged, in the middle of a sweep, moved into history, or written there directly.
TEST(SqliteStagedHistoryTest, ReadsAreTheSameWhereverTheRowsAre) {
  enum Mode { kDirect, kStaged, kSweeping };
  std::vector<std::vector<std::string>> reads;
  for (Mode mode : {kDirect, kStaged, kSweeping}) {
    SqliteOptions options;
    if (mode == kDirect) options.history_direct_rows = 0;  // no commit is small enough
    if (mode == kSweeping) {
      options.history_staged_rows = 20;   // a sweep starts once 20 rows wait
      options.history_move_min_rows = 1;  // and moves a series or two per commit
      options.history_chunk_rows = 10;
    }
    TempDir dir;
    auto store = SqliteStore::Open(dir.path(), options);
    ASSERT_TRUE(store.has_value()) << store.error().message;
    metrics::Registry metrics;
    (*store)->ExportMetrics(metrics);
    const auto file = (*store)->File();
    int64_t sweeping_reads = 0;         // reads made while a sweep had moved some rows, not all
    for (TimeMs t = 1; t <= 30; ++t) {  // 45 rows in 30 commits of one or two rows
      WriteBatch b;
      b.history.push_back(Row("R" + std::to_string(t % 5), "t", t * 500, std::to_string(t)));
      if (t % 2 == 0) b.history.push_back(Row("R9", "h", t * 500, "\"x\"", "/a/b", "", "Car"));
      ASSERT_TRUE((*store)->Commit(b).has_value());
      const int64_t in_history = CountRows(file, "history");
      const int64_t in_staged = CountRows(file, "history_staged");
      EXPECT_EQ(StagedGauge(metrics), t + t / 2 - in_history) << "at t = " << t;
      if (mode == kSweeping && in_history > 0 && in_staged > 0) {
        ++sweeping_reads;
        auto everything = (*store)->QueryHistory({});
        ASSERT_TRUE(everything.has_value());
        EXPECT_EQ(everything->size(), t + t / 2) << "each row once, at t = " << t;
      }
    }
    reads.push_back(ReadEverything(**store));
    const int64_t in_history = CountRows(file, "history");
    const int64_t in_staged = CountRows(file, "history_staged");
    if (mode == kDirect) {
      EXPECT_EQ(in_staged, 0);
      EXPECT_EQ(in_history, 45);
    }
    if (mode == kStaged) {
      EXPECT_EQ(in_history, 0);
      EXPECT_EQ(in_staged, 45);
    }
    if (mode == kSweeping) {
      EXPECT_GE(sweeping_reads, 4) << "the sweeps took several commits";
      EXPECT_GT(in_history, 0);
      ASSERT_TRUE((*store)->Flush(context::ContextStore::FlushMode::kDue).has_value());
      EXPECT_EQ(CountRows(file, "history_staged"), 0) << "an idle writer moves them all";
      EXPECT_EQ(StagedGauge(metrics), 0);
      EXPECT_EQ(CountRows(file, "history"), 45);
      EXPECT_EQ(ReadEverything(**store), reads.back());
    }
  }
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_EQ(reads[0], reads[1]);
  EXPECT_EQ(reads[0], reads[2]);
  EXPECT_EQ(reads[0][1].substr(0, 16), "R1/Room/t@500=1 ") << reads[0][1];
  EXPECT_EQ(std::count(reads[0][0].begin(), reads[0][0].end(), '@'), 45);
}

// A commit of history_direct_rows rows or more writes them to history at once. A restart in
// the middle of a sweep moves the rest before anything else: nothing lost, nothing twice.
TEST(SqliteStagedHistoryTest, LargeCommitsGoToHistoryAndARestartFinishesTheSweep) {
  TempDir dir;
  SqliteOptions options;
  options.history_direct_rows = 3;
  options.history_staged_rows = 4;
  options.history_move_min_rows = 1;
  {
    auto store = SqliteStore::Open(dir.path(), options);
    ASSERT_TRUE(store.has_value());
    WriteBatch big;
    for (TimeMs t = 1; t <= 3; ++t) big.history.push_back(Row("A", "t", t, std::to_string(t)));
    ASSERT_TRUE((*store)->Commit(big).has_value());
    EXPECT_EQ(CountRows((*store)->File(), "history"), 3);
    EXPECT_EQ(CountRows((*store)->File(), "history_staged"), 0);
    for (TimeMs t = 4; t <= 7; ++t) {  // four series; the fourth row starts a sweep
      WriteBatch one;
      one.history = {Row("S" + std::to_string(t), "t", t, std::to_string(t))};
      ASSERT_TRUE((*store)->Commit(one).has_value());
    }
    EXPECT_EQ(CountRows((*store)->File(), "history"), 5) << "the sweep's first step: 2 rows";
    EXPECT_EQ(CountRows((*store)->File(), "history_staged"), 4);
    EXPECT_EQ((*store)->QueryHistory({}).value_or(std::vector<context::HistoryPoint>{}).size(), 7u);
  }  // no Flush: as after a crash
  auto store = SqliteStore::Open(dir.path(), options);
  ASSERT_TRUE(store.has_value());
  EXPECT_EQ(CountRows((*store)->File(), "history_staged"), 0);
  EXPECT_EQ(CountRows((*store)->File(), "history"), 7);
  const std::vector<std::string> reads = ReadEverything(**store);
  EXPECT_EQ(std::count(reads[0].begin(), reads[0].end(), '@'), 7) << reads[0];
  EXPECT_NE(reads[0].find("S7/Room/t@7=7 "), std::string::npos) << reads[0];
}

// Runs `sql` on the store's file through a connection of the test's own (triggers that
// make the writer's statements fail, as a full disk would).
void ExecOnFile(const std::filesystem::path& file, const std::string& sql) {
  auto db = OpenDb(file, SQLITE_OPEN_READWRITE, 1000);
  ASSERT_TRUE(db.has_value());
  ASSERT_TRUE(Exec(db->get(), sql.c_str()).has_value()) << sql;
}

// Every history row the store returns, as "entity@time=value " in time order.
std::string AllHistory(SqliteStore& store) {
  std::string text;
  for (const auto& p : store.QueryHistory({}).value_or(std::vector<context::HistoryPoint>{})) {
    text += fmt::format("{}@{}={} ", p.entity_id, p.time, p.value_json);
  }
  return text;
}

// After a failed commit, the next one needs room for itself only: it does not first move
// everything staged into history (which, after a full disk, can need far more room than
// the commit). Moves into history are made to fail here, as they would on a full disk.
TEST(SqliteStagedHistoryTest, TheCommitAfterAFailedOneNeedsNoRoomForTheStagedRows) {
  TempDir dir;
  auto store = SqliteStore::Open(dir.path());
  ASSERT_TRUE(store.has_value());
  const auto file = (*store)->File();
  auto commit = [&](TimeMs t, const std::string& value) {
    WriteBatch b;
    b.history = {Row("R" + std::to_string(t), "t", t, value)};
    return (*store)->Commit(b);
  };
  ASSERT_TRUE(commit(1, "1").has_value());
  ASSERT_TRUE(commit(2, "2").has_value());
  ExecOnFile(file,
             "CREATE TRIGGER boom BEFORE INSERT ON history_staged WHEN NEW.value = '\"boom\"' "
             "BEGIN SELECT RAISE(ABORT, 'boom'); END;"
             "CREATE TRIGGER no_moves BEFORE INSERT ON history "
             "BEGIN SELECT RAISE(ABORT, 'no room to move'); END;");
  EXPECT_FALSE(commit(3, "\"boom\"").has_value());
  auto after = commit(4, "4");
  EXPECT_TRUE(after.has_value()) << after.error().message;
  EXPECT_TRUE(commit(5, "5").has_value());
  EXPECT_FALSE((*store)->Flush(context::ContextStore::FlushMode::kDue).has_value())
      << "the idle move still cannot run";
  EXPECT_TRUE(commit(6, "6").has_value()) << "nor does its failure stop the next commit";
  EXPECT_EQ(AllHistory(**store), "R1@1=1 R2@2=2 R4@4=4 R5@5=5 R6@6=6 ");

  ExecOnFile(file, "DROP TRIGGER boom; DROP TRIGGER no_moves;");
  ASSERT_TRUE((*store)->Flush(context::ContextStore::FlushMode::kDue).has_value());
  EXPECT_EQ(CountRows(file, "history_staged"), 0);
  EXPECT_EQ(CountRows(file, "history"), 5);
  EXPECT_EQ(AllHistory(**store), "R1@1=1 R2@2=2 R4@4=4 R5@5=5 R6@6=6 ");
}

// A commit that fails in the middle of a sweep: the index read back from the table and
// the mark goes on with the sweep where the database is, and every row that was
// acknowledged ends in history once, through restarts too.
TEST(SqliteStagedHistoryTest, AFailedCommitInTheMiddleOfASweep) {
  TempDir dir;
  SqliteOptions options;
  options.history_staged_rows = 6;    // a sweep starts once 6 rows wait
  options.history_move_min_rows = 1;  // and moves a series or two per commit
  options.history_chunk_rows = 4;
  auto store = SqliteStore::Open(dir.path(), options);
  ASSERT_TRUE(store.has_value());
  const auto file = (*store)->File();
  ExecOnFile(file,
             "CREATE TRIGGER boom BEFORE INSERT ON history_staged WHEN NEW.value = '\"boom\"' "
             "BEGIN SELECT RAISE(ABORT, 'boom'); END;");
  std::string expected;
  size_t acknowledged = 0;
  int64_t failed_mid_sweep = 0;
  for (TimeMs t = 1; t <= 40; ++t) {
    WriteBatch b;
    const bool fail = t % 7 == 0;
    b.history = {Row("R" + std::to_string(t % 3), "t", t, fail ? "\"boom\"" : std::to_string(t))};
    const bool sweeping = CountRows(file, "history") > 0 && CountRows(file, "history_staged") > 0;
    const auto result = (*store)->Commit(b);
    ASSERT_EQ(result.has_value(), !fail) << "at t = " << t;
    if (fail && sweeping) ++failed_mid_sweep;
    if (!fail) {
      expected += fmt::format("R{}@{}={} ", t % 3, t, t);
      ++acknowledged;
    }
    ASSERT_EQ((*store)->QueryHistory({}).value_or(std::vector<context::HistoryPoint>{}).size(),
              acknowledged)
        << "each acknowledged row once, nothing of a failed commit, at t = " << t;
  }
  EXPECT_GE(failed_mid_sweep, 2);
  EXPECT_EQ(AllHistory(**store), expected);
  store->reset();  // no Flush: as after a crash
  store = SqliteStore::Open(dir.path(), options);
  ASSERT_TRUE(store.has_value());
  EXPECT_EQ(CountRows(file, "history_staged"), 0);
  EXPECT_EQ(CountRows(file, "history"), static_cast<int64_t>(acknowledged));
  EXPECT_EQ(AllHistory(**store), expected);
}

// Retention on a full disk: the staged rows cannot move into history (that needs room for
// all of them), so the prune leaves the chunks that hold staged rows for a later run and
// removes the older ones, which is what makes room. Nothing staged is lost or misplaced.
TEST(SqliteStagedHistoryTest, RetentionPrunesOlderChunksWhenStagedRowsCannotMove) {
  TempDir dir;
  SqliteOptions options;
  options.history_chunk_rows = 4;
  options.history_direct_rows = 3;  // commits of 3 rows or more go to history directly
  auto store = SqliteStore::Open(dir.path(), options);
  ASSERT_TRUE(store.has_value());
  const auto file = (*store)->File();
  WriteBatch old_rows;  // times 1..8: chunks 0 and 1, in history
  for (TimeMs t = 1; t <= 8; ++t) old_rows.history.push_back(Row("A", "t", t, std::to_string(t)));
  ASSERT_TRUE((*store)->Commit(old_rows).has_value());
  for (TimeMs t : {10, 100}) {  // staged, in chunk 2; one of them is older than the bound
    WriteBatch one;
    one.history = {Row("B", "t", t, std::to_string(t))};
    ASSERT_TRUE((*store)->Commit(one).has_value());
  }
  WriteBatch later;  // chunks 2 and 3, in history: chunk 2 holds these and the staged rows
  for (TimeMs t = 200; t < 204; ++t) later.history.push_back(Row("C", "t", t, std::to_string(t)));
  ASSERT_TRUE((*store)->Commit(later).has_value());
  ExecOnFile(file,
             "CREATE TRIGGER no_moves BEFORE INSERT ON history "
             "BEGIN SELECT RAISE(ABORT, 'no room to move'); END;");
  auto removed = (*store)->PruneHistory(50);
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  EXPECT_EQ(*removed, 8u) << "chunks 0 and 1; not chunk 2, which holds staged rows";
  EXPECT_EQ(AllHistory(**store), "B@10=10 B@100=100 C@200=200 C@201=201 C@202=202 C@203=203 ");

  ExecOnFile(file, "DROP TRIGGER no_moves;");
  removed = (*store)->PruneHistory(50);  // the staged rows move first now
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  EXPECT_EQ(*removed, 1u);
  EXPECT_EQ(CountRows(file, "history_staged"), 0);
  EXPECT_EQ(AllHistory(**store), "B@100=100 C@200=200 C@201=201 C@202=202 C@203=203 ");
}

TEST(SqliteMigrationTest, MigratesFreshAndExistingDatabases) {
  TempDir dir;
  const auto file = dir.path() / "zhicheng.db";
  {  // an existing file from before versioning: one unrelated table, no schema_version
    auto db = OpenDb(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000);
    ASSERT_TRUE(db.has_value());
    ASSERT_TRUE(Exec(db->get(), "CREATE TABLE legacy(x)").has_value());
    EXPECT_EQ(SchemaVersion(db->get()).value_or(-1), 0);
  }
  for (int i = 0; i < 2; ++i) {  // the second open finds nothing to do
    auto store = SqliteStore::Open(dir.path());
    ASSERT_TRUE(store.has_value()) << store.error().message;
  }
  auto db = OpenDb(file, SQLITE_OPEN_READWRITE, 1000);
  ASSERT_TRUE(db.has_value());
  EXPECT_EQ(SchemaVersion(db->get()).value_or(-1), kSchemaVersion);
  auto rows = Prepare(db->get(), "SELECT count(*) FROM schema_version");
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(sqlite3_step(rows->get()), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(rows->get(), 0), kSchemaVersion);
}

TEST(SqliteMigrationTest, RefusesNewerSchema) {
  TempDir dir;
  ASSERT_TRUE(SqliteStore::Open(dir.path()).has_value());
  {
    auto db = OpenDb(dir.path() / "zhicheng.db", SQLITE_OPEN_READWRITE, 1000);
    ASSERT_TRUE(db.has_value());
    ASSERT_TRUE(Exec(db->get(), "INSERT INTO schema_version VALUES(99, 0)").has_value());
  }
  auto store = SqliteStore::Open(dir.path());
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kInternal);
  EXPECT_NE(store.error().message.find("newer"), std::string::npos);
}

// A damaged file is DataLoss (the start-up says to restore a backup), whether SQLite finds
// it damaged or a stored document does not decode.
TEST(SqliteStoreOpenTest, ADamagedFileIsDataLoss) {
  TempDir garbage;
  {
    std::ofstream out(garbage.path() / SqliteStore::kFileName, std::ios::binary);
    out << std::string(8192, '\xa5');
  }
  auto store = SqliteStore::Open(garbage.path());
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kDataLoss) << store.error().message;

  TempDir undecodable;
  {
    auto opened = SqliteStore::Open(undecodable.path());
    ASSERT_TRUE(opened.has_value());
    WriteBatch batch;
    batch.entities.push_back(
        {"", {"S1", "Sensor", "/"}, MakeEntity("S1", "Sensor", "/", 1), "not a document", false});
    ASSERT_TRUE((*opened)->Commit(batch));
  }
  auto reopened = SqliteStore::Open(undecodable.path());
  ASSERT_TRUE(reopened.has_value());
  auto loaded = (*reopened)->LoadEntities([](std::string, context::Entity) {});
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, ErrorCode::kDataLoss) << loaded.error().message;
}

TEST(SqliteStoreOpenTest, UnwritableDirectoryIsInternalError) {
  auto store = SqliteStore::Open("/proc/zc-no-such-dir");
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kInternal);
}

}  // namespace
}  // namespace zc::store
