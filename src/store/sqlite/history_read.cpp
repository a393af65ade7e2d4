// History reads of SqliteStore: QueryHistory, AggregateHistory and ListHistoryEntities.
//
// QueryHistory and AggregateHistory build one SQL statement from the query's filters:
//   WITH sel AS MATERIALIZED (SELECT id, entity_id, entity_type, attr FROM history_series
//                             WHERE tenant = ? AND <entity/type/attr/scope filters>),
//   h AS (SELECT <sel's columns>, t.time, t.seq, t.value
//         FROM history_chunks AS c CROSS JOIN sel CROSS JOIN history AS t
//         WHERE <chunk overlaps [from, to]> AND t.chunk = c.id AND t.series = sel.id
//               AND <t.time in [from, to]>
//         UNION ALL
//         SELECT <sel's columns>, s.time, s.seq, s.value
//         FROM history_staged AS s CROSS JOIN sel WHERE sel.id = s.series AND <s.time ...>
//               AND <not moved by the sweep yet (staged_history.h)>)
//   SELECT ... FROM h ...
// CROSS JOIN fixes the loop order: chunks outside the time range are skipped through their
// min/max times, and every remaining (chunk, series) pair is one seek on history's primary key
// (chunk, series, time, seq); the staged rows (a bounded number, see staged_history.cpp) are
// scanned once. Point queries put LIMIT in SQL (the sorter keeps only that many rows); instant
// queries (count_instants) stream rows ordered by (time, entity) and stop after the last
// wanted instant. Aggregation is a GROUP BY (series, bucket) in SQL, with the bucket computed
// from the time in UTC and numeric values recognised by their JSON text.
//
// ListHistoryEntities needs each entity's latest time, which a GROUP BY over every row would
// scan the whole history for. Instead, inside one read transaction (one snapshot, so that
// the sweep cannot move a row between the two tables unseen), it takes the staged maxima
// with one scan, then visits each series' chunks by descending max_time with one seek each
// (the last key of (chunk, series) in range) and stops at the first chunk whose max_time
// cannot beat the entity's latest time so far: a series that reported recently costs one
// or two seeks, one that went silent a seek per chunk written since. Entities are visited
// in the listing's order and the walk stops once the page is full.
#include <algorithm>
#include <limits>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/json.h"
#include "store/sqlite/history_sql.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/staged_history.h"

namespace zc::store {
namespace {

// The WITH clause of every history read: `sel`, the series asked for, and `h`, their rows
// in the time range (sid, entity_id, entity_type, attr, time, seq, value).
void AddRows(const context::HistoryQuery& q, Sql& sql) {
  sql.Add(
      "WITH sel AS MATERIALIZED (SELECT id, entity_id, entity_type, attr, attr_type "
      "FROM history_series WHERE tenant = ");
  sql.Arg(q.tenant);
  AddSeriesFilter(q, sql);
  sql.Add(
      "), h AS (SELECT sel.id AS sid, sel.entity_id, sel.entity_type, sel.attr, sel.attr_type, "
      "t.time, t.seq, t.value FROM history_chunks AS c CROSS JOIN sel CROSS JOIN history AS t "
      "WHERE t.chunk = c.id AND t.series = sel.id");
  AddChunkOverlap(q, "c.", sql);
  AddTimeRange(q, "t.time", sql);
  sql.Add(
      " UNION ALL SELECT sel.id, sel.entity_id, sel.entity_type, sel.attr, sel.attr_type, "
      "s.time, s.seq, s.value FROM history_staged AS s CROSS JOIN sel "
      "WHERE sel.id = s.series AND ");
  sql.Add(kStagedNotMovedSql);
  AddTimeRange(q, "s.time", sql);
  sql.Add(") ");
}

// How many units (points, instants or buckets) to skip and to take, in SQL order.
struct Window {
  bool descending = false;
  size_t skip = 0;
  size_t take = 0;
};

Window WindowOf(const context::HistoryQuery& q) {
  if (q.last_n) return {true, q.offset, std::min(*q.last_n, q.limit)};
  return {false, q.offset, q.limit};
}

std::string BucketSql(context::AggrPeriod period) {
  using P = context::AggrPeriod;
  auto fixed = [](int64_t width) {
    const std::string w = std::to_string(width);
    return "(h.time - (((h.time % " + w + ") + " + w + ") % " + w + "))";
  };
  auto calendar = [](const char* modifier) {
    return std::string(
               "(CAST(strftime('%s', (h.time - (((h.time % 1000) + 1000) % 1000)) / "
               "1000, 'unixepoch', '") +
           modifier + "') AS INTEGER) * 1000)";
  };
  switch (period) {
    case P::kNone:
      return "0";
    case P::kSecond:
      return fixed(1000);
    case P::kMinute:
      return fixed(60'000);
    case P::kHour:
      return fixed(3'600'000);
    case P::kDay:
      return fixed(86'400'000);
    case P::kMonth:
      return calendar("start of month");
    case P::kYear:
      return calendar("start of year");
  }
  return "0";
}

std::string AggregateSql(context::AggrMethod method) {
  using M = context::AggrMethod;
  // A JSON number is the only JSON text that starts with '-' or a digit. A text holding a
  // JSON number counts too when the attribute is of a numeric type, as QuantumLeap casts it
  // ("21.5" of a Number, as IoT Agents send UltraLight measures); the nested CASEs keep
  // json_type from seeing text that is not JSON.
  constexpr const char* kNumeric =
      "(CASE WHEN substr(h.value, 1, 1) IN ('-','0','1','2','3','4','5','6','7','8','9') "
      "THEN CAST(h.value AS REAL) "
      "WHEN h.attr_type IN ('Number','Integer') AND substr(h.value, 1, 1) = '\"' THEN "
      "(CASE WHEN json_valid(json_extract(h.value, '$')) THEN "
      "(CASE WHEN json_type(json_extract(h.value, '$')) IN ('integer','real') "
      "THEN CAST(json_extract(h.value, '$') AS REAL) END) END) END)";
  switch (method) {
    case M::kCount:
      return "count(*)";
    case M::kSum:
      return std::string("sum") + kNumeric;
    case M::kAvg:
      return std::string("avg") + kNumeric;
    case M::kMin:
      return std::string("min") + kNumeric;
    case M::kMax:
      return std::string("max") + kNumeric;
  }
  return "count(*)";
}

// The series of a listing grouped by entity, in (id, type) order.
struct ListedEntity {
  std::string id;
  std::string type;
  std::vector<int64_t> series;
};

Result<std::vector<ListedEntity>> SeriesByEntity(sqlite3* db, const context::HistoryQuery& q) {
  Sql sql;
  sql.Add("SELECT id, entity_id, entity_type FROM history_series WHERE tenant = ");
  sql.Arg(q.tenant);
  AddAnyOf("entity_id", q.entity_ids, sql);
  AddAnyOf("entity_type", q.entity_types, sql);
  AddScopes(q.service_paths, sql);
  sql.Add(" ORDER BY entity_id, entity_type");
  auto st = PrepareBound(db, sql);
  if (!st) return Fail(st.error());
  std::vector<ListedEntity> out;
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    const std::string_view id = ColumnText(st->get(), 1), type = ColumnText(st->get(), 2);
    if (out.empty() || out.back().id != id || out.back().type != type) {
      out.push_back({std::string(id), std::string(type), {}});
    }
    out.back().series.push_back(sqlite3_column_int64(st->get(), 0));
  }
  if (rc != SQLITE_DONE) return Fail(SqlError(db, "history series"));
  return out;
}

struct ChunkSpan {
  int64_t id = 0;
  TimeMs max_time = 0;
};

// The chunks that overlap the query's time range, the latest max_time first.
Result<std::vector<ChunkSpan>> ChunksNewestFirst(sqlite3* db, const context::HistoryQuery& q) {
  Sql sql;
  sql.Add("SELECT id, max_time FROM history_chunks WHERE 1");
  AddChunkOverlap(q, "", sql);
  sql.Add(" ORDER BY max_time DESC");
  auto st = PrepareBound(db, sql);
  if (!st) return Fail(st.error());
  std::vector<ChunkSpan> out;
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    out.push_back({sqlite3_column_int64(st->get(), 0), sqlite3_column_int64(st->get(), 1)});
  }
  if (rc != SQLITE_DONE) return Fail(SqlError(db, "history chunks"));
  return out;
}

// The latest time in range of every series with staged rows not moved yet.
Result<std::unordered_map<int64_t, TimeMs>> StagedLatest(sqlite3* db,
                                                         const context::HistoryQuery& q) {
  Sql sql;
  sql.Add("SELECT s.series, max(s.time) FROM history_staged AS s WHERE ");
  sql.Add(kStagedNotMovedSql);
  AddTimeRange(q, "s.time", sql);
  sql.Add(" GROUP BY s.series");
  auto st = PrepareBound(db, sql);
  if (!st) return Fail(st.error());
  std::unordered_map<int64_t, TimeMs> out;
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    out.emplace(sqlite3_column_int64(st->get(), 0), sqlite3_column_int64(st->get(), 1));
  }
  if (rc != SQLITE_DONE) return Fail(SqlError(db, "staged history"));
  return out;
}

// Ends the read transaction of a listing (one snapshot for all its statements) however the
// listing returns; declared before the statements, so it runs after they are finalized.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(sqlite3* db) : db_(db) {}
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  ~ReadSnapshot() {  // the connection goes back to the pool outside any transaction
    if (sqlite3_get_autocommit(db_) == 0 && !Exec(db_, "COMMIT")) (void)Exec(db_, "ROLLBACK");
  }
  Status Begin() { return Exec(db_, "BEGIN"); }

 private:
  sqlite3* db_;
};

// The walk of ListHistoryEntities (see the top of the file) over one snapshot.
class LatestFinder {
 public:
  LatestFinder(sqlite3* db, std::vector<ChunkSpan> chunks,
               std::unordered_map<int64_t, TimeMs> staged, StmtPtr seek)
      : db_(db), chunks_(std::move(chunks)), staged_(std::move(staged)), seek_(std::move(seek)) {}

  // `seek` selects the last time of (chunk ?1, series ?2) between ?3 and ?4.
  static constexpr const char* kSeekSql =
      "SELECT time FROM history WHERE chunk = ?1 AND series = ?2 AND time >= ?3 AND time <= ?4 "
      "ORDER BY time DESC LIMIT 1";

  Result<std::optional<TimeMs>> LatestOf(const ListedEntity& e) {
    std::optional<TimeMs> best;
    for (const int64_t sid : e.series) {
      if (auto it = staged_.find(sid); it != staged_.end()) {
        best = std::max(best.value_or(it->second), it->second);
      }
    }
    for (const int64_t sid : e.series) {
      for (const ChunkSpan& chunk : chunks_) {
        if (best && chunk.max_time <= *best) break;
        sqlite3_bind_int64(seek_.get(), 1, chunk.id);
        sqlite3_bind_int64(seek_.get(), 2, sid);
        const int rc = sqlite3_step(seek_.get());
        if (rc == SQLITE_ROW) {
          best = std::max<TimeMs>(best.value_or(INT64_MIN), sqlite3_column_int64(seek_.get(), 0));
        }
        sqlite3_reset(seek_.get());
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Fail(SqlError(db_, "history seek"));
      }
    }
    return best;
  }

 private:
  sqlite3* db_;
  std::vector<ChunkSpan> chunks_;
  std::unordered_map<int64_t, TimeMs> staged_;
  StmtPtr seek_;
};

// What a history read over max_bytes should ask for less of.
constexpr std::string_view kFewerPoints = "points (lastN, limit, fromDate, toDate) or attributes";

}  // namespace

Result<std::vector<context::HistoryEntity>> SqliteStore::ListHistoryEntities(
    const context::HistoryQuery& q) {
  std::vector<context::HistoryEntity> out;
  if (q.limit == 0) return out;
  auto reader = BorrowReader();
  if (!reader) return Fail(reader.error());
  sqlite3* db = reader->get();
  ReadSnapshot snapshot(db);
  if (auto s = snapshot.Begin(); !s) return Fail(s.error());
  auto entities = SeriesByEntity(db, q);
  if (!entities) return Fail(entities.error());
  auto chunks = ChunksNewestFirst(db, q);
  if (!chunks) return Fail(chunks.error());
  auto staged = StagedLatest(db, q);
  if (!staged) return Fail(staged.error());
  auto seek = Prepare(db, LatestFinder::kSeekSql);
  if (!seek) return Fail(seek.error());
  sqlite3_bind_int64(seek->get(), 3, q.from.value_or(std::numeric_limits<TimeMs>::min()));
  sqlite3_bind_int64(seek->get(), 4, q.to.value_or(std::numeric_limits<TimeMs>::max()));
  LatestFinder finder(db, std::move(*chunks), std::move(*staged), std::move(*seek));
  size_t skipped = 0;
  for (const ListedEntity& e : *entities) {
    auto found = finder.LatestOf(e);
    if (!found) return Fail(found.error());
    const std::optional<TimeMs> latest = *found;
    if (!latest) continue;
    if (skipped < q.offset) {
      ++skipped;
      continue;
    }
    out.push_back({e.id, e.type, *latest});
    if (out.size() == q.limit) break;
  }
  return out;
}

Result<std::vector<context::HistoryPoint>> SqliteStore::QueryHistory(
    const context::HistoryQuery& q) {
  const Window w = WindowOf(q);
  std::vector<context::HistoryPoint> out;
  if (w.take == 0) return out;
  Sql sql;
  AddRows(q, sql);
  sql.Add("SELECT h.entity_id, h.entity_type, h.attr, h.time, h.value, h.attr_type FROM h");
  const char* dir = w.descending ? " DESC" : "";
  if (q.count_instants) {
    sql.Add(std::string(" ORDER BY h.time") + dir + ", h.entity_id" + dir + ", h.entity_type" +
            dir + ", h.seq" + dir);
  } else {
    sql.Add(std::string(" ORDER BY h.time") + dir + ", h.seq" + dir + " LIMIT ");
    sql.Arg(static_cast<int64_t>(std::min<size_t>(w.skip + w.take, INT64_MAX)));
  }
  auto reader = BorrowReader();
  if (!reader) return Fail(reader.error());
  auto st = PrepareBound(reader->get(), sql);
  if (!st) return Fail(st.error());
  size_t unit = 0;             // 1-based index of the current unit
  context::HistoryPoint prev;  // entity and time of the previous row (instants)
  size_t bytes = 0;            // kept so far, as HistoryQuery::max_bytes counts them
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    sqlite3_stmt* s = st->get();
    const TimeMs time = sqlite3_column_int64(s, 3);
    const std::string_view id = ColumnText(s, 0), type = ColumnText(s, 1);
    const bool same_instant = q.count_instants && unit > 0 && prev.time == time &&
                              prev.entity_id == id && prev.entity_type == type;
    if (!same_instant) {
      ++unit;
      prev.time = time;
      prev.entity_id = id;
      prev.entity_type = type;
    }
    if (unit <= w.skip) continue;
    if (unit > w.skip + w.take) break;
    const std::string_view value = ColumnText(s, 4);
    bytes += value.size() + context::kHistoryPointOverhead;
    if (q.max_bytes != 0 && bytes > q.max_bytes) {
      return Fail(json::AnswerTooLarge(q.max_bytes, kFewerPoints));
    }
    out.push_back({std::string(id), std::string(type), std::string(ColumnText(s, 2)), time,
                   std::string(value), std::string(ColumnText(s, 5))});
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Fail(SqlError(reader->get(), "history"));
  if (w.descending) std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<context::HistoryBucket>> SqliteStore::AggregateHistory(
    const context::HistoryAggregateQuery& aq) {
  const context::HistoryQuery& q = aq.filter;
  const Window w = WindowOf(q);
  std::vector<context::HistoryBucket> out;
  if (w.take == 0) return out;
  Sql sql;
  AddRows(q, sql);
  const bool whole = aq.period == context::AggrPeriod::kNone;
  sql.Add("SELECT h.entity_id, h.entity_type, h.attr, " +
          (whole ? std::string("min(h.time)") : BucketSql(aq.period)) + " AS bucket, " +
          AggregateSql(aq.method) + " FROM h");
  const char* dir = w.descending ? " DESC" : "";
  sql.Add(std::string(" GROUP BY h.sid") + (whole ? "" : ", bucket") + " ORDER BY bucket" + dir +
          ", h.entity_id, h.attr LIMIT ");
  sql.Arg(static_cast<int64_t>(std::min<size_t>(w.take, INT64_MAX)));
  sql.Add(" OFFSET ");
  sql.Arg(static_cast<int64_t>(std::min<size_t>(w.skip, INT64_MAX)));
  auto reader = BorrowReader();
  if (!reader) return Fail(reader.error());
  auto st = PrepareBound(reader->get(), sql);
  if (!st) return Fail(st.error());
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    sqlite3_stmt* s = st->get();
    context::HistoryBucket b{std::string(ColumnText(s, 0)),
                             std::string(ColumnText(s, 1)),
                             std::string(ColumnText(s, 2)),
                             sqlite3_column_int64(s, 3),
                             {}};
    if (sqlite3_column_type(s, 4) != SQLITE_NULL) b.value = sqlite3_column_double(s, 4);
    out.push_back(std::move(b));
  }
  if (rc != SQLITE_DONE) return Fail(SqlError(reader->get(), "aggregate history"));
  if (w.descending) std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace zc::store
