// The WAL-batching VFS against real files: what one connection writes through it is what
// another connection (default VFS) reads, after commits of many pages, after transactions
// larger than the page cache (SQLite then writes and reads frames before the commit), and
// after checkpoints and a reopen; and a commit's frames really reach the kernel in one write
// (counted in /proc/self/io).
#include "store/sqlite/wal_batch_vfs.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "common/temp_dir.h"
#include "store/sqlite/sqlite_util.h"

namespace zc::store {
namespace {

constexpr int kFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

class WalBatchVfsTest : public ::testing::Test {
 protected:
  DbPtr OpenWriter() {
    auto db = OpenDb(file_, kFlags, 1000, WalBatchVfs());
    EXPECT_TRUE(db) << db.error().message;
    EXPECT_TRUE(Exec(db->get(), "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
    return std::move(*db);
  }

  // Inserts `rows` rows of ~300 bytes in one transaction.
  static void Insert(sqlite3* db, int first, int rows) {
    ASSERT_TRUE(Exec(db, "BEGIN IMMEDIATE"));
    auto st = Prepare(db, "INSERT INTO t(k, v) VALUES (?1, ?2)");
    ASSERT_TRUE(st);
    for (int k = first; k < first + rows; ++k) {
      sqlite3_bind_int(st->get(), 1, k);
      const std::string v(300, static_cast<char>('a' + k % 26));
      sqlite3_bind_text(st->get(), 2, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      ASSERT_TRUE(StepDone(db, st->get(), "insert"));
    }
    ASSERT_TRUE(Exec(db, "COMMIT"));
  }

  // Rows and the sum of keys, as a reader on the default VFS sees them.
  std::pair<int64_t, int64_t> ReadBack() {
    auto db = OpenDb(file_, SQLITE_OPEN_READONLY, 1000);
    EXPECT_TRUE(db);
    auto st = Prepare(db->get(), "SELECT count(*), coalesce(sum(k), 0) FROM t");
    EXPECT_TRUE(st);
    EXPECT_EQ(sqlite3_step(st->get()), SQLITE_ROW);
    return {sqlite3_column_int64(st->get(), 0), sqlite3_column_int64(st->get(), 1)};
  }

  TempDir dir_;
  std::filesystem::path file_ = dir_.path() / "t.db";
};

int64_t SumTo(int64_t n) {
  return n * (n - 1) / 2;  // 0 + 1 + ... + (n - 1)
}

TEST_F(WalBatchVfsTest, ReadersSeeEveryCommittedRow) {
  DbPtr writer = OpenWriter();
  ASSERT_TRUE(Exec(writer.get(), "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)"));
  int next = 0;
  for (int commit = 0; commit < 50; ++commit) {
    Insert(writer.get(), next, 40);  // ~3 pages per commit
    next += 40;
    EXPECT_EQ(ReadBack(), std::make_pair(int64_t{next}, SumTo(next)));
  }
}

TEST_F(WalBatchVfsTest, TransactionsLargerThanThePageCache) {
  DbPtr writer = OpenWriter();
  ASSERT_TRUE(
      Exec(writer.get(), "PRAGMA cache_size=10; CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)"));
  Insert(writer.get(), 0, 20000);  // ~1,600 pages through a 10-page cache: spills mid-way
  EXPECT_EQ(ReadBack(), std::make_pair(int64_t{20000}, SumTo(20000)));
  ASSERT_TRUE(Exec(writer.get(), "UPDATE t SET v = 'changed' WHERE k % 2 = 0"));
  auto db = OpenDb(file_, SQLITE_OPEN_READONLY, 1000);
  ASSERT_TRUE(db);
  auto st = Prepare(db->get(), "SELECT count(*) FROM t WHERE v = 'changed'");
  ASSERT_TRUE(st);
  ASSERT_EQ(sqlite3_step(st->get()), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(st->get(), 0), 10000);
}

TEST_F(WalBatchVfsTest, CheckpointsAndReopen) {
  {
    DbPtr writer = OpenWriter();
    ASSERT_TRUE(Exec(writer.get(), "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)"));
    Insert(writer.get(), 0, 3000);
    ASSERT_TRUE(Exec(writer.get(), "PRAGMA wal_checkpoint(TRUNCATE)"));
    Insert(writer.get(), 3000, 3000);  // a new log from its first frame
    ASSERT_TRUE(Exec(writer.get(), "PRAGMA wal_checkpoint(RESTART)"));
    Insert(writer.get(), 6000, 3000);
  }
  EXPECT_EQ(ReadBack(), std::make_pair(int64_t{9000}, SumTo(9000)));
  DbPtr writer = OpenWriter();
  auto st = Prepare(writer.get(), "PRAGMA integrity_check");
  ASSERT_TRUE(st);
  ASSERT_EQ(sqlite3_step(st->get()), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st->get(), 0)), "ok");
}

// Write system calls made by this process so far (Linux /proc/self/io).
int64_t WriteCalls() {
  std::ifstream io("/proc/self/io");
  std::string key;
  int64_t value = 0;
  while (io >> key >> value) {
    if (key == "syscw:") return value;
  }
  ADD_FAILURE() << "no syscw in /proc/self/io";
  return 0;
}

// Write calls of one commit of ~40 pages in `journal_mode` (no checkpoint: in WAL mode only
// the log is written).
int64_t WriteCallsOfACommit(const std::filesystem::path& file, const char* vfs,
                            const std::string& journal_mode = "WAL") {
  auto db = OpenDb(file, kFlags, 1000, vfs);
  EXPECT_TRUE(db);
  EXPECT_TRUE(Exec(db->get(), ("PRAGMA journal_mode=" + journal_mode +
                               "; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0; "
                               "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)")
                                  .c_str()));
  const int64_t before = WriteCalls();
  EXPECT_TRUE(Exec(db->get(),
                   "WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < 499) "
                   "INSERT INTO t SELECT k, printf('%0300d', k) FROM n"));
  return WriteCalls() - before;
}

// 82 and 2 write calls when this test was written.
TEST_F(WalBatchVfsTest, GathersACommitsFramesIntoOneWrite) {
  const int64_t plain = WriteCallsOfACommit(dir_.path() / "plain.db", nullptr);
  const int64_t gathered = WriteCallsOfACommit(dir_.path() / "gathered.db", WalBatchVfs());
  EXPECT_GE(plain, 2 * 35) << "SQLite writes a frame's header and page separately";
  EXPECT_LE(gathered, 3) << "the frames of one commit, in one write (or two at 128 KiB)";
}

TEST_F(WalBatchVfsTest, OtherFilesAreTheDefaultVfsOwn) {
  // A rollback-journal database through the shim: its journal and database files are not
  // wrapped (the same writes reach the kernel as without the shim), and it works as
  // without the shim.
  // The process's first database costs a few more writes under AddressSanitizer: not
  // counted.
  WriteCallsOfACommit(dir_.path() / "warm-up.db", nullptr, "DELETE");
  const int64_t plain = WriteCallsOfACommit(dir_.path() / "plain.db", nullptr, "DELETE");
  const int64_t shimmed = WriteCallsOfACommit(dir_.path() / "shimmed.db", WalBatchVfs(), "DELETE");
  EXPECT_GT(plain, 2);
  EXPECT_EQ(shimmed, plain);
  auto db = OpenDb(file_, kFlags, 1000, WalBatchVfs());
  ASSERT_TRUE(db);
  ASSERT_TRUE(
      Exec(db->get(), "PRAGMA journal_mode=DELETE; CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)"));
  Insert(db->get(), 0, 500);
  EXPECT_EQ(ReadBack(), std::make_pair(int64_t{500}, SumTo(500)));
}

}  // namespace
}  // namespace zc::store
