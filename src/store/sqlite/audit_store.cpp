// SqliteAuditStore: the audit log in DIR/audit.db (see audit_store.h for threads).
//
// Layout (PRAGMA user_version = 1):
//   audit_log(seq INTEGER PK, time, actor, actor_kind, department, client_address, action,
//       target, outcome, request_id, detail, prev_hash, hash)  one row per entry, never
//       updated; deleted only by PruneThrough, oldest first, once archived; indexes
//       (actor, seq), (action, seq), (time) serve the auditor's filters in seq order.
//   audit_checkpoint(seq INTEGER PK, hash, time, signature)  signed checkpoints; after a
//       PruneThrough the oldest is the anchor of the oldest entry left.
// An archive file (audit_archive.h) is a database of the same layout holding a run of
// entries, its checkpoints, and the anchor before them.
// Append is one BEGIN IMMEDIATE ... COMMIT with statements prepared once, so a group of
// entries costs one fsync of the WAL; a duplicate seq fails the whole group (plain INSERT:
// the chain is never overwritten).
#include "store/sqlite/audit_store.h"

#include <algorithm>
#include <limits>
#include <string>
#include <system_error>
#include <utility>

#include "store/sqlite/wal_batch_vfs.h"

namespace zc::store {
namespace {

using identity::AuditCheckpoint;
using identity::AuditEntry;

constexpr int kAuditSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kSchema = R"sql(
CREATE TABLE audit_log(
  seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT, actor_kind TEXT,
  department TEXT, client_address TEXT, action TEXT, target TEXT, outcome TEXT,
  request_id TEXT, detail TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX audit_log_actor ON audit_log(actor, seq);
CREATE INDEX audit_log_action ON audit_log(action, seq);
CREATE INDEX audit_log_time ON audit_log(time);
CREATE TABLE audit_checkpoint(
  seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, time INTEGER NOT NULL, signature TEXT NOT NULL);
PRAGMA user_version = 1;
)sql";

constexpr const char* kEntryColumns =
    "seq, time, actor, actor_kind, department, client_address, action, target, outcome, "
    "request_id, detail, prev_hash, hash";

Result<int> UserVersion(sqlite3* db) {
  auto st = Prepare(db, "PRAGMA user_version");
  if (!st) return Fail(st.error());
  if (sqlite3_step(st->get()) != SQLITE_ROW) return Fail(SqlError(db, "user_version"));
  return sqlite3_column_int(st->get(), 0);
}

// Creates the tables of a fresh file in one transaction; refuses a newer schema.
Status Migrate(sqlite3* db) {
  return InTransaction(db, [db]() -> Status {
    auto version = UserVersion(db);
    if (!version) return Fail(version.error());
    if (*version > kAuditSchemaVersion) {
      return Fail(Error::Internal("audit database schema version " + std::to_string(*version) +
                                  " is newer than this binary's"));
    }
    return *version == 0 ? Exec(db, kSchema) : Ok();
  });
}

// Reads a row selected with kEntryColumns.
AuditEntry ReadEntry(sqlite3_stmt* st) {
  AuditEntry e;
  e.seq = sqlite3_column_int64(st, 0);
  e.time = sqlite3_column_int64(st, 1);
  std::string* const text[] = {&e.actor,  &e.actor_kind, &e.department, &e.client_address,
                               &e.action, &e.target,     &e.outcome,    &e.request_id,
                               &e.detail, &e.prev_hash,  &e.hash};
  for (int i = 0; i < 11; ++i) *text[i] = ColumnText(st, i + 2);
  return e;
}

// Builds the SELECT of `q`. Parameters are numbered so that the binding does not depend on
// which filters are present: ?1 after_seq, ?2 actor, ?3 action, ?4 target (or its prefix),
// ?5 from, ?6 to, ?7 limit.
std::string QuerySql(const identity::AuditQuery& q) {
  std::string sql = std::string("SELECT ") + kEntryColumns + " FROM audit_log WHERE seq > ?1";
  if (!q.actor.empty()) sql += " AND actor = ?2";
  if (!q.action.empty()) sql += " AND action = ?3";
  if (!q.target.empty()) {
    sql += q.target.back() == '*' ? " AND instr(target, ?4) = 1" : " AND target = ?4";
  }
  if (q.from) sql += " AND time >= ?5";
  if (q.to) sql += " AND time <= ?6";
  return sql + " ORDER BY seq LIMIT ?7";
}

void BindQuery(sqlite3_stmt* st, const identity::AuditQuery& q) {
  sqlite3_bind_int64(st, 1, q.after_seq);
  BindText(st, 2, q.actor);
  BindText(st, 3, q.action);
  std::string_view target = q.target;
  if (!target.empty() && target.back() == '*') target.remove_suffix(1);
  BindText(st, 4, target);
  sqlite3_bind_int64(st, 5, q.from.value_or(0));
  sqlite3_bind_int64(st, 6, q.to.value_or(0));
  const auto max = static_cast<size_t>(std::numeric_limits<int64_t>::max());
  sqlite3_bind_int64(st, 7, static_cast<int64_t>(std::min(q.limit, max)));
}

}  // namespace

Result<std::unique_ptr<SqliteAuditStore>> SqliteAuditStore::Open(
    const std::filesystem::path& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Fail(Error::Internal("create " + data_dir.string() + ": " + ec.message()));
  return OpenFile(data_dir / kFileName);
}

Result<std::unique_ptr<SqliteAuditStore>> SqliteAuditStore::OpenFile(
    const std::filesystem::path& file) {
  // synchronous=FULL, as the WAL-batching VFS requires.
  auto db = OpenDb(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                   kBusyTimeoutMs, WalBatchVfs());
  if (!db) return Fail(db.error());
  if (auto s = Exec(db->get(), "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"); !s) {
    return Fail(s.error());
  }
  if (auto s = Migrate(db->get()); !s) return Fail(s.error());
  auto store = std::make_unique<SqliteAuditStore>(Passkey{}, file, std::move(*db));
  if (auto s = store->Init(); !s) return Fail(s.error());
  return store;
}

SqliteAuditStore::SqliteAuditStore(Passkey, std::filesystem::path file, DbPtr writer)
    : file_(std::move(file)), writer_(std::move(writer)) {}

SqliteAuditStore::~SqliteAuditStore() {
  // Statements must be finalized before their connection closes.
  insert_entry_.reset();
  insert_checkpoint_.reset();
}

Status SqliteAuditStore::Init() {
  auto entry = Prepare(writer_.get(),
                       std::string("INSERT INTO audit_log(") + kEntryColumns +
                           ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                       /*persistent=*/true);
  if (!entry) return Fail(entry.error());
  auto checkpoint = Prepare(writer_.get(),
                            "INSERT INTO audit_checkpoint(seq, hash, time, signature) "
                            "VALUES(?1, ?2, ?3, ?4)",
                            /*persistent=*/true);
  if (!checkpoint) return Fail(checkpoint.error());
  insert_entry_ = std::move(*entry);
  insert_checkpoint_ = std::move(*checkpoint);
  return Ok();
}

Status SqliteAuditStore::Append(const std::vector<AuditEntry>& entries,
                                const std::optional<AuditCheckpoint>& checkpoint) {
  if (entries.empty() && !checkpoint) return Ok();
  std::lock_guard lock(write_mu_);
  return InTransaction(writer_.get(), [&]() -> Status {
    if (auto s = WriteEntries(entries); !s) return s;
    return checkpoint ? WriteCheckpoint(*checkpoint) : Ok();
  });
}

Status SqliteAuditStore::WriteEntries(const std::vector<AuditEntry>& entries) {
  sqlite3_stmt* st = insert_entry_.get();
  for (const AuditEntry& e : entries) {
    sqlite3_bind_int64(st, 1, e.seq);
    sqlite3_bind_int64(st, 2, e.time);
    const std::string* const text[] = {&e.actor,  &e.actor_kind, &e.department, &e.client_address,
                                       &e.action, &e.target,     &e.outcome,    &e.request_id,
                                       &e.detail, &e.prev_hash,  &e.hash};
    for (int i = 0; i < 11; ++i) BindText(st, i + 3, *text[i]);
    if (auto s = StepDone(writer_.get(), st, "insert audit entry"); !s) return s;
  }
  return Ok();
}

Status SqliteAuditStore::WriteCheckpoint(const AuditCheckpoint& cp) {
  sqlite3_stmt* st = insert_checkpoint_.get();
  sqlite3_bind_int64(st, 1, cp.seq);
  BindText(st, 2, cp.hash);
  sqlite3_bind_int64(st, 3, cp.time);
  BindText(st, 4, cp.signature);
  return StepDone(writer_.get(), st, "insert audit checkpoint");
}

Result<DbPtr> SqliteAuditStore::OpenReader() const {
  return OpenDb(file_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, kBusyTimeoutMs);
}

Result<std::optional<AuditEntry>> SqliteAuditStore::Last() {
  auto db = OpenReader();
  if (!db) return Fail(db.error());
  auto st = Prepare(db->get(), std::string("SELECT ") + kEntryColumns +
                                   " FROM audit_log ORDER BY seq DESC LIMIT 1");
  if (!st) return Fail(st.error());
  const int rc = sqlite3_step(st->get());
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return Fail(SqlError(db->get(), "last audit entry"));
  return ReadEntry(st->get());
}

Result<std::vector<AuditEntry>> SqliteAuditStore::Query(const identity::AuditQuery& q) {
  auto db = OpenReader();
  if (!db) return Fail(db.error());
  auto st = Prepare(db->get(), QuerySql(q));
  if (!st) return Fail(st.error());
  BindQuery(st->get(), q);
  std::vector<AuditEntry> out;
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) out.push_back(ReadEntry(st->get()));
  if (rc != SQLITE_DONE) return Fail(SqlError(db->get(), "query audit log"));
  return out;
}

Status SqliteAuditStore::Scan(const std::function<Status(const AuditEntry&)>& visit) {
  return ScanRange(0, std::numeric_limits<int64_t>::max(), visit);
}

Status SqliteAuditStore::ScanRange(int64_t after_seq, int64_t through_seq,
                                   const std::function<Status(const AuditEntry&)>& visit) {
  auto db = OpenReader();
  if (!db) return Fail(db.error());
  auto st = Prepare(db->get(), std::string("SELECT ") + kEntryColumns +
                                   " FROM audit_log WHERE seq > ?1 AND seq <= ?2 ORDER BY seq");
  if (!st) return Fail(st.error());
  sqlite3_bind_int64(st->get(), 1, after_seq);
  sqlite3_bind_int64(st->get(), 2, through_seq);
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    if (auto s = visit(ReadEntry(st->get())); !s) return s;
  }
  if (rc != SQLITE_DONE) return Fail(SqlError(db->get(), "scan audit log"));
  return Ok();
}

Result<std::vector<AuditCheckpoint>> SqliteAuditStore::Checkpoints() {
  auto db = OpenReader();
  if (!db) return Fail(db.error());
  auto st =
      Prepare(db->get(), "SELECT seq, hash, time, signature FROM audit_checkpoint ORDER BY seq");
  if (!st) return Fail(st.error());
  std::vector<AuditCheckpoint> out;
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    out.push_back({sqlite3_column_int64(st->get(), 0), std::string(ColumnText(st->get(), 1)),
                   sqlite3_column_int64(st->get(), 2), std::string(ColumnText(st->get(), 3))});
  }
  if (rc != SQLITE_DONE) return Fail(SqlError(db->get(), "audit checkpoints"));
  return out;
}

Status SqliteAuditStore::PruneThrough(int64_t through_seq) {
  std::lock_guard lock(write_mu_);
  return InTransaction(writer_.get(), [&]() -> Status {
    if (auto s = CheckPrunable(through_seq); !s) return s;
    auto entries = Prepare(writer_.get(), "DELETE FROM audit_log WHERE seq <= ?1");
    if (!entries) return Fail(entries.error());
    sqlite3_bind_int64(entries->get(), 1, through_seq);
    if (auto s = StepDone(writer_.get(), entries->get(), "prune audit entries"); !s) return s;
    auto checkpoints = Prepare(writer_.get(), "DELETE FROM audit_checkpoint WHERE seq < ?1");
    if (!checkpoints) return Fail(checkpoints.error());
    sqlite3_bind_int64(checkpoints->get(), 1, through_seq);
    return StepDone(writer_.get(), checkpoints->get(), "prune audit checkpoints");
  });
}

// Inside PruneThrough's transaction: a checkpoint at through_seq and an entry after it.
Status SqliteAuditStore::CheckPrunable(int64_t through_seq) {
  auto st = Prepare(writer_.get(),
                    "SELECT (SELECT count(*) FROM audit_checkpoint WHERE seq = ?1), "
                    "(SELECT count(*) FROM audit_log WHERE seq > ?1)");
  if (!st) return Fail(st.error());
  sqlite3_bind_int64(st->get(), 1, through_seq);
  if (sqlite3_step(st->get()) != SQLITE_ROW) {
    return Fail(SqlError(writer_.get(), "check the audit prune"));
  }
  const std::string seq = std::to_string(through_seq);
  if (sqlite3_column_int64(st->get(), 0) == 0) {
    return Fail(Error::Unprocessable("no audit checkpoint at entry " + seq +
                                     " to anchor the entries after it"));
  }
  if (sqlite3_column_int64(st->get(), 1) == 0) {
    return Fail(Error::Unprocessable("entry " + seq +
                                     " is the newest audit entry: the newest always stays"));
  }
  return Ok();
}

}  // namespace zc::store
