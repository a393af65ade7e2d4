// See backup.h. The copy is SQLite's online backup API driven a step at a time for progress
// output. The API restarts a copy when another process changes the source between steps;
// holding a read transaction on the source for the whole copy pins one WAL snapshot, so the
// writer's commits (which in WAL mode never wait for readers) neither disturb nor restart it.
#include "store/sqlite/backup.h"

#include <sqlite3.h>

#include <string>

#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_util.h"

namespace zc::store {
namespace {

constexpr int kBusyTimeoutMs = 10000;

// Opens the source without ever writing it: query-only, and no checkpoint when it closes
// (it may be the last connection when no server runs).
Result<DbPtr> OpenSource(const std::filesystem::path& file) {
  auto db = OpenDb(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, kBusyTimeoutMs);
  if (!db) return db;
  sqlite3_db_config(db->get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  if (auto s = Exec(db->get(), "PRAGMA query_only = 1"); !s) return Fail(s.error());
  return db;
}

// Copies `source` into `target` page by page; both are open.
Status CopyPages(sqlite3* source, sqlite3* target, const BackupProgress& progress,
                 int pages_per_step) {
  sqlite3_backup* backup = sqlite3_backup_init(target, "main", source, "main");
  if (backup == nullptr) return Fail(SqlError(target, "backup"));
  int rc = SQLITE_OK;
  while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    rc = sqlite3_backup_step(backup, pages_per_step);
    const int total = sqlite3_backup_pagecount(backup);
    if (progress) progress(total - sqlite3_backup_remaining(backup), total);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(10);
  }
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) return Fail(SqlError(target, "backup step"));
  if (sqlite3_errcode(target) != SQLITE_OK) return Fail(SqlError(target, "backup finish"));
  return Ok();
}

}  // namespace

Status BackupDatabase(const std::filesystem::path& source, const std::filesystem::path& target,
                      const BackupProgress& progress, int pages_per_step) {
  auto src = OpenSource(source);
  if (!src) return Fail(src.error());
  // The read transaction that pins the snapshot: BEGIN is deferred, the SELECT starts it.
  if (auto s = Exec(src->get(), "BEGIN; SELECT count(*) FROM sqlite_schema;"); !s) return s;
  {
    auto dst = OpenDb(target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      kBusyTimeoutMs);
    if (!dst) return Fail(dst.error());
    if (auto s = CopyPages(src->get(), dst->get(), progress, pages_per_step); !s) return s;
  }
  (void)Exec(src->get(), "COMMIT");
  // The copied header keeps the source's WAL mode; one file is what a backup should be.
  auto dst = OpenDb(target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, kBusyTimeoutMs);
  if (!dst) return Fail(dst.error());
  return Exec(dst->get(), "PRAGMA journal_mode = DELETE");
}

Status CheckDatabase(const std::filesystem::path& file) {
  auto db = OpenDb(file, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, kBusyTimeoutMs);
  if (!db) return Fail(db.error());
  auto st = Prepare(db->get(), "PRAGMA quick_check(1)");
  if (!st) return Fail(st.error());
  if (sqlite3_step(st->get()) != SQLITE_ROW) return Fail(SqlError(db->get(), "quick_check"));
  const std::string verdict(ColumnText(st->get(), 0));
  if (verdict != "ok") return Fail(Error::Internal(file.filename().string() + ": " + verdict));
  return Ok();
}

Result<int> StoredSchemaVersion(const std::filesystem::path& file) {
  auto db = OpenDb(file, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, kBusyTimeoutMs);
  if (!db) return Fail(db.error());
  return SchemaVersion(db->get());
}

}  // namespace zc::store
