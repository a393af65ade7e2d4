// The per-entity tables a QuantumLeap answer is built from, and their JSON. Load() reads the
// store's points (or buckets, when aggregating) into one table per entity: attribute → time
// → JSON value, plus the union of their times (QuantumLeap's "index"). The Append functions
// write QuantumLeap's JSON pieces straight into the response string; stored values are JSON
// text and are copied, never re-parsed.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/ql/params.h"
#include "common/result.h"
#include "context/store.h"

namespace zc::api::ql {

// The values of one entity: attribute → time → JSON text, and the union of their times.
struct EntityTable {
  std::string id;
  std::string type;
  std::set<TimeMs> index;
  std::map<std::string, std::map<TimeMs, std::string>> attrs;
};
// By entity id, then type: one id may exist under several types.
using Tables = std::map<std::pair<std::string, std::string>, EntityTable>;

// Reads the history `r.query` asks for into tables: points, or buckets when aggregating. A
// Number or Integer sent as text ("21.5") is read as the number, as QuantumLeap casts it.
Result<Tables> Load(context::ContextStore& store, const QlRequest& r);

// True when a numeric aggregation found no numeric value at all (QuantumLeap answers 404).
bool NothingNumeric(const QlRequest& r, const Tables& tables);

// The entities named by `ids` in that order, then the rest by id.
std::vector<const EntityTable*> InRequestOrder(const Tables& tables,
                                               const std::vector<std::string>& ids);

// A JSON string.
void AppendString(std::string& out, std::string_view s);
// A time as QuantumLeap writes it: "1970-01-01T00:00:00.000+00:00".
void AppendTime(std::string& out, TimeMs t);
// "index":[...]: the table's times, or `fixed` (the index of a whole-range aggregate).
void AppendIndex(std::string& out, const EntityTable& t, const std::vector<std::string>* fixed);
// "values":[...] of `attr` aligned to the table's index (null where it has no value), or,
// when `aligned` is false, just its values (the one value of a whole-range aggregate).
void AppendValues(std::string& out, const EntityTable& t, const std::string& attr, bool aligned);
// "attributes":[{"attrName":...,"values":[...]},...] of one entity, by attribute name.
void AppendAttributes(std::string& out, const EntityTable& t, bool whole);
// [{"entityType":...,"entities":[{"entityId":...,"index":[...],"values":[...]}]},...]: the
// entities that have `attr`, grouped by type (types by name, entities by id). `fixed`: the
// index of a whole-range aggregate.
void AppendTypes(std::string& out, const Tables& tables, const std::string& attr,
                 const std::vector<std::string>* fixed);

}  // namespace zc::api::ql
