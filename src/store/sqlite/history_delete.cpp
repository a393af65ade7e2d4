// History deletion of SqliteStore (QuantumLeap's DELETE /v2/entities/{id} and
// /v2/types/{type}): the rows a selection names, among those committed before the call.
//
// Two things make it more than a DELETE statement:
//  - Deferred documents (deferred_documents.cpp). The latest attribute values of an entity
//    whose document waits are durable only through their history rows; deleting those rows
//    would make the entity, rebuilt after a crash, go back to its stored document. So the
//    deletion first stores the documents of the deferred entities it selects, in one
//    transaction with the staged rows moved into history (staged_history.cpp), and takes
//    the last committed seq as its bound. Rows committed later are not its to delete, and
//    their entities' documents are handled by the commits that wrote them.
//  - The writer. Everything here runs under write_mu_, which every commit needs, so a
//    deletion of millions of rows must not hold it throughout: it deletes chunk by chunk,
//    up to kSeriesPerStep series (one primary-key range each) per transaction, and commits
//    go on in between. A crash in the middle leaves part of the selection deleted and the
//    request unacknowledged; repeating it finishes the work.
//
// history_chunks keeps each chunk's row (its `rows` count lowered): an emptied chunk costs
// one row and retention removes it in time.
#include <algorithm>

#include "context/scope.h"
#include "store/sqlite/history_sql.h"
#include "store/sqlite/sqlite_store.h"

namespace zc::store {
namespace {

constexpr size_t kSeriesPerStep = 1024;  // (chunk, series) ranges deleted per transaction

bool AnyOf(const std::vector<std::string>& values, std::string_view value) {
  return values.empty() || std::find(values.begin(), values.end(), value) != values.end();
}

// The first column of every row of `sql`, as integers (ids).
Result<std::vector<int64_t>> Ids(sqlite3* db, const Sql& sql, std::string_view what) {
  auto st = PrepareBound(db, sql);
  if (!st) return Fail(st.error());
  std::vector<int64_t> out;
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    out.push_back(sqlite3_column_int64(st->get(), 0));
  }
  if (rc != SQLITE_DONE) return Fail(SqlError(db, what));
  return out;
}

Result<std::vector<int64_t>> SelectedSeries(sqlite3* db, const context::HistoryQuery& q) {
  Sql sql;
  sql.Add("SELECT id FROM history_series WHERE tenant = ");
  sql.Arg(q.tenant);
  AddSeriesFilter(q, sql);
  sql.Add(" ORDER BY id");
  return Ids(db, sql, "history series to delete");
}

// The chunks up to `last_chunk` that may hold rows in the selection's time range.
Result<std::vector<int64_t>> SelectedChunks(sqlite3* db, const context::HistoryQuery& q,
                                            int64_t last_chunk) {
  Sql sql;
  sql.Add("SELECT id FROM history_chunks WHERE rows > 0 AND id <= ");
  sql.Arg(last_chunk);
  AddChunkOverlap(q, "", sql);
  sql.Add(" ORDER BY id");
  return Ids(db, sql, "history chunks to delete from");
}

}  // namespace

Result<size_t> SqliteStore::DeleteHistory(const context::HistoryQuery& selection) {
  auto deletion = StartDeletion(selection);
  if (!deletion) return Fail(deletion.error());
  size_t removed = 0;
  for (const int64_t chunk : deletion->chunks) {
    for (size_t first = 0; first < deletion->series.size(); first += kSeriesPerStep) {
      LetCommitsIn();
      auto n = DeleteRows(selection, *deletion, chunk, first);
      if (!n) return Fail(n.error());
      removed += *n;
    }
  }
  return removed;
}

// Under the write mutex: every staged row into history, the selected deferred documents
// stored, and the bound (the last seq) taken, so that no row up to it is needed to rebuild
// an entity the selection covers.
Result<SqliteStore::HistoryDeletion> SqliteStore::StartDeletion(
    const context::HistoryQuery& selection) {
  std::lock_guard lock(write_mu_);
  if (replay_pending_) {
    return Fail(Error::Unavailable("history cannot be deleted before the entities are loaded"));
  }
  if (StagedPending()) {
    if (auto s = MoveAllStaged(); !s) return Fail(s.error());
  }
  auto deferred = DeferredOf(selection);
  if (!deferred) return Fail(deferred.error());
  if (auto s = StoreDeferred(*deferred); !s) return Fail(s.error());
  HistoryDeletion d;
  d.last_seq = next_seq_ - 1;
  if (d.last_seq < 0) return d;
  auto series = SelectedSeries(writer_.get(), selection);
  if (!series) return Fail(series.error());
  d.series = std::move(*series);
  if (d.series.empty()) return d;
  auto chunks = SelectedChunks(writer_.get(), selection, ChunkOf(d.last_seq));
  if (!chunks) return Fail(chunks.error());
  d.chunks = std::move(*chunks);
  return d;
}

// The deferred documents of the entities the selection covers (by tenant, id, type and
// service path; a selection of some attributes takes the whole entity).
Result<std::vector<SqliteStore::DeferredList::iterator>> SqliteStore::DeferredOf(
    const context::HistoryQuery& selection) {
  context::PathScope scope = context::PathScope::All();
  if (!selection.service_paths.empty()) {
    std::string header;
    for (const std::string& p : selection.service_paths) {
      header.append(header.empty() ? "" : ",").append(p);
    }
    auto parsed = context::PathScope::Parse(header);
    if (!parsed) return Fail(parsed.error());
    scope = std::move(*parsed);
  }
  std::vector<DeferredList::iterator> out;
  for (auto it = deferred_.begin(); it != deferred_.end(); ++it) {
    const context::Entity& e = *it->after;
    if (it->tenant == selection.tenant && AnyOf(selection.entity_ids, e.id) &&
        AnyOf(selection.entity_types, e.type) && scope.Matches(e.service_path)) {
      out.push_back(it);
    }
  }
  return out;
}

// Deletes, in one transaction, the selected rows of `chunk` up to the bound for the series
// d.series[first, first + kSeriesPerStep).
Result<size_t> SqliteStore::DeleteRows(const context::HistoryQuery& selection,
                                       const HistoryDeletion& d, int64_t chunk, size_t first) {
  std::lock_guard lock(write_mu_);
  sqlite3* db = writer_.get();
  Sql sql;
  sql.Add("DELETE FROM history WHERE chunk = ");
  sql.Arg(chunk);
  sql.Add(" AND series = ");
  sql.Arg(int64_t{0});  // binds[1]: each series in turn
  sql.Add(" AND seq <= ");
  sql.Arg(d.last_seq);
  AddTimeRange(selection, "time", sql);
  size_t removed = 0;
  const Status result = InTransaction(db, [&]() -> Status {
    auto st = Prepare(db, sql.text);
    if (!st) return Fail(st.error());
    const size_t end = std::min(d.series.size(), first + kSeriesPerStep);
    for (size_t i = first; i < end; ++i) {
      sql.binds[1] = d.series[i];
      BindAll(st->get(), sql);
      if (auto s = StepDone(db, st->get(), "delete history"); !s) return s;
      removed += static_cast<size_t>(sqlite3_changes(db));
    }
    if (removed == 0) return Ok();
    auto count = Prepare(db, "UPDATE history_chunks SET rows = rows - ?2 WHERE id = ?1");
    if (!count) return Fail(count.error());
    sqlite3_bind_int64(count->get(), 1, chunk);
    sqlite3_bind_int64(count->get(), 2, static_cast<int64_t>(removed));
    return StepDone(db, count->get(), "count deleted history");
  });
  if (!result) return Fail(result.error());
  return removed;
}

}  // namespace zc::store
