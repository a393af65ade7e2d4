// Tests of SqliteAuditStore against a real DIR/audit.db in a temporary directory: appends
// through AuditLog, query filters and paging, checkpoints, all-or-nothing groups, reopening,
// reads in parallel with appends, and VerifyAudit catching rows changed or deleted with
// plain SQL on the file, as someone with access to the disk would.
#include "store/sqlite/audit_store.h"
#include "common/temp_dir.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

namespace zc::store {
namespace {

using identity::AuditCheckpoint;
using identity::AuditEntry;
using identity::AuditLog;
using identity::AuditQuery;
using identity::SigningKey;

AuditEntry Entry(std::string actor, std::string action, std::string target, TimeMs time) {
  AuditEntry e;
  e.time = time;
  e.actor = std::move(actor);
  e.actor_kind = "user";
  e.department = "huanbao";
  e.client_address = "192.0.2.7";
  e.action = std::move(action);
  e.target = std::move(target);
  e.outcome = "success";
  e.request_id = "req-" + std::to_string(time);
  e.detail = R"({"attrs":["temperature"]})";
  return e;
}

class SqliteAuditStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteAuditStore::Open(dir_.path());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }

  SigningKey Key() { return *SigningKey::LoadOrCreate(dir_.path() / identity::kAuditKeyFile); }

  // Ten entries: alice and bob alternate, times 1000..10000, two actions, rooms and a bus.
  void FillTen(size_t checkpoint_entries = 1000) {
    AuditLog log(*store_, Key(), {.checkpoint_entries = checkpoint_entries});
    ASSERT_TRUE(log.Open());
    for (int i = 1; i <= 10; ++i) {
      const std::string target =
          i == 10 ? "urn:ngsi-ld:Bus:1" : "urn:ngsi-ld:Room:" + std::to_string(i);
      log.Record(Entry(i % 2 ? "alice" : "bob", i <= 5 ? "entity.update" : "entity.delete", target,
                       i * 1000));
      log.Flush();
    }
  }

  std::vector<int64_t> Seqs(const AuditQuery& q) {
    auto r = store_->Query(q);
    EXPECT_TRUE(r) << r.error().message;
    std::vector<int64_t> out;
    for (const AuditEntry& e : r.value_or(std::vector<AuditEntry>{})) out.push_back(e.seq);
    return out;
  }

  // Runs `sql` on audit.db through a connection of its own.
  void Tamper(const char* sql) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((dir_.path() / "audit.db").c_str(), &raw), SQLITE_OK);
    DbPtr db(raw);
    char* msg = nullptr;
    ASSERT_EQ(sqlite3_exec(db.get(), sql, nullptr, nullptr, &msg), SQLITE_OK) << msg;
  }

  identity::VerifyReport Verify() {
    auto report = identity::VerifyAudit(*store_, Key());
    EXPECT_TRUE(report) << report.error().message;
    return report.value_or(identity::VerifyReport{});
  }

  TempDir dir_;
  std::unique_ptr<SqliteAuditStore> store_;
};

TEST_F(SqliteAuditStoreTest, EmptyStore) {
  auto last = store_->Last();
  ASSERT_TRUE(last);
  EXPECT_FALSE(last->has_value());
  EXPECT_TRUE(store_->Checkpoints()->empty());
  EXPECT_TRUE(Seqs({}).empty());
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "audit.db"));
}

TEST_F(SqliteAuditStoreTest, EntriesRoundTrip) {
  FillTen();
  auto last = store_->Last();
  ASSERT_TRUE(last && last->has_value());
  const AuditEntry& e = **last;
  EXPECT_EQ(e.seq, 10);
  EXPECT_EQ(e.time, 10000);
  EXPECT_EQ(e.actor, "bob");
  EXPECT_EQ(e.actor_kind, "user");
  EXPECT_EQ(e.department, "huanbao");
  EXPECT_EQ(e.client_address, "192.0.2.7");
  EXPECT_EQ(e.action, "entity.delete");
  EXPECT_EQ(e.target, "urn:ngsi-ld:Bus:1");
  EXPECT_EQ(e.outcome, "success");
  EXPECT_EQ(e.request_id, "req-10000");
  EXPECT_EQ(e.detail, R"({"attrs":["temperature"]})");
  EXPECT_EQ(e.hash, identity::ChainHash(e.prev_hash, e));
  std::vector<int64_t> scanned;
  ASSERT_TRUE(store_->Scan([&](const AuditEntry& x) {
    scanned.push_back(x.seq);
    return Ok();
  }));
  EXPECT_EQ(scanned, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST_F(SqliteAuditStoreTest, QueryFilters) {
  FillTen();
  EXPECT_EQ(Seqs({.actor = "alice"}), (std::vector<int64_t>{1, 3, 5, 7, 9}));
  EXPECT_EQ(Seqs({.action = "entity.delete"}), (std::vector<int64_t>{6, 7, 8, 9, 10}));
  EXPECT_EQ(Seqs({.actor = "bob", .action = "entity.update"}), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(Seqs({.target = "urn:ngsi-ld:Room:1"}), (std::vector<int64_t>{1}));
  EXPECT_EQ(Seqs({.target = "urn:ngsi-ld:Room:*"}).size(), 9u);
  EXPECT_EQ(Seqs({.target = "urn:ngsi-ld:Bus*"}), (std::vector<int64_t>{10}));
  EXPECT_TRUE(Seqs({.target = "Room*"}).empty());  // a prefix, not a substring
  EXPECT_EQ(Seqs({.from = 3000, .to = 5000}), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(Seqs({.to = 1000}), (std::vector<int64_t>{1}));
  EXPECT_TRUE(Seqs({.actor = "nobody"}).empty());
}

TEST_F(SqliteAuditStoreTest, QueryPagesInSeqOrder) {
  FillTen();
  EXPECT_EQ(Seqs({.limit = 3}), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(Seqs({.after_seq = 3, .limit = 3}), (std::vector<int64_t>{4, 5, 6}));
  EXPECT_EQ(Seqs({.actor = "alice", .after_seq = 5, .limit = 2}), (std::vector<int64_t>{7, 9}));
  EXPECT_TRUE(Seqs({.after_seq = 10}).empty());
}

TEST_F(SqliteAuditStoreTest, CheckpointsAreStoredInSeqOrder) {
  FillTen(4);
  auto checkpoints = store_->Checkpoints();
  ASSERT_TRUE(checkpoints);
  ASSERT_EQ(checkpoints->size(), 3u);  // 4, 8, and 10 at shutdown
  EXPECT_EQ((*checkpoints)[0].seq, 4);
  EXPECT_EQ((*checkpoints)[1].seq, 8);
  EXPECT_EQ((*checkpoints)[2].seq, 10);
  const SigningKey key = Key();
  for (const AuditCheckpoint& cp : *checkpoints) {
    EXPECT_TRUE(key.Verify(identity::CheckpointMessage(cp.seq, cp.hash, cp.time), cp.signature));
  }
  EXPECT_EQ((*checkpoints)[2].hash, (*store_->Last())->hash);
}

TEST_F(SqliteAuditStoreTest, AGroupIsAllOrNothing) {
  FillTen();
  AuditEntry fresh = Entry("carol", "login", "", 11000);
  fresh.seq = 11;
  fresh.prev_hash = fresh.hash = "x";
  AuditEntry duplicate = fresh;
  duplicate.seq = 3;  // already taken
  const AuditCheckpoint cp{11, "x", 11000, "sig"};
  EXPECT_FALSE(store_->Append({fresh, duplicate}, cp));
  EXPECT_EQ((*store_->Last())->seq, 10);
  EXPECT_TRUE(store_->Checkpoints()->size() == 1u);  // only the one from FillTen's shutdown
  EXPECT_TRUE(store_->Append({fresh}, std::nullopt));
  EXPECT_EQ((*store_->Last())->seq, 11);
}

TEST_F(SqliteAuditStoreTest, ReopenKeepsEverythingAndTheChainContinues) {
  FillTen(4);
  store_.reset();
  SetUp();
  ASSERT_EQ((*store_->Last())->seq, 10);
  EXPECT_EQ(store_->Checkpoints()->size(), 3u);
  {
    AuditLog log(*store_, Key());
    ASSERT_TRUE(log.Open());
    log.Record(Entry("carol", "login", "", 11000));
    log.Flush();
  }
  const identity::VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.entries, 11);
  EXPECT_EQ(report.checkpoints, 4);
}

TEST_F(SqliteAuditStoreTest, ReadsRunWhileTheLogAppends) {
  AuditLog log(*store_, Key(), {.checkpoint_entries = 50});
  ASSERT_TRUE(log.Open());
  std::atomic<bool> done = false;
  std::atomic<int> read_errors = 0;
  std::thread reader([&] {
    while (!done) {
      if (!store_->Query({.actor = "alice"})) ++read_errors;
      if (!identity::VerifyAudit(*store_, Key())) ++read_errors;
    }
  });
  for (int i = 1; i <= 500; ++i) {
    log.Record(Entry("alice", "entity.update", "urn:ngsi-ld:Room:1", i));
    if (i % 50 == 0) log.Flush();
  }
  log.Flush();
  done = true;
  reader.join();
  EXPECT_EQ(read_errors, 0);
  EXPECT_EQ((*store_->Last())->seq, 500);
  const identity::VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
}

TEST_F(SqliteAuditStoreTest, VerifyCatchesARowChangedWithSql) {
  FillTen(4);
  ASSERT_TRUE(Verify().ok);
  Tamper("UPDATE audit_log SET actor = 'mallory' WHERE seq = 6");
  const identity::VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 6);
  EXPECT_EQ(report.problem, "entry 6: hash does not match its content");
}

TEST_F(SqliteAuditStoreTest, VerifyCatchesARowDeletedWithSql) {
  FillTen(4);
  Tamper("DELETE FROM audit_log WHERE seq = 7");
  const identity::VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 7);
  EXPECT_EQ(report.problem, "entry 7 missing (chain jumps from 6 to 8)");
}

TEST_F(SqliteAuditStoreTest, VerifyCatchesATruncatedLog) {
  FillTen(4);
  Tamper("DELETE FROM audit_log WHERE seq > 8");
  const identity::VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 9);
  EXPECT_EQ(report.problem,
            "checkpoint at entry 10 points past the end of the log (last entry 8): truncated");
}

}  // namespace
}  // namespace zc::store
