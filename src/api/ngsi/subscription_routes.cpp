// NGSI-v2 subscription routes (see subscription_routes.h). Handlers validate the headers,
// parameters and body completely, then call the manager; writes answer once durable
// (201 with Location, or 204). The subscription's service path is the Fiware-ServicePath
// of its creation: one scope, "/#" (everything) when absent, as in Orion.
#include "api/ngsi/subscription_routes.h"

#include "api/ngsi/common.h"
#include "context/subscription.h"

namespace zc::api::ngsi {
namespace {

using context::SubscriptionManager;
using http::RequestContext;
using http::Respond;
using http::Response;

constexpr std::string_view kBase = "/v2/subscriptions";

// Completes a write: `success` or the error, with the request's correlator.
http::Respond WithCorrelator(const RequestContext& ctx, Respond respond) {
  return [respond = std::move(respond), correlator = Correlator(ctx)](Response res) {
    res.Header("Fiware-Correlator", correlator);
    respond(std::move(res));
  };
}

// The service-path prefixes the caller may read in `tenant`: the subscriptions it may see
// and manage are those whose service path lies within them (SubscriptionManager).
std::vector<std::string> Granted(const RequestContext& ctx, const std::string& tenant) {
  return ctx.identity.PathsFor(tenant, false);
}

void ListSubscriptions(SubscriptionManager& manager, RequestContext& ctx, const Respond& respond) {
  auto tenant = Tenant(ctx);
  if (!tenant) return ReplyError(ctx, respond, tenant.error());
  auto options = Options(ctx, {"count"});
  if (!options) return ReplyError(ctx, respond, options.error());
  auto page = PageParams(ctx);
  if (!page) return ReplyError(ctx, respond, page.error());
  auto result = manager.List(*tenant, Granted(ctx, *tenant), page->offset, page->limit,
                             ctx.max_response_bytes);
  if (!result) return ReplyError(ctx, respond, result.error());
  Response res = Response::Json(200, std::move(result->json));
  if (options->contains("count")) res.Header("Fiware-Total-Count", std::to_string(result->total));
  Reply(ctx, respond, std::move(res));
}

// The subscription's scope: the Fiware-ServicePath header, one item, "/#" when absent,
// narrowed to the caller's grants, so that a subscription only ever notifies what its
// creator may see.
Result<std::string> SubscriptionPath(const RequestContext& ctx) {
  auto requested = context::PathScope::Parse(ctx.Header("Fiware-ServicePath"));
  if (!requested) return Fail(requested.error());
  if (requested->Patterns().size() > 1) {
    return Fail(Error::BadRequest("max one service-path allowed for subscriptions"));
  }
  auto scope = ReadScope(ctx);
  if (!scope) return Fail(scope.error());
  if (scope->Patterns().size() != 1) {
    return Fail(Error::Forbidden(
        "the subscription's service path must lie within one granted service path"));
  }
  return scope->Patterns().front();
}

void CreateSubscription(SubscriptionManager& manager, RequestContext& ctx, const Respond& respond) {
  auto tenant = Tenant(ctx);
  if (!tenant) return ReplyError(ctx, respond, tenant.error());
  auto path = SubscriptionPath(ctx);
  if (!path) return ReplyError(ctx, respond, path.error());
  auto body = JsonBody(ctx);
  if (!body) return ReplyError(ctx, respond, body.error());
  auto spec = context::ParseSubscription(*body);
  if (!spec) return ReplyError(ctx, respond, spec.error());
  manager.Create(*tenant, *path, std::move(*spec),
                 [respond = WithCorrelator(ctx, respond)](Result<std::string> id) {
                   if (!id) return respond(ErrorResponse(id.error()));
                   Response res = Response::Empty(201);
                   res.Header("Location", std::string(kBase) + "/" + *id);
                   respond(std::move(res));
                 });
}

void GetSubscription(SubscriptionManager& manager, RequestContext& ctx, const Respond& respond) {
  auto tenant = Tenant(ctx);
  if (!tenant) return ReplyError(ctx, respond, tenant.error());
  auto sub = manager.Get(*tenant, Granted(ctx, *tenant), std::string(ctx.Param("subscriptionId")));
  if (!sub) return ReplyError(ctx, respond, sub.error());
  Reply(ctx, respond, JsonResponse(200, *sub));
}

void UpdateSubscription(SubscriptionManager& manager, RequestContext& ctx, const Respond& respond) {
  auto tenant = Tenant(ctx);
  if (!tenant) return ReplyError(ctx, respond, tenant.error());
  const std::string id(ctx.Param("subscriptionId"));
  const std::vector<std::string> granted = Granted(ctx, *tenant);
  if (auto found = manager.Get(*tenant, granted, id); !found) {
    return ReplyError(ctx, respond, found.error());  // 404 before body errors, as Orion
  }
  auto body = JsonBody(ctx);
  if (!body) return ReplyError(ctx, respond, body.error());
  manager.Update(*tenant, granted, id, *body, [respond = WithCorrelator(ctx, respond)](Status s) {
    respond(s ? Response::Empty(204) : ErrorResponse(s.error()));
  });
}

void DeleteSubscription(SubscriptionManager& manager, RequestContext& ctx, const Respond& respond) {
  auto tenant = Tenant(ctx);
  if (!tenant) return ReplyError(ctx, respond, tenant.error());
  manager.Delete(*tenant, Granted(ctx, *tenant), std::string(ctx.Param("subscriptionId")),
                 [respond = WithCorrelator(ctx, respond)](Status s) {
                   respond(s ? Response::Empty(204) : ErrorResponse(s.error()));
                 });
}

using Handler = void (*)(SubscriptionManager&, RequestContext&, const Respond&);

http::Handler Bind(SubscriptionManager& manager, Handler handler) {
  return [&manager, handler](RequestContext& ctx, Respond respond) {
    if (auto s = CheckUriParams(ctx); !s) return ReplyError(ctx, respond, s.error());
    handler(manager, ctx, respond);
  };
}

}  // namespace

void RegisterSubscriptionRoutes(http::Router& router, SubscriptionManager& manager) {
  const std::string base(kBase);
  const std::string one = base + "/{subscriptionId}";
  router.Add({http::Verb::get, base, kPermSubscriptionsRead, Bind(manager, ListSubscriptions)});
  router.Add({http::Verb::post, base, kPermSubscriptionsWrite, Bind(manager, CreateSubscription)});
  router.Add({http::Verb::get, one, kPermSubscriptionsRead, Bind(manager, GetSubscription)});
  router.Add({http::Verb::patch, one, kPermSubscriptionsWrite, Bind(manager, UpdateSubscription)});
  router.Add(
      {http::Verb::delete_, one, kPermSubscriptionsWrite, Bind(manager, DeleteSubscription)});
}

}  // namespace zc::api::ngsi
