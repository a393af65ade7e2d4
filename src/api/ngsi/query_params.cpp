// Query parameter mapping for NGSI-v2 entity listing and batch queries. Validation errors
// use Orion's wording where clients are known to look at it ("Incompatible parameters",
// "Bad pagination limit", ...). Regular expressions are compiled once per request.
#include "api/ngsi/query_params.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "api/ngsi/common.h"

namespace zc::api::ngsi {
namespace {

constexpr size_t kMaxPatternLength = 256;
constexpr size_t kMaxSelectors = 100;

const std::set<std::string_view> kListOptions{"count", "keyValues", "values", "unique",
                                              "skipForwarding"};

Result<boost::regex> CompilePattern(std::string_view pattern, std::string_view what) {
  if (pattern.size() > kMaxPatternLength) {
    return Fail(Error::BadRequest(fmt::format("{} too long", what)));
  }
  boost::regex re(pattern.begin(), pattern.end(),
                  boost::regex::ECMAScript | boost::regex::no_except);
  if (re.status() != 0) return Fail(Error::BadRequest(fmt::format("Invalid regex for {}", what)));
  return re;
}

// Cross product of ids (or one id pattern) and types (or one type pattern).
Result<std::vector<context::EntitySelector>> Selectors(const http::RequestContext& ctx) {
  auto id = ctx.Query("id");
  auto id_pattern = ctx.Query("idPattern");
  auto type = ctx.Query("type");
  auto type_pattern = ctx.Query("typePattern");
  if (id && id_pattern) return Fail(Error::BadRequest("Incompatible parameters: id, IdPattern"));
  if (type && type_pattern) {
    return Fail(Error::BadRequest("Incompatible parameters: type, typePattern"));
  }
  std::vector<context::EntitySelector> ids{{}};
  if (id) {
    ids.clear();
    for (auto& one : SplitList(*id)) ids.push_back({.id = std::move(one)});
    if (ids.empty()) return Fail(Error::BadRequest("Empty right-hand-side for URI param /id/"));
  } else if (id_pattern) {
    auto re = CompilePattern(*id_pattern, "entity id pattern");
    if (!re) return Fail(re.error());
    ids.front().id_pattern = std::move(*re);
  }
  std::vector<context::EntitySelector> out;
  std::vector<std::string> types = type ? SplitList(*type) : std::vector<std::string>{};
  if (type && types.empty()) {
    return Fail(Error::BadRequest("Empty right-hand-side for URI param /type/"));
  }
  std::optional<boost::regex> type_re;
  if (type_pattern) {
    auto re = CompilePattern(*type_pattern, "entity type pattern");
    if (!re) return Fail(re.error());
    type_re = std::move(*re);
  }
  for (const auto& base : ids) {
    if (types.empty()) {
      out.push_back(base);
      out.back().type_pattern = type_re;
      continue;
    }
    for (const auto& t : types) {
      out.push_back(base);
      out.back().type = t;
    }
  }
  if (out.size() > kMaxSelectors) return Fail(Error::BadRequest("too many entity ids or types"));
  if (out.size() == 1 && !out[0].id && !out[0].id_pattern && !out[0].type && !out[0].type_pattern) {
    out.clear();
  }
  return out;
}

// q, mq, georel/geometry/coords and orderBy from strings.
Status ParseExpression(context::EntityQuery& query, std::optional<std::string_view> q,
                       std::optional<std::string_view> mq, std::optional<std::string_view> georel,
                       std::optional<std::string_view> geometry,
                       std::optional<std::string_view> coords) {
  if (q) {
    auto f = context::Filter::ParseQ(*q);
    if (!f) return Fail(f.error());
    query.q = std::move(*f);
  }
  if (mq) {
    auto f = context::Filter::ParseMq(*mq);
    if (!f) return Fail(f.error());
    query.mq = std::move(*f);
  }
  if (georel || geometry || coords) {
    auto g =
        context::ParseGeoQuery(georel.value_or(""), geometry.value_or(""), coords.value_or(""));
    if (!g) return Fail(g.error());
    query.geo = std::move(*g);
  }
  return Ok();
}

Status ParseOrderAndPage(const http::RequestContext& ctx, ListRequest& out) {
  auto page = PageParams(ctx);
  if (!page) return Fail(page.error());
  out.query.limit = page->limit;
  out.query.offset = page->offset;
  out.query.count = out.options.contains("count");
  if (auto order = ctx.Query("orderBy")) {
    auto parsed = context::OrderBy::Parse(*order);
    if (!parsed) return Fail(parsed.error());
    if (parsed->UsesGeoDistance() &&
        !(out.query.geo && out.query.geo->rel == context::GeoRel::kNear)) {
      return Fail(Error::BadRequest("Orderby geo:distance requires georel=near"));
    }
    out.query.order_by = std::move(*parsed);
  }
  return Ok();
}

Result<std::optional<std::string>> OptionalString(const bj::object& o, std::string_view key,
                                                  std::string_view where) {
  const bj::value* v = o.if_contains(key);
  if (!v) return std::optional<std::string>{};
  if (!v->is_string()) {
    return Fail(Error::BadRequest(fmt::format("{}: /{}/ must be a string", where, key)));
  }
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<context::EntitySelector> SelectorFromJson(const bj::value& v) {
  const auto* o = v.if_object();
  if (!o) return Fail(Error::BadRequest("entities: each item must be a JSON object"));
  context::EntitySelector sel;
  auto id = OptionalString(*o, "id", "entities");
  auto id_pattern = OptionalString(*o, "idPattern", "entities");
  auto type = OptionalString(*o, "type", "entities");
  auto type_pattern = OptionalString(*o, "typePattern", "entities");
  for (const auto* r : {&id, &id_pattern, &type, &type_pattern}) {
    if (!*r) return Fail(r->error());
  }
  if (*id && *id_pattern) return Fail(Error::BadRequest("both /id/ and /idPattern/ present"));
  if (!*id && !*id_pattern) return Fail(Error::BadRequest("nor /id/ nor /idPattern/ present"));
  if (*type && *type_pattern) {
    return Fail(Error::BadRequest("Incompatible parameters: type, typePattern"));
  }
  sel.id = std::move(*id);
  sel.type = std::move(*type);
  if (*id_pattern) {
    auto re = CompilePattern(**id_pattern, "entity id pattern");
    if (!re) return Fail(re.error());
    sel.id_pattern = std::move(*re);
  }
  if (*type_pattern) {
    auto re = CompilePattern(**type_pattern, "entity type pattern");
    if (!re) return Fail(re.error());
    sel.type_pattern = std::move(*re);
  }
  return sel;
}

Result<std::vector<std::string>> StringArray(const bj::object& o, std::string_view key) {
  std::vector<std::string> out;
  const bj::value* v = o.if_contains(key);
  if (!v) return out;
  if (!v->is_array()) return Fail(Error::BadRequest(fmt::format("/{}/ must be an array", key)));
  for (const auto& item : v->get_array()) {
    if (!item.is_string()) {
      return Fail(Error::BadRequest(fmt::format("/{}/ must be an array of strings", key)));
    }
    out.emplace_back(item.get_string());
  }
  return out;
}

Status ParseBodyExpression(const bj::object& body, context::EntityQuery& query) {
  const bj::value* e = body.if_contains("expression");
  if (!e) return Ok();
  if (!e->is_object()) return Fail(Error::BadRequest("expression is not an object"));
  const auto& o = e->get_object();
  if (o.empty()) return Fail(Error::BadRequest("expression is empty"));
  std::optional<std::string> parts[5];
  const char* keys[5] = {"q", "mq", "georel", "geometry", "coords"};
  for (int i = 0; i < 5; ++i) {
    auto v = OptionalString(o, keys[i], "expression");
    if (!v) return Fail(v.error());
    parts[i] = std::move(*v);
  }
  auto view = [](const std::optional<std::string>& s) {
    return s ? std::optional<std::string_view>(*s) : std::nullopt;
  };
  return ParseExpression(query, view(parts[0]), view(parts[1]), view(parts[2]), view(parts[3]),
                         view(parts[4]));
}

// Orion's checks of an op/query body, in its order: not empty, at least one field that
// selects something, and no field it does not know.
Status CheckQueryBodyFields(const bj::object& o) {
  if (o.empty()) return Fail(Error::BadRequest("empty payload"));
  if (!o.contains("entities") && !o.contains("attributes") && !o.contains("attrs") &&
      !o.contains("expression")) {
    return Fail(Error::BadRequest("Invalid JSON payload, no relevant fields found"));
  }
  return OnlyKnownFields(o, {"entities", "attributes", "attrs", "expression", "metadata"});
}

// The deprecated "attributes" (ngsijs still documents it): entities holding at least one of
// them, rendered with those attributes unless "attrs" says otherwise (as in Orion).
Status ParseDeprecatedAttributes(const bj::object& o, ListRequest& out) {
  if (!o.contains("attributes")) return Ok();
  auto attributes = StringArray(o, "attributes");
  if (!attributes) return Fail(attributes.error());
  if (!o.contains("attrs")) out.render.attrs = *attributes;
  out.query.with_any_attr = std::move(*attributes);
  return Ok();
}

}  // namespace

Result<ListRequest> ParseQueryBody(const http::RequestContext& ctx, const bj::object& body) {
  ListRequest out;
  if (auto s = CheckQueryBodyFields(body); !s) return Fail(s.error());
  auto options = Options(ctx, kListOptions);
  if (!options) return Fail(options.error());
  out.options = std::move(*options);
  if (const bj::value* entities = body.if_contains("entities")) {
    if (!entities->is_array()) return Fail(Error::BadRequest("/entities/ must be an array"));
    if (entities->get_array().size() > kMaxSelectors) {
      return Fail(Error::BadRequest("too many items in /entities/"));
    }
    for (const auto& item : entities->get_array()) {
      auto sel = SelectorFromJson(item);
      if (!sel) return Fail(sel.error());
      out.query.selectors.push_back(std::move(*sel));
    }
  }
  if (auto s = ParseBodyExpression(body, out.query); !s) return Fail(s.error());
  out.render.representation = RepresentationOf(out.options);
  auto attrs = StringArray(body, "attrs");
  if (!attrs) return Fail(attrs.error());
  out.render.attrs = std::move(*attrs);
  auto metadata = StringArray(body, "metadata");
  if (!metadata) return Fail(metadata.error());
  out.render.metadata = std::move(*metadata);
  if (auto s = ParseDeprecatedAttributes(body, out); !s) return Fail(s.error());
  if (auto s = ParseOrderAndPage(ctx, out); !s) return Fail(s.error());
  return out;
}

context::Representation RepresentationOf(const std::set<std::string>& options) {
  if (options.contains("unique")) return context::Representation::kUnique;
  if (options.contains("values")) return context::Representation::kValues;
  if (options.contains("keyValues")) return context::Representation::kKeyValues;
  return context::Representation::kNormalized;
}

context::RenderOptions RenderOptionsOf(const http::RequestContext& ctx,
                                       const std::set<std::string>& options) {
  context::RenderOptions render{.representation = RepresentationOf(options)};
  if (auto attrs = ctx.Query("attrs")) render.attrs = SplitList(*attrs);
  if (auto md = ctx.Query("metadata")) render.metadata = SplitList(*md);
  // The deprecated options=dateCreated,dateModified of Orion: attrs=*,dateCreated,...
  for (const char* builtin : {"dateCreated", "dateModified"}) {
    if (!options.contains(builtin)) continue;
    if (render.attrs.empty()) render.attrs.emplace_back("*");
    if (std::ranges::find(render.attrs, builtin) == render.attrs.end()) {
      render.attrs.emplace_back(builtin);
    }
  }
  return render;
}

Result<ListRequest> ParseListRequest(const http::RequestContext& ctx) {
  ListRequest out;
  auto options = Options(ctx, kListOptions);
  if (!options) return Fail(options.error());
  out.options = std::move(*options);
  auto selectors = Selectors(ctx);
  if (!selectors) return Fail(selectors.error());
  out.query.selectors = std::move(*selectors);
  auto s = ParseExpression(out.query, ctx.Query("q"), ctx.Query("mq"), ctx.Query("georel"),
                           ctx.Query("geometry"), ctx.Query("coords"));
  if (!s) return Fail(s.error());
  if (auto s2 = ParseOrderAndPage(ctx, out); !s2) return Fail(s2.error());
  out.render = RenderOptionsOf(ctx, out.options);
  return out;
}

}  // namespace zc::api::ngsi
