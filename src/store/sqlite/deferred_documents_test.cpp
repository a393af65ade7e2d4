// Tests of deferred entity documents (deferred_documents.cpp) against real database files:
// an attributes-only write is durable through its history rows alone and rebuilt at the
// next open, whatever happened after it (more writes, a replace, a delete, a flush, a
// retention prune), and Flush stores the documents.
#include <gtest/gtest.h>

#include <map>

#include "common/temp_dir.h"
#include "context/entity_codec.h"
#include "store/sqlite/sqlite_store.h"

namespace zc::store {
namespace {

using context::Attribute;
using context::Entity;
using context::EntityPtr;
using context::HistoryRow;
using context::WriteBatch;

const context::EntityKey kKey{"urn:ngsi-ld:WaterLevel:gm-01", "WaterLevelObserved", "/gaoming"};
constexpr const char* kTenant = "jiangmen";

Attribute Number(double v, TimeMs created, TimeMs modified) {
  Attribute a;
  a.type = "Number";
  a.value = v;
  a.created = created;
  a.modified = modified;
  return a;
}

// The gauge as created at t = 1000: level 2.5.
EntityPtr Created() {
  auto e = std::make_shared<Entity>();
  e->id = kKey.id;
  e->type = kKey.type;
  e->service_path = kKey.service_path;
  e->created = e->modified = 1000;
  e->attrs.emplace_back("level", Number(2.5, 1000, 1000));
  return e;
}

// `before` with `name` written at `t` (as the context service would): type, value and
// metadata replaced, created kept (or t for a new attribute), modified = t.
EntityPtr Written(const EntityPtr& before, const std::string& name, Attribute a, TimeMs t) {
  auto e = std::make_shared<Entity>(*before);
  a.modified = t;
  if (Attribute* existing = e->Find(name)) {
    a.created = existing->created;
    *existing = std::move(a);
  } else {
    a.created = t;
    e->attrs.emplace_back(name, std::move(a));
  }
  e->modified = t;
  return e;
}

// The history row of `name` in `after`, as the service records it.
HistoryRow RowOf(const Entity& after, const std::string& name) {
  const Attribute& a = *after.Find(name);
  return {kTenant,
          after.service_path,
          after.id,
          after.type,
          name,
          a.type,
          after.modified,
          boost::json::serialize(a.value),
          context::EncodeMetadataJson(a.metadata)};
}

class DeferredDocumentsTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen(SqliteOptions options = {}) {
    store_.reset();  // no Flush: as after a crash, the deferred documents are not stored
    auto s = SqliteStore::Open(dir_.path(), options);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    store_ = std::move(*s);
  }
  void Commit(const WriteBatch& b) {
    auto s = store_->Commit(b);
    ASSERT_TRUE(s.has_value()) << s.error().message;
  }
  void Create(const EntityPtr& e) {
    WriteBatch b;
    b.entities.push_back({kTenant, kKey, e, context::EncodeEntity(*e)});
    Commit(b);
  }
  // An attributes-only write of `names` of `after`, its rows indexed at `observed` if set.
  void WriteAttributes(const EntityPtr& after, const std::vector<std::string>& names,
                       std::optional<TimeMs> observed = std::nullopt) {
    WriteBatch b;
    b.entities.push_back({kTenant, kKey, after, "", /*attributes_only=*/true});
    for (const auto& n : names) {
      b.history.push_back(RowOf(*after, n));
      b.history.back().observed = observed;
    }
    Commit(b);
  }
  // An attributes-only write of `level` to `before` at `t`; returns the entity after it.
  EntityPtr WriteLevel(const EntityPtr& before, double level, TimeMs t = 2000,
                       std::optional<TimeMs> observed = std::nullopt) {
    auto after = Written(before, "level", Number(level, 0, 0), t);
    WriteAttributes(after, {"level"}, observed);
    return after;
  }
  // Reopens the store with history chunks of two rows, and returns those options.
  SqliteOptions TwoRowChunks() {
    SqliteOptions small;
    small.history_chunk_rows = 2;
    Reopen(small);
    return small;
  }
  // Creates the gauge and writes six levels at t = 2000..2005 (three chunks of two rows
  // with TwoRowChunks); returns the entity after them.
  EntityPtr SixLevels() {
    auto after = Created();
    Create(after);
    for (TimeMs t = 2000; t < 2006; ++t) after = WriteLevel(after, static_cast<double>(t), t);
    return after;
  }
  // What LoadEntities rebuilds, encoded, by id ("" when the store has no such entity).
  std::string Loaded() {
    std::map<std::string, std::string> all;
    auto s = store_->LoadEntities(
        [&](std::string tenant, Entity e) { all[tenant + "|" + e.id] = context::EncodeEntity(e); });
    EXPECT_TRUE(s.has_value()) << s.error().message;
    return all[std::string(kTenant) + "|" + kKey.id];
  }
  // The document as stored in the entities table, decoded and encoded again.
  std::string StoredDocument() {
    auto db = OpenDb(dir_.path() / "zhicheng.db", SQLITE_OPEN_READONLY, 1000);
    EXPECT_TRUE(db.has_value());
    auto st = Prepare(db->get(), "SELECT doc FROM entities");
    EXPECT_TRUE(st.has_value());
    if (sqlite3_step(st->get()) != SQLITE_ROW) return "";
    return context::EncodeEntity(context::DecodeEntity(ColumnText(st->get(), 0)).value());
  }

  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(DeferredDocumentsTest, AttributesOnlyWriteIsRebuiltFromHistoryAfterACrash) {
  const auto created = Created();
  Create(created);
  Attribute level = Number(3.75, 0, 0);
  level.metadata.emplace_back("unitCode", context::Metadata{"Text", "MTR"});
  auto after = Written(created, "level", level, 2000);
  after = Written(after, "flow", Number(12, 0, 0), 2000);  // a new attribute
  WriteAttributes(after, {"level", "flow"});
  EXPECT_EQ(StoredDocument(), context::EncodeEntity(*created)) << "the document was deferred";

  Reopen();
  EXPECT_EQ(Loaded(), context::EncodeEntity(*after));
  Reopen();  // and again: nothing was lost by loading
  EXPECT_EQ(Loaded(), context::EncodeEntity(*after));
}

// The rows a restart replays may have been staged, in the middle of a sweep, or written to
// history directly (staged_history.cpp): the entity is rebuilt the same from each.
TEST_F(DeferredDocumentsTest, RebuildReadsRowsWhereverTheyWere) {
  SqliteOptions sweeping, direct;
  sweeping.history_staged_rows = 2;    // five one-row commits: sweeps of two rows, one row
  sweeping.history_move_min_rows = 1;  // each, cut by the crash
  direct.history_direct_rows = 0;
  const TimeMs start = 2000;
  TimeMs t = start;
  for (const SqliteOptions* options : {&sweeping, &direct}) {
    Reopen(*options);
    auto after = Created();
    Create(after);
    for (const TimeMs end = t + 5; t < end; ++t) {
      after = WriteLevel(after, static_cast<double>(t), t);
    }
    Reopen(*options);
    EXPECT_EQ(Loaded(), context::EncodeEntity(*after)) << (options == &direct ? "direct" : "sweep");
  }
  ASSERT_EQ(t, start + 10);
}

// Rows indexed at a time their device stated (TimeInstant, here long before the write)
// rebuild the entity with the change time as dateModified, from each place rows can be.
TEST_F(DeferredDocumentsTest, RebuildKeepsTheChangeTimeOfRowsIndexedAtAStatedTime) {
  SqliteOptions sweeping, direct;
  sweeping.history_staged_rows = 2;
  sweeping.history_move_min_rows = 1;
  direct.history_direct_rows = 0;
  TimeMs t = 2000;
  for (const SqliteOptions* options : {&sweeping, &direct}) {
    Reopen(*options);
    auto after = Created();
    Create(after);
    for (const TimeMs end = t + 5; t < end; ++t) {
      after = WriteLevel(after, static_cast<double>(t), t, /*observed=*/t - 1500);
    }
    Reopen(*options);
    EXPECT_EQ(Loaded(), context::EncodeEntity(*after)) << (options == &direct ? "direct" : "sweep");
  }
}

TEST_F(DeferredDocumentsTest, MetricsCountDeferredDocumentsAndRowsToReplay) {
  metrics::Registry metrics;
  store_->ExportMetrics(metrics);
  const auto created = Created();
  Create(created);
  EXPECT_NE(metrics.Render().find("zhicheng_store_deferred_documents 0"), std::string::npos);
  auto after = Written(created, "level", Number(3, 0, 0), 2000);
  after = Written(after, "flow", Number(1, 0, 0), 2000);
  WriteAttributes(after, {"level", "flow"});
  const std::string text = metrics.Render();
  EXPECT_NE(text.find("zhicheng_store_deferred_documents 1"), std::string::npos) << text;
  EXPECT_NE(text.find("zhicheng_store_replay_rows 2"), std::string::npos) << text;
  ASSERT_TRUE(store_->Flush(context::ContextStore::FlushMode::kAll).has_value());
  EXPECT_NE(metrics.Render().find("zhicheng_store_replay_rows 0"), std::string::npos);
}

TEST_F(DeferredDocumentsTest, CommitsBeforeTheRebuildDoNotMoveTheMarkPastIt) {
  const auto created = Created();
  Create(created);
  const auto after = WriteLevel(created, 8);
  Reopen();  // a crash; then, before LoadEntities, a commit about something else
  WriteBatch other;
  auto gauge = std::make_shared<Entity>(*created);
  gauge->id = "urn:ngsi-ld:WaterLevel:gm-02";
  other.entities.push_back({kTenant, context::KeyOf(*gauge), gauge, context::EncodeEntity(*gauge)});
  Commit(other);
  ASSERT_TRUE(store_->Flush(context::ContextStore::FlushMode::kAll).has_value());
  Reopen();
  EXPECT_EQ(Loaded(), context::EncodeEntity(*after));
}

TEST_F(DeferredDocumentsTest, LastWriteOfABatchWinsEvenWithAnEarlierTime) {
  const auto created = Created();
  Create(created);
  // Two requests in one group commit; the second was evaluated with an earlier clock.
  auto first = Written(created, "level", Number(3, 0, 0), 3000);
  auto second = Written(first, "level", Number(4, 0, 0), 2999);
  WriteBatch b;
  b.entities.push_back({kTenant, kKey, first, "", true});
  b.history.push_back(RowOf(*first, "level"));
  b.entities.push_back({kTenant, kKey, second, "", true});
  b.history.push_back(RowOf(*second, "level"));
  Commit(b);
  Reopen();
  const auto loaded = context::DecodeEntity(Loaded()).value();
  EXPECT_EQ(loaded.Find("level")->value, boost::json::value(4.0));
}

TEST_F(DeferredDocumentsTest, LaterWholeDocumentIsNotOverwrittenByReplay) {
  const auto created = Created();
  Create(created);
  WriteLevel(created, 9);
  // A replace: the level attribute is gone, the document is stored whole.
  auto replaced = std::make_shared<Entity>(*created);
  replaced->attrs.clear();
  replaced->attrs.emplace_back("status", Number(1, 3000, 3000));
  replaced->modified = 3000;
  Create(replaced);
  Reopen();
  EXPECT_EQ(Loaded(), context::EncodeEntity(*replaced));
}

TEST_F(DeferredDocumentsTest, DeletedEntityStaysDeleted) {
  const auto created = Created();
  Create(created);
  WriteLevel(created, 9);
  WriteBatch del;
  del.entities.push_back({kTenant, kKey, nullptr});
  Commit(del);
  Reopen();
  EXPECT_EQ(Loaded(), "");
}

TEST_F(DeferredDocumentsTest, FlushStoresTheDocuments) {
  const auto created = Created();
  Create(created);
  const auto after = WriteLevel(created, 5);
  ASSERT_TRUE(store_->Flush(context::ContextStore::FlushMode::kDue).has_value());
  EXPECT_EQ(StoredDocument(), context::EncodeEntity(*created)) << "not due yet (10 s)";
  ASSERT_TRUE(store_->Flush(context::ContextStore::FlushMode::kAll).has_value());
  EXPECT_EQ(StoredDocument(), context::EncodeEntity(*after));
  Reopen();
  EXPECT_EQ(Loaded(), context::EncodeEntity(*after));
}

TEST_F(DeferredDocumentsTest, DueDocumentsAreStoredByLaterCommits) {
  TimeMs clock = 0;
  SqliteOptions manual;
  manual.steady_clock_ms = [&clock] { return clock; };
  Reopen(manual);
  const auto created = Created();
  Create(created);
  const auto after = WriteLevel(created, 6);
  EXPECT_EQ(StoredDocument(), context::EncodeEntity(*created));
  // The 10 s delay passes on the store's clock; then any commit stores the due document.
  clock += manual.document_delay_ms;
  WriteBatch other;
  other.history.push_back(RowOf(*after, "level"));
  other.history.back().entity_id = "another";
  Commit(other);
  EXPECT_EQ(StoredDocument(), context::EncodeEntity(*after));
}

TEST_F(DeferredDocumentsTest, ZeroDelayStoresEveryDocumentAtOnce) {
  SqliteOptions immediate;
  immediate.document_delay_ms = 0;
  Reopen(immediate);
  const auto created = Created();
  Create(created);
  const auto after = WriteLevel(created, 7);
  EXPECT_EQ(StoredDocument(), context::EncodeEntity(*after));
}

TEST_F(DeferredDocumentsTest, RetentionKeepsRowsThatDocumentsStillNeed) {
  const SqliteOptions small = TwoRowChunks();
  const auto after = SixLevels();
  auto removed = store_->PruneHistory(1'000'000);
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  EXPECT_EQ(*removed, 0u) << "every chunk holds a row newer than the stored document";
  Reopen(small);
  EXPECT_EQ(Loaded(), context::EncodeEntity(*after));

  ASSERT_TRUE(store_->Flush(context::ContextStore::FlushMode::kAll).has_value());
  removed = store_->PruneHistory(1'000'000);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(*removed, 6u);
  Reopen(small);
  EXPECT_EQ(Loaded(), context::EncodeEntity(*after));
}

// Deleting an entity's history must not delete the only durable copy of its latest
// values: the deferred document is stored first, and a crash after the deletion rebuilds
// the entity as it was.
TEST_F(DeferredDocumentsTest, DeletingHistoryKeepsTheLatestStateOfItsEntity) {
  const auto created = Created();
  Create(created);
  auto after = WriteLevel(created, 7, 2000);
  after = WriteLevel(after, 8, 2001);
  ASSERT_EQ(StoredDocument(), context::EncodeEntity(*created)) << "deferred";
  context::HistoryQuery gauge;
  gauge.tenant = kTenant;
  gauge.entity_ids = {kKey.id};
  auto removed = store_->DeleteHistory(gauge);
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  EXPECT_EQ(*removed, 2u);
  EXPECT_EQ(StoredDocument(), context::EncodeEntity(*after));
  Reopen();
  EXPECT_EQ(Loaded(), context::EncodeEntity(*after));
  after = WriteLevel(after, 9, 2002);  // and later writes are replayed as before
  Reopen();
  EXPECT_EQ(Loaded(), context::EncodeEntity(*after));
}

// Retention may empty every chunk, the newest too. Row seqs must still go on from where
// they were: a document stored with seq N skips, when rebuilt, every row up to N, so a new
// row numbered below it would be lost by a crash.
TEST_F(DeferredDocumentsTest, SeqsGoOnAfterRetentionEmptiedTheHistory) {
  const SqliteOptions small = TwoRowChunks();
  auto after = SixLevels();  // they fill three chunks exactly
  ASSERT_TRUE(store_->Flush(context::ContextStore::FlushMode::kAll).has_value());
  auto removed = store_->PruneHistory(1'000'000);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(*removed, 6u);
  {
    auto db = OpenDb(dir_.path() / "zhicheng.db", SQLITE_OPEN_READONLY, 1000);
    ASSERT_TRUE(db.has_value());
    auto st = Prepare(db->get(), "SELECT max(id), sum(rows) FROM history_chunks");
    ASSERT_TRUE(st.has_value());
    ASSERT_EQ(sqlite3_step(st->get()), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(st->get(), 0), 2) << "the newest chunk's row stays, empty";
    EXPECT_EQ(sqlite3_column_int64(st->get(), 1), 0);
  }
  Reopen(small);
  EXPECT_EQ(Loaded(), context::EncodeEntity(*after));
  after = WriteLevel(after, 42, 3000);
  Reopen(small);  // a crash before the document of the write was stored
  EXPECT_EQ(Loaded(), context::EncodeEntity(*after));
}

}  // namespace
}  // namespace zc::store
