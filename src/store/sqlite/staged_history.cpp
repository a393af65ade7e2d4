// The staged history of SqliteStore: where the history rows of small commits wait before
// they go into the history table (schema.cpp says why).
//
// A commit of fewer than history_direct_rows rows appends them to history_staged, whose
// key is the seq: the commit touches the table's last page instead of one page of the
// chunk per row. The commit that brings history_staged_rows rows outside a sweep starts
// one: every row staged so far (seq < sweep_seq_) is indexed in memory by (chunk, series),
// the order of history's key, and each commit from then on moves the rows of the next few
// series (twice as many rows as it staged, history_move_min_rows at least), so that a step
// writes a contiguous run of history's pages and no commit waits for a whole move (one
// statement moving 16,384 rows stalled commits for 25-50 ms: docs/benchmarks.md). Moved
// rows stay in history_staged until the sweep ends, then go with one range DELETE;
// meanwhile readers skip them through the mark (sweep_seq, sweep_chunk, sweep_series) in
// store_meta, written in the same transaction as each step (kStagedNotMovedSql). A start,
// an idle writer (Flush) and a prune move everything at once (MoveAllStaged). The commit
// after a failed one reads the index back from the table and the mark instead
// (ReloadStaged): a read needs no disk space, where a move of everything staged needs room
// for all of it, which after a full disk can be far more than the commit itself (rows of
// large values). Either way the in-memory index never outlives a rolled-back transaction.
#include <algorithm>
#include <string>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/staged_history.h"

namespace zc::store {
namespace {

// Every staged row that is not in history yet moves there; the table and the mark are
// cleared. In the open transaction.
Status MoveRest(sqlite3* db) {
  const std::string sql = std::string("INSERT INTO history(") + kHistoryRowColumns + ") SELECT " +
                          kHistoryRowColumns + " FROM history_staged AS s WHERE " +
                          kStagedNotMovedSql +
                          " ORDER BY chunk, series, time, seq;"
                          "DELETE FROM history_staged;"
                          "UPDATE store_meta SET value = 0 WHERE key = 'sweep_seq';";
  return Exec(db, sql.c_str());
}

}  // namespace

std::string MoveStagedRowsSql() {
  std::string sql = std::string("INSERT INTO history(") + kHistoryRowColumns + ") SELECT " +
                    kHistoryRowColumns + " FROM history_staged WHERE seq IN (";
  for (int i = 1; i <= kMoveRows; ++i) sql += (i == 1 ? "?" : ",?") + std::to_string(i);
  return sql + ") ORDER BY chunk, series, time, seq";
}

Status SqliteStore::MoveAllStaged() {
  sqlite3* db = writer_.get();
  if (auto s = InTransaction(db, [db] { return MoveRest(db); }); !s) {
    staged_stale_ = true;
    return s;
  }
  staged_.clear();
  sweep_.clear();
  sweep_left_ = 0;
  sweep_seq_ = 0;
  staged_stale_ = false;
  staged_waiting_ = 0;
  return Ok();
}

namespace {

// The committed sweep mark: the sweep's end seq (0: no sweep runs) and its cursor.
struct SweepMark {
  int64_t seq = 0;
  std::pair<int64_t, int64_t> cursor;  // (chunk, series): the rows below it have moved
};

Result<SweepMark> ReadSweepMark(sqlite3* db) {
  auto st = Prepare(db,
                    "SELECT coalesce((SELECT value FROM store_meta WHERE key = 'sweep_seq'), 0), "
                    "coalesce((SELECT value FROM store_meta WHERE key = 'sweep_chunk'), 0), "
                    "coalesce((SELECT value FROM store_meta WHERE key = 'sweep_series'), 0)");
  if (!st) return Fail(st.error());
  if (sqlite3_step(st->get()) != SQLITE_ROW) return Fail(SqlError(db, "read the sweep mark"));
  return SweepMark{sqlite3_column_int64(st->get(), 0),
                   {sqlite3_column_int64(st->get(), 1), sqlite3_column_int64(st->get(), 2)}};
}

}  // namespace

Status SqliteStore::ReloadStaged() {
  sqlite3* db = writer_.get();
  auto mark = ReadSweepMark(db);
  if (!mark) return Fail(mark.error());
  const int64_t sweep_seq = mark->seq;
  const SweepKey cursor = mark->cursor;
  auto st = Prepare(db, "SELECT chunk, series, seq FROM history_staged ORDER BY seq");
  if (!st) return Fail(st.error());
  std::vector<StagedRow> staged;
  std::map<SweepKey, std::vector<int64_t>> sweep;
  size_t sweep_left = 0;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    const StagedRow row{{sqlite3_column_int64(st->get(), 0), sqlite3_column_int64(st->get(), 1)},
                        sqlite3_column_int64(st->get(), 2)};
    if (sweep_seq == 0 || row.seq >= sweep_seq) {
      staged.push_back(row);
    } else if (row.key >= cursor) {  // below the cursor: moved, leaves with the sweep's end
      sweep[row.key].push_back(row.seq);
      ++sweep_left;
    }
  }
  if (rc != SQLITE_DONE) return Fail(SqlError(db, "read the staged history"));
  staged_ = std::move(staged);
  sweep_ = std::move(sweep);
  sweep_left_ = sweep_left;
  sweep_seq_ = sweep_seq;
  staged_stale_ = false;
  return Ok();
}

bool SqliteStore::StagedPending() const {
  return !staged_.empty() || sweep_seq_ != 0 || staged_stale_;
}

Status SqliteStore::MoveStagedNow() {
  std::lock_guard lock(write_mu_);
  return StagedPending() ? MoveAllStaged() : Ok();
}

Status SqliteStore::StepSweep(const std::vector<HistoryInsert>& rows) {
  for (const HistoryInsert& r : rows) staged_.push_back({{r.chunk, r.series}, r.seq});
  if (sweep_seq_ == 0) {
    if (staged_.size() < options_.history_staged_rows) return Ok();
    for (const StagedRow& r : staged_) sweep_[r.key].push_back(r.seq);
    sweep_left_ = staged_.size();
    staged_.clear();
    sweep_seq_ = next_seq_;  // every staged row is below it
  }
  const size_t budget = std::max(options_.history_move_min_rows, 2 * rows.size());
  std::vector<int64_t> seqs;
  while (!sweep_.empty() && seqs.size() < budget) {  // whole series: contiguous pages
    auto first = sweep_.begin();
    seqs.insert(seqs.end(), first->second.begin(), first->second.end());
    sweep_.erase(first);
  }
  if (auto s = MoveSeqs(seqs); !s) return s;
  sweep_left_ -= seqs.size();
  if (sweep_.empty()) {  // the sweep ends: its rows leave history_staged at once
    sqlite3_stmt* clear = stmts_.end_sweep.get();
    sqlite3_bind_int64(clear, 1, sweep_seq_);
    if (auto s = StepDone(writer_.get(), clear, "end sweep"); !s) return s;
    sweep_seq_ = 0;
  }
  return WriteSweepMark();
}

Status SqliteStore::MoveSeqs(const std::vector<int64_t>& seqs) {
  sqlite3_stmt* st = stmts_.move_staged_rows.get();
  for (size_t i = 0; i < seqs.size(); i += kMoveRows) {
    for (int k = 0; k < kMoveRows; ++k) {
      const size_t at = i + static_cast<size_t>(k);
      sqlite3_bind_int64(st, k + 1, at < seqs.size() ? seqs[at] : -1);
    }
    if (auto s = StepDone(writer_.get(), st, "move staged history"); !s) return s;
  }
  return Ok();
}

// The mark readers skip moved rows by: (sweep_seq_, the cursor), or sweep_seq 0.
Status SqliteStore::WriteSweepMark() {
  const SweepKey cursor = sweep_.empty() ? SweepKey{0, 0} : sweep_.begin()->first;
  const std::pair<const char*, int64_t> marks[] = {
      {"sweep_seq", sweep_seq_}, {"sweep_chunk", cursor.first}, {"sweep_series", cursor.second}};
  sqlite3_stmt* st = stmts_.set_meta.get();
  for (const auto& [key, value] : marks) {
    BindText(st, 1, key);
    sqlite3_bind_int64(st, 2, value);
    if (auto s = StepDone(writer_.get(), st, "sweep mark"); !s) return s;
  }
  return Ok();
}

}  // namespace zc::store
