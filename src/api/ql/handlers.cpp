// QuantumLeap-compatible history reads. Each handler parses the request (params.h), asks the
// store for points (QueryHistory) or buckets (AggregateHistory, computed in SQL), groups them
// into per-entity tables (attribute → time → JSON value, plus the union of times: QL's
// "index") and writes QuantumLeap's JSON straight into the response string; stored values
// are JSON text and are copied, never re-parsed.
//
// Shapes follow QuantumLeap (src/reporter/query_*.py): attributes sorted by name; entities of
// a type in the order of the `id` parameter, then by id; values aligned to the index with null
// where an attribute has no value at that time; with aggrMethod and no aggrPeriod the index is
// [] (or [fromDate, toDate] on the types endpoint when `id` is given) and there is one value.
#include "api/ql/handlers.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "api/ql/params.h"
#include "common/clock.h"
#include "common/json.h"
#include "http/router.h"

namespace zc::api::ql {
namespace {

constexpr std::string_view kNotFound = "No records were found for such query.";

// The values of one entity: attribute → time → JSON text, and the union of their times.
struct EntityTable {
  std::string id;
  std::string type;
  std::set<TimeMs> index;
  std::map<std::string, std::map<TimeMs, std::string>> attrs;
};
using Tables = std::map<std::string, EntityTable>;  // by entity id

void AppendString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out.append(buf);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

// Integral values print as integers (a count is 30, not 3E1), others in shortest form.
std::string FormatNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  if (v == std::trunc(v) && std::fabs(v) < 9.0e15) {
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    return std::string(buf, r.ptr);
  }
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// QuantumLeap's time format: "1970-01-01T00:00:00.000+00:00".
void AppendTime(std::string& out, TimeMs t) {
  std::string iso = FormatIso8601(t);
  if (iso.ends_with('Z')) iso.replace(iso.size() - 1, 1, "+00:00");
  AppendString(out, iso);
}

void AppendIndex(std::string& out, const EntityTable& t, const std::vector<std::string>* fixed) {
  out.append("\"index\":[");
  if (fixed != nullptr) {
    for (size_t i = 0; i < fixed->size(); ++i) {
      if (i > 0) out.push_back(',');
      AppendString(out, (*fixed)[i]);
    }
  } else {
    bool first = true;
    for (const TimeMs time : t.index) {
      if (!first) out.push_back(',');
      first = false;
      AppendTime(out, time);
    }
  }
  out.push_back(']');
}

// The values of one attribute aligned to the table's index (all of them when `aligned` is
// false: the single value of a whole-range aggregate).
void AppendValues(std::string& out, const EntityTable& t, const std::string& attr, bool aligned) {
  out.append("\"values\":[");
  const auto it = t.attrs.find(attr);
  bool first = true;
  auto emit = [&](std::string_view v) {
    if (!first) out.push_back(',');
    first = false;
    out.append(v);
  };
  if (it == t.attrs.end()) {
    for (size_t i = 0; i < t.index.size(); ++i) emit("null");
  } else if (!aligned) {
    for (const auto& [time, value] : it->second) emit(value);
  } else {
    for (const TimeMs time : t.index) {
      const auto v = it->second.find(time);
      emit(v == it->second.end() ? std::string_view("null") : std::string_view(v->second));
    }
  }
  out.push_back(']');
}

http::Response NotFound() {
  return ErrorResponse(Error::NotFound(std::string(kNotFound)));
}

bool Contains(const std::vector<std::string>& list, std::string_view s) {
  return list.empty() || std::find(list.begin(), list.end(), s) != list.end();
}

// QuantumLeap stores a value in its attribute's column type: a Number sent as the text
// "21.5" (IoT Agents send UltraLight measures so) is read back as the number 21.5.
std::string CastValue(std::string value_json, std::string_view attr_type) {
  if ((attr_type != "Number" && attr_type != "Integer") || !value_json.starts_with('"')) {
    return value_json;
  }
  auto text = json::Parse(value_json);
  if (!text || !text->is_string()) return value_json;
  const std::string_view inner = text->get_string();
  auto number = json::Parse(inner);
  if (!number || !number->is_number() || inner.empty() || inner.front() == ' ' ||
      inner.back() == ' ') {
    return value_json;
  }
  return std::string(inner);
}

// Reads the matching history into per-entity tables: points, or buckets when aggregating.
// `attrs`/`ids` filter what a single store query could not express.
Result<Tables> Load(context::ContextStore& store, const QlRequest& r,
                    const std::vector<std::string>& attrs, const std::vector<std::string>& ids) {
  Tables tables;
  auto add = [&](const std::string& id, const std::string& type, const std::string& attr,
                 TimeMs time, std::string value) {
    if (!Contains(attrs, attr) || !Contains(ids, id)) return;
    EntityTable& t = tables[id];
    if (t.id.empty()) t.id = id, t.type = type;
    if (t.type != type) t.type.clear();  // one id, several types: ambiguous
    t.index.insert(time);
    t.attrs[attr][time] = std::move(value);
  };
  if (!r.aggr_method) {
    auto points = store.QueryHistory(r.query);
    if (!points) return Fail(points.error());
    for (auto& p : *points)
      add(p.entity_id, p.entity_type, p.attr, p.time,
          CastValue(std::move(p.value_json), p.attr_type));
    return tables;
  }
  context::HistoryAggregateQuery aq{r.query, *r.aggr_method, r.aggr_period};
  auto buckets = store.AggregateHistory(aq);
  if (!buckets) return Fail(buckets.error());
  for (auto& b : *buckets) {
    add(b.entity_id, b.entity_type, b.attr, b.start, b.value ? FormatNumber(*b.value) : "null");
  }
  return tables;
}

// QuantumLeap answers 404 when a numeric aggregation finds no numeric value at all.
bool NothingNumeric(const QlRequest& r, const Tables& tables) {
  if (!r.aggr_method || *r.aggr_method == context::AggrMethod::kCount) return false;
  for (const auto& [id, t] : tables) {
    for (const auto& [attr, values] : t.attrs) {
      for (const auto& [time, v] : values) {
        if (v != "null") return false;
      }
    }
  }
  return true;
}

http::Response NotApplicable() {
  return http::Response::Json(404, R"({"error":"AggrMethod cannot be applied","description":)"
                                   R"("AggrMethod cannot be applied on type TEXT and BOOLEAN."})");
}

// The one entity of an entity endpoint, or the error to answer.
Result<const EntityTable*> SingleEntity(const QlRequest& r, const Tables& tables,
                                        std::string_view id) {
  const auto it = tables.find(std::string(id));
  if (it == tables.end()) return Fail(Error::NotFound(std::string(kNotFound)));
  if (it->second.type.empty() && !r.query.entity_type) {
    return Fail(Error::TooManyResults("There is more than one entity with id '" + std::string(id) +
                                      "': use the 'type' parameter."));
  }
  return &it->second;
}

}  // namespace

http::Response ErrorResponse(const Error& error) {
  std::string_view name = "Internal Server Error";
  unsigned status = http::StatusFor(error.code);
  switch (error.code) {
    case ErrorCode::kNotFound:
      name = "Not Found";
      break;
    case ErrorCode::kBadRequest:
    case ErrorCode::kParseError:
      name = "Bad Request";
      break;
    case ErrorCode::kTooManyResults:  // QuantumLeap's AmbiguousNGSIIdError is a 400
      name = "AmbiguousNGSIIdError";
      status = 400;
      break;
    case ErrorCode::kMethodNotAllowed:
      name = "Method Not Allowed";
      break;
    case ErrorCode::kUnavailable:
      name = "Service Unavailable";
      break;
    case ErrorCode::kUnauthorized:
      name = "Unauthorized";
      break;
    case ErrorCode::kForbidden:
      name = "Forbidden";
      break;
    case ErrorCode::kTooManyRequests:
      name = "Too Many Requests";
      break;
    case ErrorCode::kPayloadTooLarge:
      name = "Payload Too Large";
      break;
    default:
      break;
  }
  std::string body = "{\"error\":";
  AppendString(body, name);
  body.append(",\"description\":");
  AppendString(body, error.message);
  body.push_back('}');
  return http::Response::Json(status, std::move(body));
}

http::Response GetEntity(context::ContextStore& store, const http::RequestContext& ctx,
                         Shape shape) {
  auto r = ParseRequest(ctx);
  if (!r) return ErrorResponse(r.error());
  if (r->aggr_method && r->attrs.empty()) {  // QuantumLeap's _validate_query_params
    return ErrorResponse(
        Error::BadRequest(fmt::format("Specified aggrMethod = {} but missing attrs parameter.",
                                      ctx.Query("aggrMethod").value_or(""))));
  }
  const std::string_view id = ctx.Param("entityId");
  r->query.entity_id = std::string(id);
  r->query.count_instants = true;  // QL's limit/lastN count rows of the entity
  if (r->attrs.size() == 1) r->query.attr = r->attrs.front();
  auto tables = Load(store, *r, r->attrs, {});
  if (!tables) return ErrorResponse(tables.error());
  auto entity = SingleEntity(*r, *tables, id);
  if (!entity) return ErrorResponse(entity.error());
  const EntityTable& t = **entity;
  const bool whole = r->aggr_method && r->aggr_period == context::AggrPeriod::kNone;
  const std::vector<std::string> empty;
  std::string out = "{";
  if (shape == Shape::kFull) {
    out.append("\"entityId\":");
    AppendString(out, t.id);
    out.append(",\"entityType\":");
    AppendString(out, r->query.entity_type.value_or(t.type));
    out.push_back(',');
  }
  AppendIndex(out, t, whole ? &empty : nullptr);
  out.append(",\"attributes\":[");
  bool first = true;
  for (const auto& [attr, values] : t.attrs) {
    out.append(first ? "{\"attrName\":" : ",{\"attrName\":");
    first = false;
    AppendString(out, attr);
    out.push_back(',');
    AppendValues(out, t, attr, !whole);
    out.push_back('}');
  }
  out.append("]}");
  return http::Response::Json(200, std::move(out));
}

http::Response GetEntityAttr(context::ContextStore& store, const http::RequestContext& ctx,
                             Shape shape) {
  auto r = ParseRequest(ctx);
  if (!r) return ErrorResponse(r.error());
  const std::string_view id = ctx.Param("entityId");
  const std::string attr(ctx.Param("attrName"));
  r->query.entity_id = std::string(id);
  r->query.attr = attr;
  auto tables = Load(store, *r, {}, {});
  if (!tables) return ErrorResponse(tables.error());
  auto entity = SingleEntity(*r, *tables, id);
  if (!entity) return ErrorResponse(entity.error());
  if (NothingNumeric(*r, *tables)) return NotApplicable();
  const EntityTable& t = **entity;
  const bool whole = r->aggr_method && r->aggr_period == context::AggrPeriod::kNone;
  const std::vector<std::string> empty;
  std::string out = "{";
  if (shape == Shape::kFull) {
    out.append("\"entityId\":");
    AppendString(out, t.id);
    out.append(",\"entityType\":");
    AppendString(out, r->query.entity_type.value_or(t.type));
    out.append(",\"attrName\":");
    AppendString(out, attr);
    out.push_back(',');
  }
  AppendIndex(out, t, whole ? &empty : nullptr);
  out.push_back(',');
  AppendValues(out, t, attr, !whole);
  out.push_back('}');
  return http::Response::Json(200, std::move(out));
}

http::Response GetTypeAttr(context::ContextStore& store, const http::RequestContext& ctx,
                           Shape shape) {
  auto r = ParseRequest(ctx);
  if (!r) return ErrorResponse(r.error());
  const std::string type(ctx.Param("entityType"));
  const std::string attr(ctx.Param("attrName"));
  r->query.entity_type = type;
  r->query.attr = attr;
  if (r->ids.size() == 1) r->query.entity_id = r->ids.front();
  auto tables = Load(store, *r, {}, r->ids);
  if (!tables) return ErrorResponse(tables.error());
  if (tables->empty()) return NotFound();
  if (NothingNumeric(*r, *tables)) return NotApplicable();
  const bool whole = r->aggr_method && r->aggr_period == context::AggrPeriod::kNone;
  const std::vector<std::string> range = {r->from_text, r->to_text}, empty;
  std::vector<const EntityTable*> order;
  for (const std::string& id : r->ids) {
    auto it = tables->find(id);
    if (it != tables->end() && std::find(order.begin(), order.end(), &it->second) == order.end()) {
      order.push_back(&it->second);
    }
  }
  for (const auto& [id, t] : *tables) {
    if (std::find(order.begin(), order.end(), &t) == order.end()) order.push_back(&t);
  }
  std::string out = "{";
  if (shape == Shape::kFull) {
    out.append("\"entityType\":");
    AppendString(out, type);
    out.append(",\"attrName\":");
    AppendString(out, attr);
    out.append(",\"entities\":[");
  } else {
    out.append("\"values\":[");
  }
  for (size_t i = 0; i < order.size(); ++i) {
    out.append(i == 0 ? "{\"entityId\":" : ",{\"entityId\":");
    AppendString(out, order[i]->id);
    out.push_back(',');
    AppendIndex(out, *order[i], !whole ? nullptr : r->ids.empty() ? &empty : &range);
    out.push_back(',');
    AppendValues(out, *order[i], attr, !whole);
    out.push_back('}');
  }
  out.append("]}");
  return http::Response::Json(200, std::move(out));
}

}  // namespace zc::api::ql
