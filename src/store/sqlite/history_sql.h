// SQL text built from a context::HistoryQuery, shared by the history reads
// (history_read.cpp) and the history deletion (history_delete.cpp): the selection of
// series by tenant, scopes, ids, types and attributes, and the time-range clauses on rows
// and on chunks, so that a deletion selects exactly what a read with the same parameters
// shows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "context/store.h"
#include "store/sqlite/sqlite_util.h"

namespace zc::store {

using Bind = std::variant<int64_t, std::string>;

// A statement's text with its positional parameters (?1, ?2, ...), bound by PrepareBound.
struct Sql {
  std::string text;
  std::vector<Bind> binds;
  void Add(std::string_view s) { text.append(s); }
  void Arg(Bind b) {
    binds.push_back(std::move(b));
    text.append("?" + std::to_string(binds.size()));
  }
};

// " AND (<service_path matches one of the scopes>)": "/a" exactly, "/a/#" with its subtree;
// nothing for an empty list.
void AddScopes(const std::vector<std::string>& scopes, Sql& sql);
// " AND column IN (values)" (" = value" for one); nothing for an empty list.
void AddAnyOf(std::string_view column, const std::vector<std::string>& values, Sql& sql);
// `column` in [from, to], for the bounds the query has.
void AddTimeRange(const context::HistoryQuery& q, std::string_view column, Sql& sql);
// The chunks `prefix` (e.g. "c.") that may hold rows in [from, to]: by their min/max times.
void AddChunkOverlap(const context::HistoryQuery& q, std::string_view prefix, Sql& sql);
// " AND <the series the query selects>" on history_series' columns: entity ids, types,
// attributes and scopes (the tenant is the caller's to add).
void AddSeriesFilter(const context::HistoryQuery& q, Sql& sql);

// Binds every parameter of `sql` to `st` (StepDone clears the bindings after each step).
void BindAll(sqlite3_stmt* st, const Sql& sql);
// The statement of `sql`, prepared and bound.
Result<StmtPtr> PrepareBound(sqlite3* db, const Sql& sql);

}  // namespace zc::store
