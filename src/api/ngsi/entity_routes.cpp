// NGSI-v2 entity, attribute and attribute-value routes. Each handler parses and validates
// the request completely (tenancy headers, parameters, body) before calling the context
// service, so that invalid input changes nothing; writes answer once they are durable.
#include <fmt/format.h>
#include <boost/url/encode.hpp>
#include <boost/url/grammar/lut_chars.hpp>

#include "api/ngsi/common.h"
#include "api/ngsi/entity_ops.h"
#include "api/ngsi/query_params.h"
#include "api/ngsi/routes.h"
#include "context/ngsi_format.h"

namespace zc::api::ngsi {
namespace {

using context::ContextService;
using context::EntityOp;
using context::WriteKind;
using http::RequestContext;
using http::Respond;
using http::Response;

const std::set<std::string_view> kWriteOptions{"keyValues", "append", "upsert", "forcedUpdate",
                                               "overrideMetadata"};
const std::set<std::string_view> kReadOptions{"keyValues", "values", "unique", "count"};

// Where a created entity can be read, as an ASCII URI reference (RFC 9110): the id and type
// as they are, as in Orion, except for the bytes a client following the header would read
// otherwise: '%' (an escape), in the type '+' (a space in a query), and the UTF-8 of
// non-ASCII names such as a plate 粤E1234, which clients read from a header as Latin-1.
// Names cannot hold '&', '?', '/', '#' or spaces.
std::string LocationOf(const std::string& id, const std::string& type) {
  namespace urls = boost::urls;
  static constexpr urls::grammar::lut_chars kIdKept(
      [](char c) { return static_cast<unsigned char>(c) < 0x80 && c != '%'; });
  static constexpr urls::grammar::lut_chars kTypeKept(
      [](char c) { return static_cast<unsigned char>(c) < 0x80 && c != '%' && c != '+'; });
  return fmt::format("/v2/entities/{}?type={}", urls::encode(id, kIdKept),
                     urls::encode(type, kTypeKept));
}

void ListEntities(ContextService& service, QueryPool& pool, RequestContext& ctx,
                  const Respond& respond) {
  auto req = ParseListRequest(ctx);
  if (!req) return ReplyError(ctx, respond, req.error());
  RunQuery(service, pool, ctx, respond, std::move(*req));
}

void CreateEntity(ContextService& service, RequestContext& ctx, const Respond& respond) {
  auto options = Options(ctx, kWriteOptions);
  if (!options) return ReplyError(ctx, respond, options.error());
  auto wctx = WriteContextOf(ctx);
  if (!wctx) return ReplyError(ctx, respond, wctx.error());
  auto body = JsonObjectBody(ctx);
  if (!body) return ReplyError(ctx, respond, body.error());
  auto entity = context::ParseEntity(*body, options->contains("keyValues"));
  if (!entity) return ReplyError(ctx, respond, entity.error());
  const bool upsert = options->contains("upsert");
  EntityOp op{.kind = upsert ? WriteKind::kUpsert : WriteKind::kCreate,
              .id = entity->id,
              .type = entity->type,
              .attrs = std::move(entity->attrs),
              .set_expires = entity->expires.has_value(),
              .expires = entity->expires,
              .forced = options->contains("forcedUpdate"),
              .override_metadata = options->contains("overrideMetadata")};
  const std::string location = LocationOf(entity->id, entity->type);
  const std::string correlator = Correlator(ctx);
  std::vector<EntityOp> ops;
  ops.push_back(std::move(op));
  // The NGSI-v2 spec: 201 Created, or 204 No Content with upsert whether the entity was
  // created or updated (what FIWARE IoT Agents, which send every measure as an upsert,
  // count as success); the Location of a created entity either way.
  service.Apply(*wctx, std::move(ops),
                [respond, location, correlator, upsert](Result<context::WriteOutcome> r) {
                  Response res = !r       ? ErrorResponse(r.error())
                                 : upsert ? Response::Empty(204)
                                          : Response::Empty(201);
                  if (r && r->created > 0) res.Header("Location", location);
                  res.Header("Fiware-Correlator", correlator);
                  respond(std::move(res));
                });
}

void GetEntity(ContextService& service, RequestContext& ctx, const Respond& respond) {
  auto options = Options(ctx, kReadOptions);
  if (!options) return ReplyError(ctx, respond, options.error());
  auto entity = FindEntity(service, ctx);
  if (!entity) return ReplyError(ctx, respond, entity.error());
  auto render = RenderOptionsOf(ctx, *options);
  Reply(ctx, respond, JsonResponse(200, context::RenderEntity(**entity, render)));
}

void GetAttrs(ContextService& service, RequestContext& ctx, const Respond& respond) {
  auto options = Options(ctx, kReadOptions);
  if (!options) return ReplyError(ctx, respond, options.error());
  auto entity = FindEntity(service, ctx);
  if (!entity) return ReplyError(ctx, respond, entity.error());
  auto render = RenderOptionsOf(ctx, *options);
  bj::value v = context::RenderEntity(**entity, render);
  if (auto* o = v.if_object()) {  // stable_erase: erase() would move the last attribute up
    o->stable_erase("id");
    o->stable_erase("type");
  }
  Reply(ctx, respond, JsonResponse(200, v));
}

void DeleteEntity(ContextService& service, RequestContext& ctx, const Respond& respond) {
  auto wctx = WriteContextOf(ctx);
  if (!wctx) return ReplyError(ctx, respond, wctx.error());
  auto type = ctx.Query("type");
  std::vector<EntityOp> ops;
  ops.push_back({.kind = WriteKind::kDeleteEntity,
                 .id = std::string(ctx.Param("entityId")),
                 .type = type ? std::optional<std::string>(*type) : std::nullopt});
  ApplyAndReply(service, ctx, respond, *wctx, std::move(ops));
}

// PATCH / POST / PUT /v2/entities/{id}/attrs.
void WriteAttrs(ContextService& service, RequestContext& ctx, const Respond& respond) {
  auto options = Options(ctx, kWriteOptions);
  if (!options) return ReplyError(ctx, respond, options.error());
  auto wctx = WriteContextOf(ctx);
  if (!wctx) return ReplyError(ctx, respond, wctx.error());
  auto body = JsonObjectBody(ctx);
  if (!body) return ReplyError(ctx, respond, body.error());
  auto attrs = context::ParseAttributes(*body, options->contains("keyValues"));
  if (!attrs) return ReplyError(ctx, respond, attrs.error());
  WriteKind kind = WriteKind::kReplace;
  if (ctx.Method() == http::Verb::patch) kind = WriteKind::kUpdate;
  if (ctx.Method() == http::Verb::post) {
    kind = options->contains("append") ? WriteKind::kAppendStrict : WriteKind::kAppend;
  }
  auto type = ctx.Query("type");
  std::vector<EntityOp> ops;
  ops.push_back({.kind = kind,
                 .id = std::string(ctx.Param("entityId")),
                 .type = type ? std::optional<std::string>(*type) : std::nullopt,
                 .attrs = std::move(attrs->attrs),
                 .set_expires = attrs->has_expires,
                 .expires = attrs->expires,
                 .forced = options->contains("forcedUpdate"),
                 .override_metadata = options->contains("overrideMetadata")});
  ApplyAndReply(service, ctx, respond, *wctx, std::move(ops));
}

}  // namespace

// Common preamble of writes: tenant, service path, correlator.
Status CheckPathNames(const RequestContext& ctx) {
  for (const auto& [name, value] : ctx.params) {
    if (name == "entityId") {
      if (auto s = context::ValidateName(value, "entity id"); !s) return s;
    } else if (name == "attrName") {
      if (auto s = context::ValidateName(value, "attribute name"); !s) return s;
    }
  }
  return Ok();
}

Result<context::WriteContext> WriteContextOf(const RequestContext& ctx) {
  if (auto s = CheckPathNames(ctx); !s) return Fail(s.error());
  auto tenant = Tenant(ctx);
  if (!tenant) return Fail(tenant.error());
  auto path = WritePath(ctx);
  if (!path) return Fail(path.error());
  return context::WriteContext{std::move(*tenant), std::move(*path), Correlator(ctx)};
}

// Runs `ops` and answers `ok_status` (204 by default) once durable.
void ApplyAndReply(ContextService& service, const RequestContext& ctx, const Respond& respond,
                   const context::WriteContext& wctx, std::vector<EntityOp> ops,
                   unsigned ok_status) {
  std::string correlator = Correlator(ctx);
  service.Apply(wctx, std::move(ops),
                [respond, correlator, ok_status](Result<context::WriteOutcome> r) {
                  Response res = r ? Response::Empty(ok_status) : ErrorResponse(r.error());
                  res.Header("Fiware-Correlator", correlator);
                  respond(std::move(res));
                });
}

namespace {

// The entities `req` selects; an error; or a result that gave up (EntityQuery::max_visits).
Result<context::QueryResult> QueryOf(const ContextService& service, const RequestContext& ctx,
                                     const ListRequest& req) {
  auto tenant = Tenant(ctx);
  if (!tenant) return Fail(tenant.error());
  auto scope = ReadScope(ctx);
  if (!scope) return Fail(scope.error());
  return service.Query(*tenant, *scope, req.query);
}

void AnswerQuery(const RequestContext& ctx, const Respond& respond, const ListRequest& req,
                 const Result<context::QueryResult>& result) {
  if (!result) return ReplyError(ctx, respond, result.error());
  auto body = context::RenderEntitiesJson(result->entities, req.render, ctx.max_response_bytes);
  if (!body) return ReplyError(ctx, respond, body.error());
  Response res = Response::Json(200, std::move(*body));
  if (req.query.count) res.Header("Fiware-Total-Count", std::to_string(result->total));
  Reply(ctx, respond, std::move(res));
}

}  // namespace

Error QueryPoolFull(const QueryPool& pool) {
  return Error::Unavailable(
      fmt::format("{} reads that scan every entity are in progress, the most allowed "
                  "([http] max_long_queries): retry later, or narrow the query (type, id, limit)",
                  pool.MaxInProgress()));
}

void RunQuery(const ContextService& service, QueryPool& pool, const RequestContext& ctx,
              const Respond& respond, ListRequest req) {
  req.query.max_visits = kInlineQueryVisits;
  auto result = QueryOf(service, ctx, req);
  if (!result || !result->gave_up) return AnswerQuery(ctx, respond, req, result);
  req.query.max_visits = 0;
  const bool posted = pool.TryPost([&service, &ctx, respond, req = std::move(req)] {
    RunGuarded(ctx, respond, [&] { AnswerQuery(ctx, respond, req, QueryOf(service, ctx, req)); });
  });
  if (!posted) ReplyError(ctx, respond, QueryPoolFull(pool));
}

// Looks up {entityId}(+type) for reads.
Result<context::EntityPtr> FindEntity(const ContextService& service, const RequestContext& ctx) {
  if (auto s = CheckPathNames(ctx); !s) return Fail(s.error());
  auto tenant = Tenant(ctx);
  if (!tenant) return Fail(tenant.error());
  auto scope = ReadScope(ctx);
  if (!scope) return Fail(scope.error());
  auto type = ctx.Query("type");
  return service.Get(*tenant, *scope, ctx.Param("entityId"),
                     type ? std::optional<std::string_view>(*type) : std::nullopt);
}

void RegisterAttributeRoutes(http::Router& router, ContextService& service);
void RegisterBatchRoutes(http::Router& router, ContextService& service, QueryPool& queries);

void RegisterEntityRoutes(http::Router& router, ContextService& service, QueryPool& queries) {
  auto bind = [&service](auto fn) { return BindService(service, fn); };
  using http::Verb;
  router.Add({Verb::get, "/v2/entities", kPermRead, BindQuery(service, queries, ListEntities)});
  router.Add({Verb::post, "/v2/entities", kPermWrite, bind(CreateEntity)});
  router.Add({Verb::get, "/v2/entities/{entityId}", kPermRead, bind(GetEntity)});
  router.Add({Verb::delete_, "/v2/entities/{entityId}", kPermWrite, bind(DeleteEntity)});
  router.Add({Verb::get, "/v2/entities/{entityId}/attrs", kPermRead, bind(GetAttrs)});
  router.Add({Verb::patch, "/v2/entities/{entityId}/attrs", kPermWrite, bind(WriteAttrs)});
  router.Add({Verb::post, "/v2/entities/{entityId}/attrs", kPermWrite, bind(WriteAttrs)});
  router.Add({Verb::put, "/v2/entities/{entityId}/attrs", kPermWrite, bind(WriteAttrs)});
  RegisterAttributeRoutes(router, service);
  RegisterBatchRoutes(router, service, queries);
}

}  // namespace zc::api::ngsi
