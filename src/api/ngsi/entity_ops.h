// Handler building blocks shared by the NGSI-v2 entity, attribute and batch routes.
#pragma once

#include <vector>

#include "api/ngsi/common.h"
#include "api/ngsi/query_params.h"
#include "api/ngsi/query_pool.h"
#include "context/service.h"
#include "http/request.h"

namespace zc::api::ngsi {

// Validates the {entityId} and {attrName} route parameters as NGSI names.
Status CheckPathNames(const http::RequestContext& ctx);

// Tenant, service path (one, no '#') and correlator of a write request.
Result<context::WriteContext> WriteContextOf(const http::RequestContext& ctx);

// Applies `ops` and answers `ok_status` (no body) once durable, or the NGSI error.
void ApplyAndReply(context::ContextService& service, const http::RequestContext& ctx,
                   const http::Respond& respond, const context::WriteContext& wctx,
                   std::vector<context::EntityOp> ops, unsigned ok_status = 204);

// Runs a parsed entity query in the request's tenant and read scopes and answers the
// rendered list (with Fiware-Total-Count when counted). A query that has visited
// kInlineQueryVisits candidate entities is given up on the calling (I/O) thread and run
// again, whole, on `pool`: the indexed queries of dashboards and devices stay on the I/O
// thread, and a scan of a large tenant keeps no other connection of it waiting.
inline constexpr size_t kInlineQueryVisits = 4096;
void RunQuery(const context::ContextService& service, QueryPool& pool,
              const http::RequestContext& ctx, const http::Respond& respond, ListRequest req);

using QueryHandler = void (*)(context::ContextService&, QueryPool&, http::RequestContext&,
                              const http::Respond&);

// Adapts a query handler to a route handler bound to `service` and `pool`, after Orion's
// URI parameter checks.
inline http::Handler BindQuery(context::ContextService& service, QueryPool& pool, QueryHandler fn) {
  return [&service, &pool, fn](http::RequestContext& ctx, http::Respond respond) {
    if (auto s = CheckUriParams(ctx); !s) return ReplyError(ctx, respond, s.error());
    fn(service, pool, ctx, respond);
  };
}

// Adapts `fn(service, ctx, respond)` to a route handler bound to `service`, after Orion's
// URI parameter checks.
inline http::Handler BindService(context::ContextService& service,
                                 void (*fn)(context::ContextService&, http::RequestContext&,
                                            const http::Respond&)) {
  return [&service, fn](http::RequestContext& ctx, http::Respond respond) {
    if (auto s = CheckUriParams(ctx); !s) return ReplyError(ctx, respond, s.error());
    fn(service, ctx, respond);
  };
}

// The 503 of a read that `pool` has no room for.
Error QueryPoolFull(const QueryPool& pool);

// As BindService, with `fn` run on `pool` rather than on the I/O thread (or 503 when the
// pool is full). `respond` keeps the request (and so `ctx`) alive until it is called.
inline http::Handler BindOnPool(context::ContextService& service, QueryPool& pool,
                                void (*fn)(context::ContextService&, http::RequestContext&,
                                           const http::Respond&)) {
  return [&service, &pool, fn](http::RequestContext& ctx, http::Respond respond) {
    if (auto s = CheckUriParams(ctx); !s) return ReplyError(ctx, respond, s.error());
    if (!pool.TryPost([&service, &ctx, fn, respond] {
          RunGuarded(ctx, respond, [&] { fn(service, ctx, respond); });
        })) {
      ReplyError(ctx, respond, QueryPoolFull(pool));
    }
  };
}

// The entity named by the route's {entityId} (and ?type=), within the read scopes.
Result<context::EntityPtr> FindEntity(const context::ContextService& service,
                                      const http::RequestContext& ctx);

}  // namespace zc::api::ngsi
