#include "store/sqlite/history_sql.h"

namespace zc::store {

void AddScopes(const std::vector<std::string>& scopes, Sql& sql) {
  if (scopes.empty()) return;
  sql.Add(" AND (");
  for (size_t i = 0; i < scopes.size(); ++i) {
    if (i > 0) sql.Add(" OR ");
    std::string_view s = scopes[i];
    if (!s.ends_with("/#")) {
      sql.Add("service_path = ");
      sql.Arg(std::string(s));
      continue;
    }
    s.remove_suffix(2);  // "/a/#" → "/a"; "/#" → "" (everything)
    if (s.empty()) {
      sql.Add("1");
      continue;
    }
    sql.Add("(service_path = ");
    sql.Arg(std::string(s));
    sql.Add(" OR substr(service_path, 1, ");
    sql.Arg(static_cast<int64_t>(s.size() + 1));
    sql.Add(") = ");
    sql.Arg(std::string(s) + "/");
    sql.Add(")");
  }
  sql.Add(")");
}

void AddAnyOf(std::string_view column, const std::vector<std::string>& values, Sql& sql) {
  if (values.empty()) return;
  sql.Add(" AND ");
  sql.Add(column);
  sql.Add(values.size() == 1 ? " = " : " IN (");
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) sql.Add(", ");
    sql.Arg(values[i]);
  }
  if (values.size() > 1) sql.Add(")");
}

void AddTimeRange(const context::HistoryQuery& q, std::string_view column, Sql& sql) {
  if (q.from) {
    sql.Add(std::string(" AND ") + std::string(column) + " >= ");
    sql.Arg(*q.from);
  }
  if (q.to) {
    sql.Add(std::string(" AND ") + std::string(column) + " <= ");
    sql.Arg(*q.to);
  }
}

void AddChunkOverlap(const context::HistoryQuery& q, std::string_view prefix, Sql& sql) {
  if (q.from) {
    sql.Add(std::string(" AND ") + std::string(prefix) + "max_time >= ");
    sql.Arg(*q.from);
  }
  if (q.to) {
    sql.Add(std::string(" AND ") + std::string(prefix) + "min_time <= ");
    sql.Arg(*q.to);
  }
}

void AddSeriesFilter(const context::HistoryQuery& q, Sql& sql) {
  AddAnyOf("entity_id", q.entity_ids, sql);
  AddAnyOf("entity_type", q.entity_types, sql);
  AddAnyOf("attr", q.attrs, sql);
  AddScopes(q.service_paths, sql);
}

void BindAll(sqlite3_stmt* st, const Sql& sql) {
  for (size_t i = 0; i < sql.binds.size(); ++i) {
    const int index = static_cast<int>(i + 1);
    if (const auto* n = std::get_if<int64_t>(&sql.binds[i])) {
      sqlite3_bind_int64(st, index, *n);
    } else {
      BindText(st, index, std::get<std::string>(sql.binds[i]));
    }
  }
}

Result<StmtPtr> PrepareBound(sqlite3* db, const Sql& sql) {
  auto st = Prepare(db, sql.text);
  if (st) BindAll(st->get(), sql);
  return st;
}

}  // namespace zc::store
