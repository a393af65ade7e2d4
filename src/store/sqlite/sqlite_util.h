// Thin RAII and Result helpers over the SQLite C API, private to store/sqlite: connections
// and statements are unique_ptrs with their SQLite destructors, failures become
// Error::Internal carrying SQLite's message. Nothing here throws.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace zc::store {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Error::Internal("sqlite: <what>: <sqlite message>"), or Error::Unavailable with
// "storage full: no space left for the data directory (...)" when the disk is full
// (SQLITE_FULL).
Error SqlError(sqlite3* db, std::string_view what);

// Opens a connection (`flags` as sqlite3_open_v2) with a busy timeout, through the VFS
// named `vfs` (nullptr: the default one).
Result<DbPtr> OpenDb(const std::filesystem::path& file, int flags, int busy_timeout_ms,
                     const char* vfs = nullptr);

// Runs one or more statements without results.
Status Exec(sqlite3* db, const char* sql);

// Prepares one statement; `persistent` for statements reused across many calls.
Result<StmtPtr> Prepare(sqlite3* db, std::string_view sql, bool persistent = false);

// Runs `body` (a callable returning Status) inside BEGIN IMMEDIATE ... COMMIT and rolls
// back when it or the COMMIT fails; returns the first failure.
template <class Body>
Status InTransaction(sqlite3* db, Body&& body) {
  if (auto s = Exec(db, "BEGIN IMMEDIATE"); !s) return s;
  Status result = body();
  if (result) result = Exec(db, "COMMIT");
  if (!result && sqlite3_get_autocommit(db) == 0) (void)Exec(db, "ROLLBACK");
  return result;
}

// Steps a statement that returns no rows (or whose rows are ignored) and resets it.
Status StepDone(sqlite3* db, sqlite3_stmt* st, std::string_view what);

inline void BindText(sqlite3_stmt* st, int index, std::string_view text) {
  sqlite3_bind_text(st, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}
inline std::string_view ColumnText(sqlite3_stmt* st, int index) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, index));
  return p == nullptr ? std::string_view{}
                      : std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(st, index)));
}

// Resets a statement and clears its bindings when the scope ends, so a cached statement
// never keeps pointers to a caller's strings (SQLITE_STATIC bindings) or an open read.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* st) : st_(st) {}
  ~ResetOnExit() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* st_;
};

}  // namespace zc::store
