// The embedded store: context::ContextStore over one SQLite file (DIR/zhicheng.db) in WAL
// mode with synchronous=FULL, so that Commit() returning Ok means the batch is on disk.
//
// Threads: Commit(), PruneHistory() and DeleteHistory() serialize on an internal mutex over
// the one write connection (Commit comes from the writer thread, Prune from a maintenance
// timer, Delete from a request; the last two work in steps, and between steps they let a
// waiting Commit take the mutex first). Loads and history reads use
// connections from a small pool, one connection per call, in parallel with the writer (WAL
// readers see the last committed state). All methods are thread-safe; none throws.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/metrics.h"
#include "context/store.h"
#include "store/sqlite/sqlite_util.h"

namespace zc::store {

struct SqliteOptions {
  int busy_timeout_ms = 5000;
  int64_t writer_cache_kib = int64_t{64} * 1024;  // page cache of the write connection
  int64_t reader_cache_kib = int64_t{8} * 1024;   // page cache of each read connection
  int64_t history_chunk_rows = 20000;             // history rows per chunk (see schema.cpp)
  // The history rows of a commit with fewer rows than this go to history_staged (see
  // staged_history.cpp); once history_staged_rows wait, the following commits move them
  // into history a few series at a time; all of them move when the writer is idle (Flush)
  // and before a prune.
  size_t history_direct_rows = 1000;
  size_t history_staged_rows = 4096;
  size_t history_move_min_rows = 256;  // rows a commit moves at least while a sweep runs
  size_t max_idle_readers = 4;         // read connections kept open between calls
  // The document of an entity changed by attributes-only writes is stored at most about
  // this long after the first of them (meanwhile its history rows keep them durable and
  // a restart replays them); 0 stores every document at once.
  int64_t document_delay_ms = 10000;
  // The monotonic clock (milliseconds) that times document_delay_ms; empty: steady_clock.
  // Tests set their own to make time pass without waiting.
  std::function<TimeMs()> steady_clock_ms;
};

class SqliteStore final : public context::ContextStore {
  struct Passkey {
    explicit Passkey() = default;
  };

 public:
  // The store's file in the data directory.
  static constexpr const char* kFileName = "zhicheng.db";

  // Opens or creates DIR/zhicheng.db (creating DIR) and migrates it to the current schema.
  // The history series cache loads on a thread of its own meanwhile, so that a start-up
  // reads the entities (LoadEntities) while it loads; the first Commit waits for it.
  // Errors: Internal (I/O, a newer schema, not a database).
  static Result<std::unique_ptr<SqliteStore>> Open(const std::filesystem::path& data_dir,
                                                   SqliteOptions options = {});
  SqliteStore(Passkey, std::filesystem::path file, SqliteOptions options, DbPtr writer);
  ~SqliteStore() override;

  Status Commit(const context::WriteBatch& batch) override;
  Status LoadEntities(const std::function<void(std::string, context::Entity)>& sink) override;
  Status LoadSubscriptions(
      const std::function<void(std::string, std::string, std::string)>& sink) override;
  Result<std::vector<context::HistoryPoint>> QueryHistory(
      const context::HistoryQuery& query) override;
  Result<std::vector<context::HistoryBucket>> AggregateHistory(
      const context::HistoryAggregateQuery& query) override;
  Result<std::vector<context::HistoryEntity>> ListHistoryEntities(
      const context::HistoryQuery& query) override;
  Result<size_t> PruneHistory(TimeMs before) override;
  Result<size_t> DeleteHistory(const context::HistoryQuery& selection) override;
  Status Flush(FlushMode mode) override;

  // Waits until the series cache has loaded; its error, if it failed (then every Commit
  // fails with it too). Start-up calls it after LoadEntities, to stop on such an error.
  Status AwaitSeriesCache();

  const std::filesystem::path& File() const { return file_; }

  // Registers gauges of the deferred documents (how many, and how many history rows a
  // restart after a crash would read) and of the staged history rows not moved yet in
  // `metrics`, which must outlive the store's use.
  void ExportMetrics(metrics::Registry& metrics);

 private:
  struct SeriesInfo {
    std::string attr;
    int64_t id = 0;
    std::string attr_type;
  };
  // The series of one entity's attributes: a commit resolves its rows entity by entity, so
  // one map lookup per entity and a short scan per attribute.
  using EntitySeries = std::vector<SeriesInfo>;
  // A series created or changed by the open transaction: forgotten if it rolls back.
  struct TouchedSeries {
    EntitySeries* entity;
    std::string attr;
  };
  struct Statements {
    StmtPtr update_entity, insert_entity, delete_entity, upsert_subscription, delete_subscription;
    StmtPtr upsert_series, insert_history, upsert_chunk, set_meta;
    StmtPtr insert_history_rows;                // kHistoryRowsPerInsert rows in one statement
    StmtPtr insert_staged, insert_staged_rows;  // the same into history_staged
    StmtPtr move_staged_rows;                   // kMoveRows staged rows, by seq, → history
    StmtPtr end_sweep;                          // the staged rows below a seq go
  };
  // An entity whose stored document is older than its state: the attributes-only writes
  // since are durable as history rows with seq >= first_seq (deferred_documents.cpp).
  struct DeferredDocument {
    const std::string* row_key;  // RowKey(tenant, key): the key of its deferred_index_ entry
    std::string tenant;
    context::EntityPtr after;  // the latest state
    int64_t first_seq = 0;     // its oldest history row not in the stored document
    TimeMs since = 0;          // steady-clock ms of that row's commit
  };
  using DeferredList = std::list<DeferredDocument>;
  // store_meta's key of the mark: every history row up to its value is in its document.
  static constexpr const char* kFlushedThroughKey = "flushed_through";
  // What one commit does with its entity writes (deferred_documents.cpp).
  struct EntityPlan {
    struct Slot {
      const context::EntityWrite* last = nullptr;  // the entity's state after the commit
      bool full = false;                           // its document is stored by this commit
    };
    std::unordered_map<std::string, Slot> slots;  // this commit's entities, by row key
    std::vector<std::unordered_map<std::string, Slot>::iterator> order;  // first-write order
    std::vector<DeferredList::iterator> flush;  // older deferred documents stored now
    int64_t flushed_through = -1;               // after the commit
    TimeMs now = 0;                             // SteadyNow() when planned
  };
  // A read connection borrowed from the pool; returned to it on destruction.
  class Reader {
   public:
    Reader(SqliteStore& store, DbPtr db) : store_(&store), db_(std::move(db)) {}
    Reader(Reader&& other) noexcept = default;
    Reader& operator=(Reader&&) = delete;
    ~Reader() {
      if (db_) store_->ReleaseReader(std::move(db_));
    }
    sqlite3* get() const { return db_.get(); }

   private:
    SqliteStore* store_;
    DbPtr db_;
  };

  Status Init();
  TimeMs SteadyNow() const;
  Status PrepareStatements();
  using SeriesCache = std::unordered_map<std::string, EntitySeries>;  // by entity key
  Result<SeriesCache> ReadSeriesCache();                              // on its own read connection
  Status AwaitSeriesCacheLocked();                                    // REQUIRES write_mu_
  Status LoadFlushedThrough();
  EntityPlan PlanEntities(const std::vector<context::EntityWrite>& writes, int64_t first_seq,
                          int64_t last_seq);
  Status WriteDocuments(const EntityPlan& plan, int64_t seq);
  Status WriteDocument(const std::string& tenant, const context::EntityKey& key,
                       const context::Entity& after, const std::string& document, int64_t seq);
  // Stores the flushed_through mark when it differs from flushed_through_ (Store...: always).
  Status WriteFlushedThrough(int64_t seq);
  Status StoreFlushedThrough(int64_t seq);
  int64_t ChunkOf(int64_t seq) const;  // the history chunk of a row's seq
  void AfterCommit(EntityPlan& plan, int64_t first_seq);
  Result<size_t> FlushSome(FlushMode mode);
  // Stores the documents of `docs` (entries of deferred_) in one transaction, moves
  // flushed_through on and forgets them.
  Status StoreDeferred(const std::vector<DeferredList::iterator>& docs);
  void Forget(DeferredList::iterator d);
  void PublishDeferredMetrics();
  Status StoreRebuilt(const std::vector<std::pair<std::string, context::EntityPtr>>& rebuilt);
  Status WriteSubscriptions(const std::vector<context::SubscriptionWrite>& writes);
  // A history row on its way into the table: its series id, seq and chunk are resolved.
  struct HistoryInsert {
    int64_t series = 0;
    TimeMs time = 0;
    const context::HistoryRow* row = nullptr;
    int64_t seq = 0;
    int64_t chunk = 0;  // ChunkOf(seq)
  };
  Status WriteHistory(const std::vector<context::HistoryRow>& rows,
                      std::vector<TouchedSeries>& touched_series);
  Status InsertHistory(const std::vector<HistoryInsert>& rows, bool staged);
  // The staged history (staged_history.cpp). A sweep moves the rows staged before
  // sweep_seq_ into history in (chunk, series) order, a few series per commit.
  using SweepKey = std::pair<int64_t, int64_t>;  // (chunk, series)
  struct StagedRow {
    SweepKey key;
    int64_t seq = 0;
  };
  // Moves every staged row not in history yet there, in a transaction of its own, and
  // clears the index: at start (a sweep a crash interrupted), when the writer is idle, and
  // before a prune.
  Status MoveAllStaged();
  // Reads the index back from history_staged and the sweep mark as committed, before the
  // commit after a failed one (whose rollback left the index ahead of the database).
  Status ReloadStaged();
  // In the commit's transaction, after `rows` were staged: starts a sweep or moves its next
  // series.
  Status StepSweep(const std::vector<HistoryInsert>& rows);
  Status MoveSeqs(const std::vector<int64_t>& seqs);
  Status WriteSweepMark();
  // MoveAllStaged when anything is staged, under the write mutex (Flush, PruneHistory).
  Status MoveStagedNow();
  EntitySeries& EntitySeriesOf(const context::HistoryRow& row);
  Result<int64_t> ResolveSeries(const context::HistoryRow& row, EntitySeries& entity,
                                std::vector<TouchedSeries>& touched_series);
  Result<size_t> PruneOneChunk(TimeMs before, bool& done);
  Result<int64_t> FirstChunkToKeep();  // REQUIRES write_mu_
  // A history deletion (history_delete.cpp): the series it selects, the chunks that may
  // hold their rows, and the last seq committed when it started (later rows stay).
  struct HistoryDeletion {
    std::vector<int64_t> series;
    std::vector<int64_t> chunks;
    int64_t last_seq = -1;
  };
  Result<HistoryDeletion> StartDeletion(const context::HistoryQuery& selection);
  Result<std::vector<DeferredList::iterator>> DeferredOf(const context::HistoryQuery& selection);
  Result<size_t> DeleteRows(const context::HistoryQuery& selection, const HistoryDeletion& d,
                            int64_t chunk, size_t first_series);
  bool StagedPending() const;  // REQUIRES write_mu_
  // Between the steps of a prune or a deletion (write_mu_ not held): returns once the
  // commits waiting for write_mu_ have taken it.
  void LetCommitsIn() const;
  Result<Reader> BorrowReader();
  void ReleaseReader(DbPtr db);

  // Constant after construction.
  const std::filesystem::path file_;
  const SqliteOptions options_;

  std::mutex write_mu_;
  std::atomic<int> commits_waiting_ = 0;  // Commit calls waiting for write_mu_
  DbPtr writer_;                          // GUARDED_BY(write_mu_)
  Statements stmts_;                      // GUARDED_BY(write_mu_)
  SeriesCache series_;                    // GUARDED_BY(write_mu_)
  // Loading series_ (Init); valid until awaited. GUARDED_BY(write_mu_)
  std::future<Result<SeriesCache>> series_loading_;
  Status series_status_;  // the load's outcome, once awaited; GUARDED_BY(write_mu_)
  int64_t next_seq_ = 0;  // GUARDED_BY(write_mu_)
  // Staged rows outside the sweep, in seq order; the sweep's rows still to move, by key;
  // the sweep's end (0: none); whether a failed commit left these ahead of the database.
  // Empty at start: Init moves whatever a previous run staged.
  std::vector<StagedRow> staged_;                   // GUARDED_BY(write_mu_)
  std::map<SweepKey, std::vector<int64_t>> sweep_;  // GUARDED_BY(write_mu_)
  size_t sweep_left_ = 0;                           // rows in sweep_; GUARDED_BY(write_mu_)
  int64_t sweep_seq_ = 0;                           // GUARDED_BY(write_mu_)
  bool staged_stale_ = false;                       // GUARDED_BY(write_mu_)
  std::string key_buf_;                             // GUARDED_BY(write_mu_)
  DeferredList deferred_;                           // oldest first; GUARDED_BY(write_mu_)
  std::unordered_map<std::string, DeferredList::iterator> deferred_index_;  // GUARDED_BY(write_mu_)
  // Every history row with seq <= this is in its entity's stored document.
  int64_t flushed_through_ = -1;  // GUARDED_BY(write_mu_)
  // History rows after flushed_through_ not yet replayed by LoadEntities: the mark stays.
  bool replay_pending_ = false;  // GUARDED_BY(write_mu_)
  // Copies for the metrics, which must not wait for a commit.
  std::atomic<size_t> deferred_count_ = 0;
  std::atomic<int64_t> replay_rows_ = 0;
  std::atomic<size_t> staged_waiting_ = 0;  // staged rows not moved yet, after the last commit

  std::mutex readers_mu_;
  std::vector<DbPtr> idle_readers_;  // GUARDED_BY(readers_mu_)
};

}  // namespace zc::store
