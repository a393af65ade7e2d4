// SqliteStore: opening, the write path (Commit, PruneHistory), start-up loads and the read
// connection pool. History reads are in history_read.cpp; the schema in schema.cpp.
//
// Write path: Commit takes the write mutex, runs one BEGIN IMMEDIATE ... COMMIT on the write
// connection with statements prepared once at open (SQLITE_PREPARE_PERSISTENT), so a batch
// costs one fsync of the WAL (synchronous=FULL). History rows resolve their series through an
// in-memory cache (series are created with an upsert ... RETURNING id when missing), are
// sorted by (series, time) so consecutive inserts land on the same page, and get a global
// sequence number whose quotient by history_chunk_rows is their chunk; a small commit's rows
// are staged first and move into history later (staged_history.cpp). A failed commit rolls
// back and forgets the series it created or changed, so the cache never names a row that was
// not committed.
#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <chrono>
#include <system_error>
#include <thread>
#include <utility>

#include "common/log.h"
#include "context/entity_codec.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/staged_history.h"
#include "store/sqlite/wal_batch_vfs.h"

namespace zc::store {
namespace {

// History rows go in by statements of this many rows (the rest one by one): one statement
// step instead of many saves SQLite's per-statement work, which is most of a row's cost
// besides the B-tree insert itself.
constexpr size_t kHistoryRowsPerInsert = 32;
constexpr int kHistoryColumns = 7;

// "INSERT INTO <table>(...) VALUES(?,?,?,?,?,?,?),..." for `rows` history rows.
std::string HistoryRowsInsert(const char* table, size_t rows) {
  std::string sql = std::string("INSERT INTO ") + table + "(" + kHistoryRowColumns + ") VALUES";
  for (size_t i = 0; i < rows; ++i) sql += i == 0 ? "(?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?)";
  return sql;
}

// Binds one history row to the parameters base+1 .. base+7 of an insert: `time` is the
// row's index time; `modified`, its change time, only when the two differ.
void BindHistoryRow(sqlite3_stmt* st, int base, int64_t chunk, int64_t series, TimeMs time,
                    int64_t seq, const context::HistoryRow& row) {
  sqlite3_bind_int64(st, base + 1, chunk);
  sqlite3_bind_int64(st, base + 2, series);
  sqlite3_bind_int64(st, base + 3, time);
  sqlite3_bind_int64(st, base + 4, seq);
  BindText(st, base + 5, row.value_json);
  if (row.metadata_json.empty()) {
    sqlite3_bind_null(st, base + 6);
  } else {
    BindText(st, base + 6, row.metadata_json);
  }
  if (row.observed && *row.observed != row.time) {
    sqlite3_bind_int64(st, base + 7, row.time);
  } else {
    sqlite3_bind_null(st, base + 7);
  }
}

// The series cache key of a row's entity, written into `k` (a reused buffer: no allocation
// per row).
void EntityKeyOf(const context::HistoryRow& r, std::string& k) {
  k.clear();
  for (const std::string* part : {&r.tenant, &r.service_path, &r.entity_id, &r.entity_type}) {
    k.append(*part);
    k.push_back('\x1f');
  }
}

bool SameEntity(const context::HistoryRow& a, const context::HistoryRow& b) {
  return a.entity_id == b.entity_id && a.entity_type == b.entity_type &&
         a.service_path == b.service_path && a.tenant == b.tenant;
}

// journal_size_limit: a WAL that grew while a reader held an old snapshot (a backup, see
// backup.h) is cut back to 64 MiB when the log next starts over, instead of keeping its
// largest size until the server stops; in normal running it stays far below that.
Status ConfigureWriter(sqlite3* db, int64_t cache_kib) {
  const std::string pragmas =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA journal_size_limit=67108864; "
      "PRAGMA foreign_keys=OFF; PRAGMA cache_size=-" +
      std::to_string(cache_kib) + ";";
  return Exec(db, pragmas.c_str());
}

// Per-chunk statistics of the rows one commit adds.
struct ChunkStats {
  int64_t id = 0;
  TimeMs min_time = 0;
  TimeMs max_time = 0;
  int64_t rows = 0;
};

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::filesystem::path& data_dir,
                                                       SqliteOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Fail(Error::Internal("create " + data_dir.string() + ": " + ec.message()));
  if (options.history_chunk_rows < 1) options.history_chunk_rows = 1;
  const auto file = data_dir / kFileName;
  // synchronous=FULL (ConfigureWriter), as the WAL-batching VFS requires.
  auto db = OpenDb(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                   options.busy_timeout_ms, WalBatchVfs());
  if (!db) return Fail(db.error());
  if (auto s = ConfigureWriter(db->get(), options.writer_cache_kib); !s) return Fail(s.error());
  if (auto s = Migrate(db->get()); !s) return Fail(s.error());
  auto store = std::make_unique<SqliteStore>(Passkey{}, file, options, std::move(*db));
  if (auto s = store->Init(); !s) return Fail(s.error());
  return store;
}

SqliteStore::SqliteStore(Passkey, std::filesystem::path file, SqliteOptions options, DbPtr writer)
    : file_(std::move(file)), options_(std::move(options)), writer_(std::move(writer)) {}

int64_t SqliteStore::ChunkOf(int64_t seq) const {
  return seq / options_.history_chunk_rows;
}

TimeMs SqliteStore::SteadyNow() const {
  if (options_.steady_clock_ms) return options_.steady_clock_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

SqliteStore::~SqliteStore() {
  if (series_loading_.valid()) series_loading_.wait();  // it holds a read connection
  // Statements must be finalized before their connection closes.
  stmts_ = {};
  idle_readers_.clear();
}

// Prepares the cached statements, starts loading the series cache, starts a fresh chunk and
// reads the deferred-documents mark.
Status SqliteStore::Init() {
  if (auto s = PrepareStatements(); !s) return s;
  series_loading_ = std::async(std::launch::async, [this] { return ReadSeriesCache(); });
  sqlite3* db = writer_.get();
  auto last = Prepare(db, "SELECT coalesce(max(id), -1) FROM history_chunks");
  if (!last) return Fail(last.error());
  if (sqlite3_step(last->get()) != SQLITE_ROW) return Fail(SqlError(db, "last chunk"));
  next_seq_ = (sqlite3_column_int64(last->get(), 0) + 1) * options_.history_chunk_rows;
  if (auto s = MoveAllStaged(); !s) return s;
  return LoadFlushedThrough();
}

Status SqliteStore::PrepareStatements() {
  struct Def {
    StmtPtr* slot;
    const char* sql;
  };
  const Def defs[] = {
      {&stmts_.update_entity,
       "UPDATE entities SET doc = ?5, seq = ?6 "
       "WHERE tenant = ?1 AND id = ?3 AND type = ?4 AND service_path = ?2"},
      {&stmts_.insert_entity,
       "INSERT INTO entities(tenant, service_path, id, type, doc, seq) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
      {&stmts_.delete_entity,
       "DELETE FROM entities WHERE tenant = ?1 AND id = ?2 AND type = ?3 AND service_path = ?4"},
      {&stmts_.upsert_subscription,
       "INSERT INTO subscriptions(tenant, id, doc) VALUES(?1, ?2, ?3) "
       "ON CONFLICT DO UPDATE SET doc = excluded.doc"},
      {&stmts_.delete_subscription, "DELETE FROM subscriptions WHERE tenant = ?1 AND id = ?2"},
      {&stmts_.upsert_series,
       "INSERT INTO history_series(tenant, service_path, entity_id, entity_type, attr, "
       "attr_type) VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET "
       "attr_type = excluded.attr_type RETURNING id"},
      {&stmts_.set_meta,
       "INSERT INTO store_meta(key, value) VALUES(?1, ?2) "
       "ON CONFLICT DO UPDATE SET value = excluded.value"},
      {&stmts_.end_sweep, "DELETE FROM history_staged WHERE seq < ?1"},
      {&stmts_.upsert_chunk,
       "INSERT INTO history_chunks(id, min_time, max_time, rows) VALUES(?1, ?2, ?3, ?4) "
       "ON CONFLICT DO UPDATE SET min_time = min(min_time, excluded.min_time), "
       "max_time = max(max_time, excluded.max_time), rows = rows + excluded.rows"},
  };
  for (const Def& d : defs) {
    auto st = Prepare(writer_.get(), d.sql, /*persistent=*/true);
    if (!st) return Fail(st.error());
    *d.slot = std::move(*st);
  }
  const std::pair<StmtPtr*, std::pair<const char*, size_t>> inserts[] = {
      {&stmts_.insert_history, {"history", 1}},
      {&stmts_.insert_history_rows, {"history", kHistoryRowsPerInsert}},
      {&stmts_.insert_staged, {"history_staged", 1}},
      {&stmts_.insert_staged_rows, {"history_staged", kHistoryRowsPerInsert}}};
  for (const auto& [slot, shape] : inserts) {
    auto st = Prepare(writer_.get(), HistoryRowsInsert(shape.first, shape.second),
                      /*persistent=*/true);
    if (!st) return Fail(st.error());
    *slot = std::move(*st);
  }
  auto move = Prepare(writer_.get(), MoveStagedRowsSql(), /*persistent=*/true);
  if (!move) return Fail(move.error());
  stmts_.move_staged_rows = std::move(*move);
  return Ok();
}

Result<SqliteStore::SeriesCache> SqliteStore::ReadSeriesCache() {
  auto reader = BorrowReader();
  if (!reader) return Fail(reader.error());
  auto series = Prepare(reader->get(),
                        "SELECT id, tenant, service_path, entity_id, entity_type, attr, "
                        "attr_type FROM history_series");
  if (!series) return Fail(series.error());
  SeriesCache cache;
  std::string key;
  int rc;
  while ((rc = sqlite3_step(series->get())) == SQLITE_ROW) {
    context::HistoryRow r;
    r.tenant = ColumnText(series->get(), 1);
    r.service_path = ColumnText(series->get(), 2);
    r.entity_id = ColumnText(series->get(), 3);
    r.entity_type = ColumnText(series->get(), 4);
    EntityKeyOf(r, key);
    cache[key].push_back({std::string(ColumnText(series->get(), 5)),
                          sqlite3_column_int64(series->get(), 0),
                          std::string(ColumnText(series->get(), 6))});
  }
  if (rc != SQLITE_DONE) return Fail(SqlError(reader->get(), "load series"));
  return cache;
}

Status SqliteStore::AwaitSeriesCache() {
  std::lock_guard lock(write_mu_);
  return AwaitSeriesCacheLocked();
}

Status SqliteStore::AwaitSeriesCacheLocked() {
  if (series_loading_.valid()) {
    Result<SeriesCache> loaded = series_loading_.get();
    if (loaded) {
      series_ = std::move(*loaded);
    } else {
      series_status_ = Fail(loaded.error());
      spdlog::error("storage: cannot load the history series: {}", loaded.error().message);
    }
  }
  return series_status_;
}

// REQUIRES: next_seq_ set.
Status SqliteStore::LoadFlushedThrough() {
  sqlite3* db = writer_.get();
  auto flushed = Prepare(db, "SELECT value FROM store_meta WHERE key = ?1");
  if (!flushed) return Fail(flushed.error());
  BindText(flushed->get(), 1, kFlushedThroughKey);
  const int rc = sqlite3_step(flushed->get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Fail(SqlError(db, "flushed_through"));
  if (rc == SQLITE_ROW) {
    flushed_through_ = sqlite3_column_int64(flushed->get(), 0);
    // Seqs resume after the mark too: a data directory whose newest chunk row a prune
    // removed (before the prune kept it) would otherwise number new rows below documents.
    if (flushed_through_ >= next_seq_) {
      next_seq_ = (ChunkOf(flushed_through_) + 1) * options_.history_chunk_rows;
    }
    // Rows after the mark: entities to rebuild (LoadEntities). Until then, no commit may
    // move the mark past them.
    // (Init moved every staged row into history before.)
    auto newer = Prepare(db, "SELECT EXISTS(SELECT 1 FROM history WHERE chunk >= ?1 AND seq > ?2)");
    if (!newer) return Fail(newer.error());
    sqlite3_bind_int64(newer->get(), 1, ChunkOf(flushed_through_ + 1));
    sqlite3_bind_int64(newer->get(), 2, flushed_through_);
    if (sqlite3_step(newer->get()) != SQLITE_ROW) return Fail(SqlError(db, "rows to replay"));
    replay_pending_ = sqlite3_column_int64(newer->get(), 0) != 0;
    // Nothing after the mark: every row there is (none up to the new chunk) is in a document.
    if (!replay_pending_) flushed_through_ = next_seq_ - 1;
    PublishDeferredMetrics();
    return Ok();
  }
  // Without a mark, nothing was deferred (a new database, or one of schema version 1). The
  // mark is stored now: later commits write it only when it changes.
  flushed_through_ = next_seq_ - 1;
  return StoreFlushedThrough(flushed_through_);
}

Status SqliteStore::Commit(const context::WriteBatch& batch) {
  if (batch.Empty()) return Ok();
  commits_waiting_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(write_mu_);
  commits_waiting_.fetch_sub(1, std::memory_order_relaxed);
  if (auto s = AwaitSeriesCacheLocked(); !s) return s;
  // Every history row gets the next seq: this commit's are first_seq..last_seq.
  const int64_t first_seq = next_seq_;
  const int64_t last_seq = first_seq + static_cast<int64_t>(batch.history.size()) - 1;
  EntityPlan plan = PlanEntities(batch.entities, first_seq, last_seq);
  std::vector<TouchedSeries> touched_series;
  if (staged_stale_) {
    if (auto s = ReloadStaged(); !s) return s;
  }
  Status result = InTransaction(writer_.get(), [&]() -> Status {
    if (auto s = WriteDocuments(plan, last_seq); !s) return s;
    if (auto s = WriteSubscriptions(batch.subscriptions); !s) return s;
    if (auto s = WriteHistory(batch.history, touched_series); !s) return s;
    return WriteFlushedThrough(plan.flushed_through);
  });
  if (!result) {
    staged_stale_ = true;
    for (const TouchedSeries& t : touched_series) {
      std::erase_if(*t.entity, [&](const SeriesInfo& s) { return s.attr == t.attr; });
    }
    return result;
  }
  AfterCommit(plan, first_seq);
  staged_waiting_ = staged_.size() + sweep_left_;
  return result;
}

Status SqliteStore::WriteSubscriptions(const std::vector<context::SubscriptionWrite>& writes) {
  sqlite3* db = writer_.get();
  for (const context::SubscriptionWrite& w : writes) {
    sqlite3_stmt* st =
        w.document ? stmts_.upsert_subscription.get() : stmts_.delete_subscription.get();
    BindText(st, 1, w.tenant);
    BindText(st, 2, w.id);
    if (w.document) BindText(st, 3, *w.document);
    if (auto s = StepDone(db, st, "write subscription"); !s) return s;
  }
  return Ok();
}

SqliteStore::EntitySeries& SqliteStore::EntitySeriesOf(const context::HistoryRow& row) {
  EntityKeyOf(row, key_buf_);
  return series_[key_buf_];  // nodes are stable: references survive later inserts
}

// The series id of a row of `entity`: from the cache, or created (or its attr_type
// updated) in the current transaction, in which case it is added to `touched_series`.
Result<int64_t> SqliteStore::ResolveSeries(const context::HistoryRow& row, EntitySeries& entity,
                                           std::vector<TouchedSeries>& touched_series) {
  auto it = std::find_if(entity.begin(), entity.end(),
                         [&](const SeriesInfo& s) { return s.attr == row.attr; });
  if (it != entity.end() && it->attr_type == row.attr_type) return it->id;
  sqlite3* db = writer_.get();
  sqlite3_stmt* st = stmts_.upsert_series.get();
  ResetOnExit reset(st);
  BindText(st, 1, row.tenant);
  BindText(st, 2, row.service_path);
  BindText(st, 3, row.entity_id);
  BindText(st, 4, row.entity_type);
  BindText(st, 5, row.attr);
  BindText(st, 6, row.attr_type);
  if (sqlite3_step(st) != SQLITE_ROW) return Fail(SqlError(db, "upsert series"));
  const int64_t id = sqlite3_column_int64(st, 0);
  if (sqlite3_step(st) != SQLITE_DONE) return Fail(SqlError(db, "upsert series"));
  if (it != entity.end()) {
    *it = {row.attr, id, row.attr_type};
  } else {
    entity.push_back({row.attr, id, row.attr_type});
  }
  touched_series.push_back({&entity, row.attr});
  return id;
}

Status SqliteStore::WriteHistory(const std::vector<context::HistoryRow>& rows,
                                 std::vector<TouchedSeries>& touched_series) {
  if (rows.empty()) return Ok();
  std::vector<HistoryInsert> pending;
  pending.reserve(rows.size());
  const context::HistoryRow* previous = nullptr;
  EntitySeries* entity = nullptr;
  for (const context::HistoryRow& r : rows) {
    if (previous == nullptr || !SameEntity(r, *previous)) entity = &EntitySeriesOf(r);
    previous = &r;
    auto id = ResolveSeries(r, *entity, touched_series);
    if (!id) return Fail(id.error());
    pending.push_back({*id, r.IndexTime(), &r});
  }
  // By series, so that consecutive inserts land on the same page. Stable, and not by time:
  // the rows of one series keep their batch order, so the newest seq holds the latest write
  // (evaluation times of concurrent requests need not be in their commit order).
  std::stable_sort(pending.begin(), pending.end(),
                   [](const auto& a, const auto& b) { return a.series < b.series; });
  std::vector<ChunkStats> chunks;
  for (HistoryInsert& p : pending) {
    p.seq = next_seq_++;
    p.chunk = ChunkOf(p.seq);
    if (chunks.empty() || chunks.back().id != p.chunk) {
      chunks.push_back({p.chunk, p.time, p.time, 0});
    }
    ChunkStats& c = chunks.back();
    c.min_time = std::min(c.min_time, p.time);
    c.max_time = std::max(c.max_time, p.time);
    ++c.rows;
  }
  const bool staged = rows.size() < options_.history_direct_rows;
  if (auto s = InsertHistory(pending, staged); !s) return s;
  if (staged) {
    if (auto s = StepSweep(pending); !s) return s;
  }
  sqlite3_stmt* up = stmts_.upsert_chunk.get();
  for (const ChunkStats& c : chunks) {
    sqlite3_bind_int64(up, 1, c.id);
    sqlite3_bind_int64(up, 2, c.min_time);
    sqlite3_bind_int64(up, 3, c.max_time);
    sqlite3_bind_int64(up, 4, c.rows);
    if (auto s = StepDone(writer_.get(), up, "upsert chunk"); !s) return s;
  }
  return Ok();
}

// kHistoryRowsPerInsert rows per statement while that many are left, then one by one; into
// history_staged when `staged`.
Status SqliteStore::InsertHistory(const std::vector<HistoryInsert>& rows, bool staged) {
  auto bind = [](sqlite3_stmt* st, int base, const HistoryInsert& p) {
    BindHistoryRow(st, base, p.chunk, p.series, p.time, p.seq, *p.row);
  };
  sqlite3* db = writer_.get();
  size_t i = 0;
  sqlite3_stmt* many = staged ? stmts_.insert_staged_rows.get() : stmts_.insert_history_rows.get();
  sqlite3_stmt* one = staged ? stmts_.insert_staged.get() : stmts_.insert_history.get();
  for (; i + kHistoryRowsPerInsert <= rows.size(); i += kHistoryRowsPerInsert) {
    for (size_t k = 0; k < kHistoryRowsPerInsert; ++k) {
      bind(many, static_cast<int>(k) * kHistoryColumns, rows[i + k]);
    }
    if (auto s = StepDone(db, many, "insert history"); !s) return s;
  }
  for (; i < rows.size(); ++i) {
    bind(one, 0, rows[i]);
    if (auto s = StepDone(db, one, "insert history"); !s) return s;
  }
  return Ok();
}

Status SqliteStore::LoadSubscriptions(
    const std::function<void(std::string, std::string, std::string)>& sink) {
  auto reader = BorrowReader();
  if (!reader) return Fail(reader.error());
  auto st = Prepare(reader->get(), "SELECT tenant, id, doc FROM subscriptions");
  if (!st) return Fail(st.error());
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    sink(std::string(ColumnText(st->get(), 0)), std::string(ColumnText(st->get(), 1)),
         std::string(ColumnText(st->get(), 2)));
  }
  if (rc != SQLITE_DONE) return Fail(SqlError(reader->get(), "load subscriptions"));
  return Ok();
}

Result<size_t> SqliteStore::PruneHistory(TimeMs before) {
  // Staged rows first, so that a chunk's rows are all in history when it is pruned. When
  // they cannot move (on a full disk a move needs room for all of them), the chunks that
  // hold staged rows wait for a later run and the older ones are pruned all the same: the
  // pages a prune frees make room inside the file, which is what a full disk needs.
  const Status moved = MoveStagedNow();
  if (!moved) {
    spdlog::warn("history retention: pruning only older chunks: {}", moved.error().message);
  }
  size_t removed = 0;
  bool done = false;
  while (!done) {
    LetCommitsIn();
    auto n = PruneOneChunk(before, done);
    if (!n) return Fail(n.error());
    removed += *n;
  }
  return removed;
}

// The first chunk a prune must not touch: the chunk of the oldest row not yet in its
// entity's stored document (see deferred_documents.cpp: the others may still be needed to
// rebuild an entity), or of the oldest row still in history_staged, whichever comes first.
Result<int64_t> SqliteStore::FirstChunkToKeep() {
  sqlite3* db = writer_.get();
  auto oldest = Prepare(db, "SELECT min(seq) FROM history_staged");
  if (!oldest) return Fail(oldest.error());
  if (sqlite3_step(oldest->get()) != SQLITE_ROW) return Fail(SqlError(db, "oldest staged row"));
  int64_t keep = ChunkOf(flushed_through_ + 1);
  if (sqlite3_column_type(oldest->get(), 0) != SQLITE_NULL) {
    keep = std::min(keep, ChunkOf(sqlite3_column_int64(oldest->get(), 0)));
  }
  return keep;
}

// Removes the rows older than `before` from the oldest chunk that has any, in one short
// transaction under the write mutex; sets `done` when no chunk has such rows.
Result<size_t> SqliteStore::PruneOneChunk(TimeMs before, bool& done) {
  std::lock_guard lock(write_mu_);
  sqlite3* db = writer_.get();
  auto keep = FirstChunkToKeep();
  if (!keep) return Fail(keep.error());
  auto find = Prepare(db,
                      "SELECT id, max_time FROM history_chunks WHERE min_time < ?1 AND id < ?2 "
                      "ORDER BY id LIMIT 1");
  if (!find) return Fail(find.error());
  sqlite3_bind_int64(find->get(), 1, before);
  sqlite3_bind_int64(find->get(), 2, *keep);
  const int rc = sqlite3_step(find->get());
  if (rc == SQLITE_DONE) {
    done = true;
    return 0;
  }
  if (rc != SQLITE_ROW) return Fail(SqlError(db, "find chunk to prune"));
  const int64_t chunk = sqlite3_column_int64(find->get(), 0);
  const bool whole = sqlite3_column_int64(find->get(), 1) < before;
  find->reset();
  // An emptied chunk's row goes, except the newest: its id is where row seqs resume at the
  // next start (Init), so it stays, empty (its times set so that nothing finds it, until
  // upsert_chunk widens them again).
  const char* sql =
      whole ? "DELETE FROM history WHERE chunk = ?1;"
              "DELETE FROM history_chunks WHERE id = ?1 "
              "AND id < (SELECT max(id) FROM history_chunks);"
              "UPDATE history_chunks SET rows = 0, min_time = 9223372036854775807, "
              "max_time = -9223372036854775807 - 1 WHERE id = ?1;"
            : "DELETE FROM history WHERE chunk = ?1 AND time < ?2;"
              "UPDATE history_chunks SET rows = rows - changes(), "
              "min_time = coalesce((SELECT min(time) FROM history WHERE chunk = ?1), max_time) "
              "WHERE id = ?1;";
  size_t removed = 0;
  const Status result = InTransaction(db, [&]() -> Status {
    bool first = true;  // the first statement deletes the history rows
    for (const char* tail = sql; *tail != '\0';) {
      sqlite3_stmt* raw = nullptr;
      if (sqlite3_prepare_v2(db, tail, -1, &raw, &tail) != SQLITE_OK) {
        return Fail(SqlError(db, "prune"));
      }
      StmtPtr st(raw);
      if (st == nullptr) break;
      sqlite3_bind_int64(st.get(), 1, chunk);
      if (sqlite3_bind_parameter_count(st.get()) >= 2) sqlite3_bind_int64(st.get(), 2, before);
      if (auto s = StepDone(db, st.get(), "prune"); !s) return s;
      if (first) removed = static_cast<size_t>(sqlite3_changes(db));
      first = false;
    }
    return Ok();
  });
  if (!result) return Fail(result.error());
  return removed;
}

void SqliteStore::LetCommitsIn() const {
  // std::mutex is not fair: a loop that unlocks write_mu_ and locks it again takes it back
  // before a waiting commit's thread has woken, and the writer would wait for the whole
  // prune or deletion (measured: PATCHes held 1.5 s by a deletion of 2 million rows).
  while (commits_waiting_.load(std::memory_order_relaxed) > 0) std::this_thread::yield();
}

Result<SqliteStore::Reader> SqliteStore::BorrowReader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      DbPtr db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return Reader(*this, std::move(db));
    }
  }
  auto db = OpenDb(file_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, options_.busy_timeout_ms);
  if (!db) return Fail(db.error());
  const std::string pragma = "PRAGMA cache_size=-" + std::to_string(options_.reader_cache_kib);
  if (auto s = Exec(db->get(), pragma.c_str()); !s) return Fail(s.error());
  return Reader(*this, std::move(*db));
}

void SqliteStore::ReleaseReader(DbPtr db) {
  std::lock_guard lock(readers_mu_);
  if (idle_readers_.size() < options_.max_idle_readers) idle_readers_.push_back(std::move(db));
}

}  // namespace zc::store
