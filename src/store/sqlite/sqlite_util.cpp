// SQLite C API helpers (see sqlite_util.h): error mapping, opening and statement preparing.
// Every failure path returns an Error with SQLite's own message so that operators see the
// cause (disk full, I/O error, locked) in the logs: Unavailable for a full disk, else Internal.
#include "store/sqlite/sqlite_util.h"

#include <cerrno>
#include <mutex>

namespace zc::store {
namespace {

// Process-wide SQLite settings, applied once before the library initialises (i.e. before
// the first connection): no memory statistics, whose global mutex every sqlite3_malloc and
// sqlite3_free would take (connections are guarded by their owners; see NOMUTEX).
void ConfigureOnce() {
  static std::once_flag once;
  std::call_once(once, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

// Whether `db`'s last error is a full disk: SQLITE_FULL, or an I/O error whose system call
// failed with ENOSPC or EDQUOT (SQLite reports a shared-memory file it cannot grow, as when
// a log is reopened on a full disk, as SQLITE_IOERR_SHMSIZE, not SQLITE_FULL).
bool IsDiskFull(sqlite3* db) {
  if (db == nullptr) return false;
  const int code = sqlite3_extended_errcode(db) & 0xff;
  if (code == SQLITE_FULL) return true;
  const int err = sqlite3_system_errno(db);
  return code == SQLITE_IOERR && (err == ENOSPC || err == EDQUOT);
}

// Whether `db`'s last error says the file is damaged: SQLITE_CORRUPT, SQLITE_NOTADB.
bool IsDamaged(sqlite3* db) {
  if (db == nullptr) return false;
  const int code = sqlite3_extended_errcode(db) & 0xff;
  return code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
}

// `message` as Internal; as Unavailable when `db`'s last error is a full disk, as DataLoss
// when it is a damaged file.
Error ErrorOf(sqlite3* db, std::string message) {
  // A full disk is the one failure the client can do something about (retry later) and the
  // operator can fix without a restart (free space), so it is Unavailable (503), not Internal.
  if (IsDiskFull(db)) {
    return Error::Unavailable("storage full: no space left for the data directory (" + message +
                              ")");
  }
  if (IsDamaged(db)) return Error::DataLoss(std::move(message));
  return Error::Internal(std::move(message));
}

}  // namespace

Error SqlError(sqlite3* db, std::string_view what) {
  std::string m = "sqlite: ";
  m.append(what);
  m.append(": ");
  m.append(db != nullptr ? sqlite3_errmsg(db) : "out of memory");
  return ErrorOf(db, std::move(m));
}

Result<DbPtr> OpenDb(const std::filesystem::path& file, int flags, int busy_timeout_ms,
                     const char* vfs) {
  ConfigureOnce();
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &raw, flags, vfs);
  DbPtr db(raw);  // sqlite3_open_v2 allocates a handle even on failure
  if (rc != SQLITE_OK) return Fail(SqlError(db.get(), "open " + file.string()));
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);
  return db;
}

Status Exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) == SQLITE_OK) return Ok();
  std::string m = "sqlite: ";
  m.append(msg != nullptr ? msg : sqlite3_errmsg(db));
  sqlite3_free(msg);
  return Fail(ErrorOf(db, std::move(m)));
}

Result<StmtPtr> Prepare(sqlite3* db, std::string_view sql, bool persistent) {
  sqlite3_stmt* raw = nullptr;
  const unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr) !=
      SQLITE_OK) {
    return Fail(SqlError(db, "prepare"));
  }
  return StmtPtr(raw);
}

Status StepDone(sqlite3* db, sqlite3_stmt* st, std::string_view what) {
  ResetOnExit reset(st);
  int rc = sqlite3_step(st);
  while (rc == SQLITE_ROW) rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) return Fail(SqlError(db, what));
  return Ok();
}

}  // namespace zc::store
