// Tests of the audit archive against real SQLite files: entries move from DIR/audit.db into
// archive files that verify on their own and link to each other and to the live log, the
// live log verifies behind its anchor and goes on after a restart, PruneThrough refuses to
// leave the log without an anchor or without its newest entry, and a run that crashed
// between writing a file and pruning its entries is redone.
#include "store/sqlite/audit_archive.h"
#include "common/temp_dir.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace zc::store {
namespace {

using identity::AuditEntry;
using identity::AuditLog;
using identity::SigningKey;

class AuditArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    auto store = SqliteAuditStore::Open(dir_.path());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }

  SigningKey Key() { return *SigningKey::LoadOrCreate(dir_.path() / identity::kAuditKeyFile); }

  // `n` more entries, one group each, with a checkpoint every `every` and one at the end.
  void Append(int n, size_t every) {
    AuditLog log(*store_, Key(), {.checkpoint_entries = every});
    ASSERT_TRUE(log.Open());
    for (int i = 0; i < n; ++i) {
      AuditEntry e;
      e.actor = "li.wei";
      e.actor_kind = "user";
      e.action = "PATCH /v2/entities/{entityId}/attrs";
      e.target = "/v2/entities/Gauge-" + std::to_string(i) + "/attrs";
      e.outcome = "204";
      log.Record(e);
      log.Flush();
    }
  }

  identity::VerifyReport Verify(identity::AuditStore& store) {
    auto report = identity::VerifyAudit(store, Key());
    EXPECT_TRUE(report) << report.error().message;
    return report.value_or(identity::VerifyReport{});
  }

  identity::VerifyReport VerifyFile(const AuditArchiveFile& f) {
    auto store = SqliteAuditStore::OpenFile(f.path);
    EXPECT_TRUE(store) << store.error().message;
    return store ? Verify(**store) : identity::VerifyReport{.ok = false};
  }

  std::filesystem::path ArchiveDir() const { return dir_.path() / "audit-archive"; }

  TempDir dir_;
  std::unique_ptr<SqliteAuditStore> store_;
};

TEST_F(AuditArchiveTest, MovesSignedEntriesIntoFilesThatVerifyAndLink) {
  Append(45, 10);  // checkpoints at 10, 20, 30, 40 and 45
  int progress = 0;
  auto files = ArchiveAuditLog(*store_, ArchiveDir(), NowMs() + 1000, 20,
                               [&](const AuditArchiveFile&) { ++progress; });
  ASSERT_TRUE(files) << files.error().message;
  ASSERT_EQ(files->size(), 2u);  // 1-20 and 21-40: 45 is the newest entry and stays
  EXPECT_EQ(progress, 2);
  EXPECT_EQ((*files)[0].path.filename(), "audit-000000000001-000000000020.db");
  EXPECT_EQ((*files)[1].first_seq, 21);
  EXPECT_EQ((*files)[1].last_seq, 40);

  const identity::VerifyReport live = Verify(*store_);
  EXPECT_TRUE(live.ok) << live.problem;
  EXPECT_EQ(live.first_seq, 41);
  EXPECT_EQ(live.entries, 5);
  EXPECT_EQ(live.archived_through, 40);

  const identity::VerifyReport first = VerifyFile((*files)[0]);
  EXPECT_TRUE(first.ok) << first.problem;
  EXPECT_EQ(first.first_seq, 1);
  EXPECT_EQ(first.last_seq, 20);
  EXPECT_EQ(first.archived_through, 0);
  const identity::VerifyReport second = VerifyFile((*files)[1]);
  EXPECT_TRUE(second.ok) << second.problem;
  EXPECT_EQ(second.entries, 20);
  EXPECT_EQ(second.archived_through, 20);  // its anchor is the first file's last checkpoint

  auto listed = ListAuditArchives(ArchiveDir());
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[1].path, (*files)[1].path);
  EXPECT_FALSE(std::filesystem::exists((*files)[0].path.string() + ".tmp"));
}

TEST_F(AuditArchiveTest, TheLiveLogGoesOnAndArchivesAgainFromItsAnchor) {
  Append(25, 10);
  ASSERT_TRUE(ArchiveAuditLog(*store_, ArchiveDir(), NowMs() + 1000, 1000));
  Reopen();
  Append(20, 10);  // 26..45, checkpoints at 35, 45
  EXPECT_TRUE(Verify(*store_).ok);
  auto again = ArchiveAuditLog(*store_, ArchiveDir(), NowMs() + 1000, 1000);
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].first_seq, 21);
  EXPECT_EQ((*again)[0].last_seq, 35);
  EXPECT_TRUE(VerifyFile((*again)[0]).ok);
  const identity::VerifyReport live = Verify(*store_);
  EXPECT_TRUE(live.ok) << live.problem;
  EXPECT_EQ(live.first_seq, 36);
  EXPECT_EQ(live.last_seq, 45);
}

TEST_F(AuditArchiveTest, NothingMovesBeforeTheCutoff) {
  const TimeMs before = NowMs() - 1;
  Append(25, 10);
  auto files = ArchiveAuditLog(*store_, ArchiveDir(), before, 1000);
  ASSERT_TRUE(files);
  EXPECT_TRUE(files->empty());
  EXPECT_FALSE(std::filesystem::exists(ArchiveDir()));
  EXPECT_EQ(Verify(*store_).entries, 25);
}

TEST_F(AuditArchiveTest, PruneRefusesWithoutAnAnchorOrTheNewestEntry) {
  Append(25, 10);  // checkpoints at 10, 20, 25
  auto s = store_->PruneThrough(15);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kUnprocessable);
  s = store_->PruneThrough(25);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("newest"), std::string::npos) << s.error().message;
  EXPECT_EQ(Verify(*store_).entries, 25);  // nothing changed
}

TEST_F(AuditArchiveTest, ARunThatCrashedBeforeItsPruneIsRedone) {
  Append(25, 10);  // checkpoints at 10, 20, 25
  // A crash between a file's rename and its prune leaves the file and all entries in the
  // log: the log as it was before the run, with the run's file beside it.
  store_.reset();
  const auto db = dir_.path() / "audit.db";
  std::filesystem::copy_file(db, dir_.path() / "before-run.db");
  Reopen();
  auto crashed = ArchiveAuditLog(*store_, ArchiveDir(), NowMs() + 1000, 1000);
  ASSERT_TRUE(crashed && crashed->size() == 1u);
  EXPECT_EQ((*crashed)[0].last_seq, 20);
  store_.reset();
  std::filesystem::copy_file(dir_.path() / "before-run.db", db,
                             std::filesystem::copy_options::overwrite_existing);
  Reopen();
  Append(10, 10);  // 26..35, checkpoints at 35 (10 after 25) and at the end

  auto files = ArchiveAuditLog(*store_, ArchiveDir(), NowMs() + 1000, 1000);
  ASSERT_TRUE(files) << files.error().message;
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].first_seq, 1);
  EXPECT_EQ((*files)[0].last_seq, 25);
  auto listed = ListAuditArchives(ArchiveDir());
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u) << "the crashed run's file of entries 1-20 is replaced";
  EXPECT_EQ((*listed)[0].last_seq, 25);
  EXPECT_TRUE(VerifyFile((*listed)[0]).ok);
  EXPECT_EQ(Verify(*store_).archived_through, 25);
}

TEST_F(AuditArchiveTest, AFileOfAnotherLogIsNeverReplaced) {
  Append(25, 10);
  auto other = ArchiveAuditLog(*store_, dir_.path() / "other-district", NowMs() + 1000, 1000);
  ASSERT_TRUE(other && other->size() == 1u);
  store_.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(dir_.path() / (std::string("audit.db") + suffix));
  }
  Reopen();
  Append(25, 10);  // a new log, whose first file would have the other's name
  std::filesystem::create_directories(ArchiveDir());
  const auto foreign = ArchiveDir() / (*other)[0].path.filename();
  std::filesystem::copy_file((*other)[0].path, foreign);

  auto files = ArchiveAuditLog(*store_, ArchiveDir(), NowMs() + 1000, 1000);
  ASSERT_FALSE(files);
  EXPECT_NE(files.error().message.find("another audit log"), std::string::npos)
      << files.error().message;
  EXPECT_TRUE(VerifyFile({foreign, 1, 20}).ok) << "the other log's file is intact";
  EXPECT_EQ(Verify(*store_).archived_through, 0) << "nothing left the live log";
}

TEST_F(AuditArchiveTest, ArchivesWhileTheLogIsWritten) {
  Append(100, 10);
  AuditLog log(*store_, Key(), {.checkpoint_entries = 10, .group_delay = {}});
  ASSERT_TRUE(log.Open());
  std::atomic<bool> done{false};
  std::thread writer([&] {  // until the archiving is done, and at least 200 entries
    for (int i = 1; !done.load() || i <= 200; ++i) {
      log.Record({.actor = "wang.fang", .actor_kind = "user", .action = "login"});
      if (i % 10 == 0) log.Flush();
    }
  });
  int64_t archived = 0;
  for (int round = 0; round < 3; ++round) {
    auto files = ArchiveAuditLog(*store_, ArchiveDir(), NowMs() + 1000, 1000);
    ASSERT_TRUE(files) << files.error().message;
    if (!files->empty()) archived = files->back().last_seq;
  }
  done = true;
  writer.join();
  log.Flush();
  ASSERT_GE(archived, 90);
  const identity::VerifyReport live = Verify(*store_);
  EXPECT_TRUE(live.ok) << live.problem;
  EXPECT_EQ(live.archived_through, archived);
  auto files = ListAuditArchives(ArchiveDir());
  ASSERT_TRUE(files);
  int64_t next = 1;
  for (const AuditArchiveFile& f : *files) {
    EXPECT_EQ(f.first_seq, next);
    EXPECT_TRUE(VerifyFile(f).ok) << f.path;
    next = f.last_seq + 1;
  }
  EXPECT_EQ(next, archived + 1);
}

TEST(AuditArchiveListTest, IgnoresOtherFilesAndAnAbsentDirectory) {
  TempDir dir;
  auto none = ListAuditArchives(dir.path() / "absent");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  for (const char* name :
       {"audit-000000000021-000000000040.db", "audit-1-20.db", "notes.txt",
        "audit-000000000041-000000000045.db.tmp", "audit-9-3.db", "audit-x-y.db"}) {
    std::FILE* f = std::fopen((dir.path() / name).c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  auto listed = ListAuditArchives(dir.path());
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].first_seq, 1);
  EXPECT_EQ((*listed)[0].last_seq, 20);
  EXPECT_EQ((*listed)[1].first_seq, 21);
}

}  // namespace
}  // namespace zc::store
