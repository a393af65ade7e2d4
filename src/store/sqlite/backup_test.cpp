// Tests of the online copy against a store that keeps committing meanwhile, as a running
// server does: the copy is one consistent snapshot, opens as a store, and a damaged copy is
// caught by the check.
#include "store/sqlite/backup.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <limits>
#include <thread>

#include "common/temp_dir.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_store.h"

namespace zc::store {
namespace {

// One batch of `n` history rows of entity `id`, valued `value`, at times from `t0`.
context::WriteBatch Rows(const std::string& id, int n, TimeMs t0, int value) {
  context::WriteBatch b;
  for (int i = 0; i < n; ++i) {
    b.history.push_back({"", "/", id, "Gauge", "level", "Number", t0 + i, std::to_string(value)});
  }
  return b;
}

size_t HistorySize(SqliteStore& store) {
  context::HistoryQuery all;
  all.limit = std::numeric_limits<size_t>::max();
  auto rows = store.QueryHistory(all);
  EXPECT_TRUE(rows.has_value()) << rows.error().message;
  return rows ? rows->size() : 0;
}

TEST(BackupTest, CopiesOneSnapshotWhileCommitsGoOn) {
  TempDir source_dir("zc-backup-src"), target_dir("zc-backup-dst");
  auto store = SqliteStore::Open(source_dir.path());
  ASSERT_TRUE(store.has_value()) << store.error().message;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*store)->Commit(Rows("G1", 1000, i * 1000, i)));
  const size_t before = HistorySize(**store);
  std::atomic<bool> stop = false;
  std::atomic<int> commits = 0;
  std::thread writer([&] {  // a small commit at a time, as PATCHes arrive
    for (int i = 0; !stop; ++i) {
      ASSERT_TRUE((*store)->Commit(Rows("G2", 10, 100'000 + i * 10, i)));
      ++commits;
    }
  });
  std::vector<std::pair<int64_t, int64_t>> steps;
  const auto target = target_dir.path() / "zhicheng.db";
  // One page a step: many steps, with commits in between (waited for below).
  auto copied = BackupDatabase(
      source_dir.path() / "zhicheng.db", target,
      [&](int64_t done, int64_t total) {
        if (steps.size() == 5) {
          const int seen = commits;
          while (commits < seen + 3) std::this_thread::yield();
        }
        steps.emplace_back(done, total);
      },
      1);
  stop = true;
  writer.join();
  ASSERT_TRUE(copied.has_value()) << copied.error().message;
  ASSERT_GT(steps.size(), 10u);
  EXPECT_EQ(steps.back().first, steps.back().second);
  for (size_t i = 1; i < steps.size(); ++i) EXPECT_GE(steps[i].first, steps[i - 1].first);
  ASSERT_TRUE(CheckDatabase(target).has_value());
  auto version = StoredSchemaVersion(target);
  ASSERT_TRUE(version.has_value());
  EXPECT_EQ(*version, kSchemaVersion);
  EXPECT_FALSE(std::filesystem::exists(target.string() + "-wal")) << "one file, not WAL";

  auto copy = SqliteStore::Open(target_dir.path());
  ASSERT_TRUE(copy.has_value()) << copy.error().message;
  const size_t in_copy = HistorySize(**copy);
  EXPECT_GE(in_copy, before);
  EXPECT_LT(in_copy, HistorySize(**store)) << "commits after the snapshot are not in the copy";
  EXPECT_EQ((in_copy - before) % 10, 0u) << "whole commits only";
}

TEST(BackupTest, CheckFindsADamagedFile) {
  TempDir dir("zc-backup-check");
  {
    auto store = SqliteStore::Open(dir.path());
    ASSERT_TRUE(store.has_value());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*store)->Commit(Rows("G1", 1000, i * 1000, i)));
  }
  const auto copy = dir.path() / "copy.db";
  ASSERT_TRUE(BackupDatabase(dir.path() / "zhicheng.db", copy, nullptr).has_value());
  ASSERT_TRUE(CheckDatabase(copy).has_value());
  {
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(copy) / 2));
    const std::string junk(8192, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto check = CheckDatabase(copy);
  ASSERT_FALSE(check.has_value());
  EXPECT_NE(check.error().message.find("copy.db"), std::string::npos) << check.error().message;
}

TEST(BackupTest, AMissingSourceIsAnError) {
  TempDir dir("zc-backup-missing");
  auto r = BackupDatabase(dir.path() / "nothing.db", dir.path() / "copy.db", nullptr);
  ASSERT_FALSE(r.has_value());
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "nothing.db")) << "never created";
}

}  // namespace
}  // namespace zc::store
