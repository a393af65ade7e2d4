// QuantumLeap-compatible history reads. Each handler parses the request (params.h), asks the
// store for points (QueryHistory), buckets (AggregateHistory, computed in SQL) or the entity
// listing (ListHistoryEntities), groups them into per-entity tables (tables.h) and writes
// QuantumLeap's JSON.
//
// Shapes follow QuantumLeap (src/reporter/query_*.py): attributes sorted by name; entities of
// a type in the order of the `id` parameter, then by id; across types (/attrs) grouped by
// type, types and entities by name; values aligned to the index with null where an
// attribute has no value at that time; with aggrMethod and no aggrPeriod there is one value
// and the index is [] or [fromDate, toDate] as QuantumLeap has it on each endpoint.
#include "api/ql/handlers.h"

#include <fmt/format.h>

#include <optional>
#include <set>

#include "api/ql/params.h"
#include "api/ql/tables.h"
#include "http/router.h"

namespace zc::api::ql {
namespace {

constexpr std::string_view kNotFound = "No records were found for such query.";

http::Response NotApplicable() {
  return http::Response::Json(404, R"({"error":"AggrMethod cannot be applied","description":)"
                                   R"("AggrMethod cannot be applied on type TEXT and BOOLEAN."})");
}

// The one entity of an entity endpoint, or the error to answer.
Result<const EntityTable*> SingleEntity(const QlRequest& r, const Tables& tables,
                                        std::string_view id) {
  const auto it = tables.lower_bound({std::string(id), std::string()});
  if (it == tables.end() || it->first.first != id) {
    return Fail(Error::NotFound(std::string(kNotFound)));
  }
  const auto next = std::next(it);
  if (next != tables.end() && next->first.first == id && r.query.entity_types.empty()) {
    return Fail(AmbiguousId(id));
  }
  return &it->second;
}

// QuantumLeap's _validate_query_params: the multi-attribute endpoints aggregate only the
// attributes named in `attrs`.
std::optional<Error> AggregateWithoutAttrs(const QlRequest& r, const http::RequestContext& ctx) {
  if (!r.aggr_method || !r.attrs.empty()) return std::nullopt;
  return Error::BadRequest(fmt::format("Specified aggrMethod = {} but missing attrs parameter.",
                                       ctx.Query("aggrMethod").value_or("")));
}

// The start of a multi-entity answer up to its list: `{"entityType":"Room","entities":` in
// the full shape (the names in `fields`, then `list`), `{"values":` in the /value variant.
std::string OpenBody(Shape shape,
                     std::initializer_list<std::pair<std::string_view, std::string_view>> fields,
                     std::string_view list) {
  if (shape == Shape::kValues) return R"({"values":)";
  std::string out = "{";
  for (const auto& [name, value] : fields) {
    AppendString(out, name);
    out.push_back(':');
    AppendString(out, value);
    out.push_back(',');
  }
  AppendString(out, list);
  out.push_back(':');
  return out;
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
    case ErrorCode::kNoResources:  // an answer over max_response_bytes
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

Error AmbiguousId(std::string_view id) {
  return Error::TooManyResults("There is more than one entity with id '" + std::string(id) +
                               "': use the 'type' parameter.");
}

http::Response NoRecords() {
  return ErrorResponse(Error::NotFound(std::string(kNotFound)));
}

http::Response ListEntities(context::ContextStore& store, const http::RequestContext& ctx,
                            Shape /*shape*/) {
  auto r = ParseRequest(ctx);
  if (!r) return ErrorResponse(r.error());
  auto entities = store.ListHistoryEntities(r->query);
  if (!entities) return ErrorResponse(entities.error());
  if (entities->empty()) return NoRecords();
  std::string out = "[";
  for (const context::HistoryEntity& e : *entities) {
    out.append(out.size() == 1 ? "{\"entityId\":" : ",{\"entityId\":");
    AppendString(out, e.entity_id);
    out.append(",\"entityType\":");
    AppendString(out, e.entity_type);
    out.append(",\"index\":");
    AppendTime(out, e.latest);
    out.push_back('}');
  }
  out.push_back(']');
  return http::Response::Json(200, std::move(out));
}

http::Response GetEntity(context::ContextStore& store, const http::RequestContext& ctx,
                         Shape shape) {
  auto r = ParseRequest(ctx);
  if (!r) return ErrorResponse(r.error());
  if (auto missing = AggregateWithoutAttrs(*r, ctx)) return ErrorResponse(*missing);
  const std::string_view id = ctx.Param("entityId");
  r->query.entity_ids = {std::string(id)};
  r->query.attrs = r->attrs;
  r->query.count_instants = true;  // QL's limit/lastN count rows of the entity
  auto tables = Load(store, *r);
  if (!tables) return ErrorResponse(tables.error());
  auto entity = SingleEntity(*r, *tables, id);
  if (!entity) return ErrorResponse(entity.error());
  const EntityTable& t = **entity;
  const bool whole = r->WholeRange();
  const std::vector<std::string> empty;
  std::string out = "{";
  if (shape == Shape::kFull) {
    out.append("\"entityId\":");
    AppendString(out, t.id);
    out.append(",\"entityType\":");
    AppendString(out, t.type);
    out.push_back(',');
  }
  AppendIndex(out, t, whole ? &empty : nullptr);
  out.push_back(',');
  AppendAttributes(out, t, whole);
  out.push_back('}');
  return http::Response::Json(200, std::move(out));
}

http::Response GetEntityAttr(context::ContextStore& store, const http::RequestContext& ctx,
                             Shape shape) {
  auto r = ParseRequest(ctx);
  if (!r) return ErrorResponse(r.error());
  const std::string_view id = ctx.Param("entityId");
  const std::string attr(ctx.Param("attrName"));
  r->query.entity_ids = {std::string(id)};
  r->query.attrs = {attr};
  auto tables = Load(store, *r);
  if (!tables) return ErrorResponse(tables.error());
  auto entity = SingleEntity(*r, *tables, id);
  if (!entity) return ErrorResponse(entity.error());
  if (NothingNumeric(*r, *tables)) return NotApplicable();
  const EntityTable& t = **entity;
  const bool whole = r->WholeRange();
  const std::vector<std::string> empty;
  std::string out = "{";
  if (shape == Shape::kFull) {
    out.append("\"entityId\":");
    AppendString(out, t.id);
    out.append(",\"entityType\":");
    AppendString(out, t.type);
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

http::Response GetType(context::ContextStore& store, const http::RequestContext& ctx, Shape shape) {
  auto r = ParseRequest(ctx);
  if (!r) return ErrorResponse(r.error());
  if (auto missing = AggregateWithoutAttrs(*r, ctx)) return ErrorResponse(*missing);
  const std::string type(ctx.Param("entityType"));
  r->query.entity_types = {type};
  r->query.entity_ids = r->ids;
  r->query.attrs = r->attrs;
  r->query.count_instants = true;  // QL's limit/lastN count rows of the type's table
  auto tables = Load(store, *r);
  if (!tables) return ErrorResponse(tables.error());
  if (tables->empty()) return NoRecords();
  const bool whole = r->WholeRange();
  const std::vector<std::string> range = r->DateRange();
  std::string out = OpenBody(shape, {{"entityType", type}}, "entities") + "[";
  bool first = true;
  for (const EntityTable* t : InRequestOrder(*tables, r->ids)) {
    out.append(first ? "{\"entityId\":" : ",{\"entityId\":");
    first = false;
    AppendString(out, t->id);
    out.push_back(',');
    AppendIndex(out, *t, whole ? &range : nullptr);
    out.push_back(',');
    AppendAttributes(out, *t, whole);
    out.push_back('}');
  }
  out.append("]}");
  return http::Response::Json(200, std::move(out));
}

http::Response GetTypeAttr(context::ContextStore& store, const http::RequestContext& ctx,
                           Shape shape) {
  auto r = ParseRequest(ctx);
  if (!r) return ErrorResponse(r.error());
  const std::string type(ctx.Param("entityType"));
  const std::string attr(ctx.Param("attrName"));
  r->query.entity_types = {type};
  r->query.entity_ids = r->ids;
  r->query.attrs = {attr};
  auto tables = Load(store, *r);
  if (!tables) return ErrorResponse(tables.error());
  if (tables->empty()) return NoRecords();
  if (NothingNumeric(*r, *tables)) return NotApplicable();
  const bool whole = r->WholeRange();
  const std::vector<std::string> range = r->DateRange(), empty;
  const std::vector<const EntityTable*> order = InRequestOrder(*tables, r->ids);
  std::string out = OpenBody(shape, {{"entityType", type}, {"attrName", attr}}, "entities") + "[";
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

http::Response GetAttr(context::ContextStore& store, const http::RequestContext& ctx, Shape shape) {
  auto r = ParseRequest(ctx);
  if (!r) return ErrorResponse(r.error());
  const std::string attr(ctx.Param("attrName"));
  r->query.entity_ids = r->ids;
  r->query.attrs = {attr};
  auto tables = Load(store, *r);
  if (!tables) return ErrorResponse(tables.error());
  if (tables->empty()) return NoRecords();
  if (NothingNumeric(*r, *tables)) return NotApplicable();
  const bool whole = r->WholeRange();
  const std::vector<std::string> range = r->DateRange();
  std::string out = OpenBody(shape, {{"attrName", attr}}, "types");
  AppendTypes(out, *tables, attr, whole ? &range : nullptr);
  out.push_back('}');
  return http::Response::Json(200, std::move(out));
}

http::Response GetAttrs(context::ContextStore& store, const http::RequestContext& ctx,
                        Shape shape) {
  auto r = ParseRequest(ctx);
  if (!r) return ErrorResponse(r.error());
  if (auto missing = AggregateWithoutAttrs(*r, ctx)) return ErrorResponse(*missing);
  r->query.entity_ids = r->ids;
  r->query.attrs = r->attrs;
  r->query.count_instants = true;  // QL's limit/lastN count rows
  auto tables = Load(store, *r);
  if (!tables) return ErrorResponse(tables.error());
  if (tables->empty()) return NoRecords();
  const bool whole = r->WholeRange();
  const std::vector<std::string> range = r->DateRange();
  std::set<std::string_view> names;  // (clang-tidy 16 crashes on nested structured bindings)
  for (const auto& entry : *tables) {
    for (const auto& attr : entry.second.attrs) names.insert(attr.first);
  }
  std::string out = OpenBody(shape, {}, "attrs") + "[";
  for (const std::string_view name : names) {
    if (out.back() != '[') out.push_back(',');
    out.append("{\"attrName\":");
    AppendString(out, name);
    out.append(",\"types\":");
    AppendTypes(out, *tables, std::string(name), whole ? &range : nullptr);
    out.push_back('}');
  }
  out.append("]}");
  return http::Response::Json(200, std::move(out));
}

}  // namespace zc::api::ql
