// NGSI-v2 single-attribute routes: /v2/entities/{id}/attrs/{attrName} (GET, PUT, DELETE)
// and its /value (GET, PUT, as JSON or text/plain). A PUT on a missing attribute is 404,
// as in Orion; the existence check and the update are two steps, so a concurrent delete
// in between makes the update answer 422 instead (documented).
#include <charconv>

#include "api/ngsi/common.h"
#include "api/ngsi/entity_ops.h"
#include "api/ngsi/routes.h"
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

const Error kNoSuchAttribute = Error::NotFound("The entity does not have such an attribute");

Result<const context::Attribute*> FindAttribute(const context::EntityPtr& e,
                                                std::string_view name) {
  const context::Attribute* a = e->Find(name);
  if (!a) return Fail(kNoSuchAttribute);
  return a;
}

void GetAttribute(ContextService& service, RequestContext& ctx, const Respond& respond) {
  auto entity = FindEntity(service, ctx);
  if (!entity) return ReplyError(ctx, respond, entity.error());
  auto attr = FindAttribute(*entity, ctx.Param("attrName"));
  if (!attr) return ReplyError(ctx, respond, attr.error());
  context::RenderOptions render;
  if (auto md = ctx.Query("metadata")) render.metadata = SplitList(*md);
  Reply(ctx, respond, JsonResponse(200, context::RenderAttribute(**attr, render)));
}

// Sends `attr` as the new state of {attrName} (kUpdate) once the attribute is known to exist.
void UpdateOne(ContextService& service, RequestContext& ctx, const Respond& respond,
               context::Attribute attr) {
  auto wctx = WriteContextOf(ctx);
  if (!wctx) return ReplyError(ctx, respond, wctx.error());
  auto type = ctx.Query("type");
  EntityOp op{.kind = WriteKind::kUpdate,
              .id = std::string(ctx.Param("entityId")),
              .type = type ? std::optional<std::string>(*type) : std::nullopt};
  op.override_metadata = true;  // PUT replaces the whole attribute, metadata included
  op.attrs.emplace_back(std::string(ctx.Param("attrName")), std::move(attr));
  std::vector<EntityOp> ops;
  ops.push_back(std::move(op));
  ApplyAndReply(service, ctx, respond, *wctx, std::move(ops));
}

void PutAttribute(ContextService& service, RequestContext& ctx, const Respond& respond) {
  auto body = JsonBody(ctx);
  if (!body) return ReplyError(ctx, respond, body.error());
  auto attr = context::ParseAttribute(*body);
  if (!attr) return ReplyError(ctx, respond, attr.error());
  auto entity = FindEntity(service, ctx);
  if (!entity) return ReplyError(ctx, respond, entity.error());
  if (auto existing = FindAttribute(*entity, ctx.Param("attrName")); !existing) {
    return ReplyError(ctx, respond, existing.error());
  }
  UpdateOne(service, ctx, respond, std::move(*attr));
}

void DeleteAttribute(ContextService& service, RequestContext& ctx, const Respond& respond) {
  auto wctx = WriteContextOf(ctx);
  if (!wctx) return ReplyError(ctx, respond, wctx.error());
  auto type = ctx.Query("type");
  std::vector<EntityOp> ops;
  ops.push_back({.kind = WriteKind::kDeleteAttrs,
                 .id = std::string(ctx.Param("entityId")),
                 .type = type ? std::optional<std::string>(*type) : std::nullopt,
                 .delete_attrs = {std::string(ctx.Param("attrName"))}});
  ApplyAndReply(service, ctx, respond, *wctx, std::move(ops));
}

void GetValue(ContextService& service, RequestContext& ctx, const Respond& respond) {
  auto entity = FindEntity(service, ctx);
  if (!entity) return ReplyError(ctx, respond, entity.error());
  auto attr = FindAttribute(*entity, ctx.Param("attrName"));
  if (!attr) return ReplyError(ctx, respond, attr.error());
  const bj::value& v = (*attr)->value;
  const std::string_view accept = ctx.Header("Accept");
  const bool text_wanted = accept.find("text/plain") != std::string_view::npos &&
                           accept.find("json") == std::string_view::npos;
  if (!text_wanted) return Reply(ctx, respond, JsonResponse(200, v));
  if (v.is_object() || v.is_array()) {
    return ReplyError(ctx, respond, Error::NotAcceptable("accepted MIME types: application/json"));
  }
  // text/plain: strings as they are, other scalars as their JSON text.
  Reply(ctx, respond,
        Response::Text(200, v.is_string() ? std::string(v.get_string()) : json::Dump(v)));
}

// A text/plain value: a JSON number, true/false/null or a "quoted string" are taken as
// such; anything else is the string itself (Orion's rules).
bj::value ValueFromText(const std::string& text) {
  if (auto parsed = json::Parse(text); parsed && !parsed->is_object() && !parsed->is_array()) {
    return *parsed;
  }
  return bj::string(text);
}

void PutValue(ContextService& service, RequestContext& ctx, const Respond& respond) {
  const std::string_view type = ctx.Header("Content-Type");
  bj::value value;
  if (type.starts_with("text/plain")) {
    if (ctx.Body().empty()) return ReplyError(ctx, respond, Error::BadRequest("empty payload"));
    value = ValueFromText(ctx.Body());
  } else {
    auto body = JsonBody(ctx);
    if (!body) return ReplyError(ctx, respond, body.error());
    if (!body->is_object() && !body->is_array()) {
      return ReplyError(ctx, respond,
                        Error::BadRequest("attribute value must be a JSON object or array with "
                                          "application/json; use text/plain for simple values"));
    }
    value = std::move(*body);
  }
  auto entity = FindEntity(service, ctx);
  if (!entity) return ReplyError(ctx, respond, entity.error());
  auto existing = FindAttribute(*entity, ctx.Param("attrName"));
  if (!existing) return ReplyError(ctx, respond, existing.error());
  // The new value goes through the same checks as any attribute of its type.
  auto attr =
      context::ParseAttribute(bj::object{{"type", (*existing)->type}, {"value", std::move(value)}});
  if (!attr) return ReplyError(ctx, respond, attr.error());
  attr->metadata = (*existing)->metadata;
  UpdateOne(service, ctx, respond, std::move(*attr));
}

}  // namespace

void RegisterAttributeRoutes(http::Router& router, ContextService& service) {
  auto bind = [&service](auto fn) { return BindService(service, fn); };
  using http::Verb;
  const std::string attr = "/v2/entities/{entityId}/attrs/{attrName}";
  router.Add({Verb::get, attr, kPermRead, bind(GetAttribute)});
  router.Add({Verb::put, attr, kPermWrite, bind(PutAttribute)});
  router.Add({Verb::delete_, attr, kPermWrite, bind(DeleteAttribute)});
  router.Add({Verb::get, attr + "/value", kPermRead, bind(GetValue)});
  router.Add({Verb::put, attr + "/value", kPermWrite, bind(PutValue)});
}

}  // namespace zc::api::ngsi
