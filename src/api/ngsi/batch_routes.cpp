// NGSI-v2 batch operations (POST /v2/op/update, /v2/op/query, /v2/op/notify), the type catalogue
// (GET /v2/types, /v2/types/{entityType}) and the API entry point (GET /v2).
// A batch update is all-or-nothing (a deliberate difference from Orion, which applies
// the entities it can: see docs/api/ngsi-v2.md).
#include <fmt/format.h>

#include "api/ngsi/common.h"
#include "api/ngsi/entity_ops.h"
#include "api/ngsi/query_params.h"
#include "api/ngsi/routes.h"
#include "common/ascii.h"
#include "common/json.h"
#include "context/ngsi_format.h"

namespace zc::api::ngsi {
namespace {

using context::ContextService;
using context::EntityOp;
using context::WriteKind;
using http::RequestContext;
using http::Respond;
using http::Response;

const std::set<std::string_view> kBatchOptions{"keyValues", "forcedUpdate", "overrideMetadata"};

// Orion's action types, and as a last resort its NGSIv1 names in any case ("APPEND_STRICT").
Result<WriteKind> ActionKind(std::string_view action) {
  if (IEquals(action, "append")) return WriteKind::kUpsert;
  if (action == "appendStrict" || IEquals(action, "append_strict")) return WriteKind::kUpsertStrict;
  if (IEquals(action, "update")) return WriteKind::kUpdate;
  if (IEquals(action, "replace")) return WriteKind::kReplace;
  if (IEquals(action, "delete")) return WriteKind::kDeleteEntity;
  return Fail(Error::BadRequest(
      "invalid update action type: right ones are: append, appendStrict, delete, replace, update"));
}

// One entity of the batch as an operation. For update/replace/delete a missing "type"
// matches any type (the parser's default type is not used as a filter).
Result<EntityOp> BatchOp(const bj::value& item, WriteKind kind, bool key_values, bool forced,
                         bool override_metadata) {
  if (!item.is_object()) {
    return Fail(Error::BadRequest("entities: each item must be a JSON object"));
  }
  const bool has_type = item.get_object().contains("type");
  auto entity = context::ParseEntity(item, key_values);
  if (!entity) return Fail(entity.error());
  EntityOp op{.kind = kind,
              .id = entity->id,
              .set_expires = entity->expires.has_value(),
              .expires = entity->expires,
              .forced = forced,
              .override_metadata = override_metadata};
  const bool creates = kind == WriteKind::kUpsert || kind == WriteKind::kUpsertStrict;
  if (creates || has_type) op.type = entity->type;
  if (kind == WriteKind::kDeleteEntity && !entity->attrs.empty()) {
    op.kind = WriteKind::kDeleteAttrs;
    for (const auto& [name, attr] : entity->attrs) op.delete_attrs.push_back(name);
  } else {
    op.attrs = std::move(entity->attrs);
  }
  return op;
}

// The entities of an op/update (or op/notify) body as operations of one kind.
Result<std::vector<EntityOp>> OpsOf(const bj::array& entities, WriteKind kind,
                                    const std::set<std::string>& options) {
  std::vector<EntityOp> ops;
  ops.reserve(entities.size());
  for (const auto& item : entities) {
    auto op = BatchOp(item, kind, options.contains("keyValues"), options.contains("forcedUpdate"),
                      options.contains("overrideMetadata"));
    if (!op) return Fail(op.error());
    ops.push_back(std::move(*op));
  }
  return ops;
}

// Orion's checks of an op/update body, in its order (jsonParseV2/parseBatchUpdate.cpp).
Status CheckBatchBodyFields(const bj::object& o) {
  if (o.empty()) return Fail(Error::BadRequest("empty payload"));
  for (std::string_view field : {"entities", "actionType"}) {
    if (!o.contains(field)) {
      return Fail(Error::BadRequest(
          fmt::format("Invalid JSON payload, mandatory field /{}/ not found", field)));
    }
  }
  return OnlyKnownFields(o, {"entities", "actionType"});
}

Result<std::vector<EntityOp>> BatchOps(const bj::object& body,
                                       const std::set<std::string>& options) {
  if (auto s = CheckBatchBodyFields(body); !s) return Fail(s.error());
  const bj::value& action = body.at("actionType");
  const bj::value& entities = body.at("entities");
  if (!action.is_string()) return Fail(Error::BadRequest("actionType: must be a string"));
  if (!entities.is_array()) return Fail(Error::BadRequest("entities: must be an array"));
  auto kind = ActionKind(action.get_string());
  if (!kind) return Fail(kind.error());
  if (entities.get_array().empty()) return Fail(Error::BadRequest("entities: empty array"));
  return OpsOf(entities.get_array(), *kind, options);
}

// A notification body sent to POST /v2/op/notify ({"subscriptionId", "data": [entity, ...]})
// as the operations of an op/update with actionType append.
Result<std::vector<EntityOp>> NotifyOps(const bj::object& body,
                                        const std::set<std::string>& options) {
  if (body.empty()) return Fail(Error::BadRequest("empty payload"));
  if (auto s = OnlyKnownFields(body, {"subscriptionId", "data"}); !s) return Fail(s.error());
  const bj::value* data = body.if_contains("data");
  if (!data) {
    return Fail(Error::BadRequest("Invalid JSON payload, mandatory field /data/ not found"));
  }
  if (!data->is_array()) return Fail(Error::BadRequest("data: must be an array"));
  if (data->get_array().empty()) return Fail(Error::BadRequest("data: empty array"));
  return OpsOf(data->get_array(), WriteKind::kUpsert, options);
}

using OpsParser = Result<std::vector<EntityOp>> (*)(const bj::object&,
                                                    const std::set<std::string>&);

// The common path of op/update and op/notify: options, write context, body, operations,
// then the answer once durable.
void ApplyBody(ContextService& service, RequestContext& ctx, const Respond& respond,
               OpsParser parse, unsigned ok_status) {
  auto options = Options(ctx, kBatchOptions);
  if (!options) return ReplyError(ctx, respond, options.error());
  auto wctx = WriteContextOf(ctx);
  if (!wctx) return ReplyError(ctx, respond, wctx.error());
  auto body = JsonObjectBody(ctx);
  if (!body) return ReplyError(ctx, respond, body.error());
  auto ops = parse(body->get_object(), *options);
  if (!ops) return ReplyError(ctx, respond, ops.error());
  ApplyAndReply(service, ctx, respond, *wctx, std::move(*ops), ok_status);
}

void BatchUpdate(ContextService& service, RequestContext& ctx, const Respond& respond) {
  ApplyBody(service, ctx, respond, &BatchOps, 204);
}

// POST /v2/op/notify: what another NGSI-v2 broker notifies is stored as op/update append
// does it (federation); 200 once durable, as in Orion.
void BatchNotify(ContextService& service, RequestContext& ctx, const Respond& respond) {
  ApplyBody(service, ctx, respond, &NotifyOps, 200);
}

void BatchQuery(ContextService& service, QueryPool& pool, RequestContext& ctx,
                const Respond& respond) {
  auto body = JsonObjectBody(ctx);
  if (!body) return ReplyError(ctx, respond, body.error());
  auto req = ParseQueryBody(ctx, body->get_object());
  if (!req) return ReplyError(ctx, respond, req.error());
  RunQuery(service, pool, ctx, respond, std::move(*req));
}

bj::object AttrTypes(const context::TypeInfo& info) {
  bj::object attrs;
  for (const auto& [name, types] : info.attrs) {
    bj::array list;
    for (const auto& t : types) list.emplace_back(t);
    attrs[name] = bj::object{{"types", std::move(list)}};
  }
  return attrs;
}

void ListTypes(ContextService& service, RequestContext& ctx, const Respond& respond) {
  auto tenant = Tenant(ctx);
  if (!tenant) return ReplyError(ctx, respond, tenant.error());
  auto scope = ReadScope(ctx);
  if (!scope) return ReplyError(ctx, respond, scope.error());
  auto options = Options(ctx, {"count", "values"});
  if (!options) return ReplyError(ctx, respond, options.error());
  if (options->contains("noAttrDetail")) {  // not implemented: 400 rather than ignored
    return ReplyError(ctx, respond, Error::BadRequest("Invalid value for URI param /options/"));
  }
  auto page = PageParams(ctx);
  if (!page) return ReplyError(ctx, respond, page.error());
  const bool values = options->contains("values");
  auto types =
      service.Types(*tenant, *scope, {.attrs = !values, .max_bytes = ctx.max_response_bytes});
  if (!types) return ReplyError(ctx, respond, types.error());
  json::BoundedArrayWriter out(ctx.max_response_bytes,
                               "attributes (options=values lists the types alone)");
  for (size_t i = page->offset; i < types->size() && out.Count() < page->limit; ++i) {
    const auto& info = (*types)[i];
    const bj::value item =
        values ? bj::value(info.type)
               : bj::value(bj::object{
                     {"type", info.type}, {"attrs", AttrTypes(info)}, {"count", info.count}});
    if (auto s = out.Append(json::Dump(item)); !s) return ReplyError(ctx, respond, s.error());
  }
  Response res = Response::Json(200, std::move(out).Finish());
  if (options->contains("count")) res.Header("Fiware-Total-Count", std::to_string(types->size()));
  Reply(ctx, respond, std::move(res));
}

void GetType(ContextService& service, RequestContext& ctx, const Respond& respond) {
  auto tenant = Tenant(ctx);
  if (!tenant) return ReplyError(ctx, respond, tenant.error());
  auto scope = ReadScope(ctx);
  if (!scope) return ReplyError(ctx, respond, scope.error());
  auto types = service.Types(
      *tenant, *scope,
      {.type = std::string(ctx.Param("entityType")), .max_bytes = ctx.max_response_bytes});
  if (!types) return ReplyError(ctx, respond, types.error());
  if (types->empty()) return ReplyError(ctx, respond, Error::NotFound("Entity type not found"));
  const auto& info = types->front();
  Reply(ctx, respond,
        JsonResponse(200, bj::object{{"attrs", AttrTypes(info)}, {"count", info.count}}));
}

void EntryPoint(RequestContext& ctx, const Respond& respond) {
  Reply(ctx, respond,
        JsonResponse(200, bj::object{{"entities_url", "/v2/entities"},
                                     {"types_url", "/v2/types"},
                                     {"subscriptions_url", "/v2/subscriptions"}}));
}

}  // namespace

void RegisterBatchRoutes(http::Router& router, ContextService& service, QueryPool& queries) {
  auto bind = [&service](auto fn) { return BindService(service, fn); };
  auto on_pool = [&service, &queries](auto fn) { return BindOnPool(service, queries, fn); };
  using http::Verb;
  router.Add({Verb::get, "/v2", "", [](RequestContext& ctx, Respond r) { EntryPoint(ctx, r); }});
  router.Add({Verb::post, "/v2/op/update", kPermWrite, bind(BatchUpdate)});
  router.Add({Verb::post, "/v2/op/query", kPermRead, BindQuery(service, queries, BatchQuery)});
  router.Add({Verb::post, "/v2/op/notify", kPermWrite, bind(BatchNotify)});
  router.Add({Verb::get, "/v2/types", kPermRead, on_pool(ListTypes)});
  router.Add({Verb::get, "/v2/types/{entityType}", kPermRead, on_pool(GetType)});
}

}  // namespace zc::api::ngsi
