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

bool AcceptsText(const RequestContext& ctx) {
  const std::string_view accept = ctx.Header("Accept");
  return accept.empty() || accept.find("text/plain") != std::string_view::npos ||
         accept.find("*/*") != std::string_view::npos ||
         accept.find("text/*") != std::string_view::npos;
}

// Orion's text/plain form of a value: JSON text, strings quoted, except a DateTime as its
// bare ISO 8601 text.
std::string ValueAsText(const context::Attribute& attr) {
  if (attr.type == context::kTypeDateTime && attr.value.is_string()) {
    return std::string(attr.value.get_string());
  }
  return json::Dump(attr.value);
}

// A client that names application/json gets JSON (ngsijs sends "application/json,
// text/plain" and parses the answer as JSON, which a bare DateTime text is not).
bool AnswerAsText(const RequestContext& ctx, bool compound) {
  if (compound) return !AcceptsJson(ctx) && AcceptsText(ctx);
  const bool json_named = ctx.Header("Accept").find("application/json") != std::string_view::npos;
  return AcceptsText(ctx) && !json_named;
}

// As Orion: a plain value (string, number, boolean, null) is text/plain when that is
// acceptable, an object or array application/json (text/plain when only that is); a client
// that names application/json gets plain values as JSON.
void GetValue(ContextService& service, RequestContext& ctx, const Respond& respond) {
  auto entity = FindEntity(service, ctx);
  if (!entity) return ReplyError(ctx, respond, entity.error());
  auto attr = FindAttribute(*entity, ctx.Param("attrName"));
  if (!attr) return ReplyError(ctx, respond, attr.error());
  const bj::value& v = (*attr)->value;
  const bool compound = v.is_object() || v.is_array();
  if (AnswerAsText(ctx, compound)) {
    return Reply(ctx, respond, Response::Text(200, ValueAsText(**attr)));
  }
  if (AcceptsJson(ctx)) return Reply(ctx, respond, JsonResponse(200, v));
  ReplyError(ctx, respond,
             Error::NotAcceptable(compound ? "accepted MIME types: application/json, text/plain"
                                           : "accepted MIME types: text/plain"));
}

// A text/plain value as Orion reads it (parse/textParse.cpp): a "quoted string", true,
// false or null (also capitalised or in capitals) or a number; anything else is 400.
Result<bj::value> ValueFromText(std::string_view text) {
  if (text.starts_with('"')) {
    if (text.size() < 2 || !text.ends_with('"')) {
      return Fail(Error::BadRequest("Missing citation-mark at end of string"));
    }
    return bj::value(bj::string(text.substr(1, text.size() - 2)));
  }
  for (std::string_view t : {"true", "True", "TRUE"}) {
    if (text == t) return bj::value(true);
  }
  for (std::string_view f : {"false", "False", "FALSE"}) {
    if (text == f) return bj::value(false);
  }
  for (std::string_view n : {"null", "Null", "NULL"}) {
    if (text == n) return bj::value(nullptr);
  }
  if (auto number = json::Parse(text); number && number->is_number()) return *number;
  return Fail(Error::BadRequest("attribute value type not recognized"));
}

void PutValue(ContextService& service, RequestContext& ctx, const Respond& respond) {
  const std::string_view type = ctx.Header("Content-Type");
  bj::value value;
  if (type.starts_with("text/plain")) {
    if (ctx.Body().empty()) return ReplyError(ctx, respond, Error::BadRequest("empty payload"));
    auto parsed = ValueFromText(ctx.Body());
    if (!parsed) return ReplyError(ctx, respond, parsed.error());
    value = std::move(*parsed);
  } else {
    // Any JSON value: Orion takes only objects and arrays here, which fails clients such as
    // ngsijs that send a number as JSON (telefonicaid/fiware-orion#2696).
    auto body = JsonBody(ctx);
    if (!body) return ReplyError(ctx, respond, body.error());
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
