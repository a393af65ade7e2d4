// Handler building blocks shared by the NGSI-v2 entity, attribute and batch routes.
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <vector>

#include "api/ngsi/common.h"
#include "api/ngsi/query_params.h"
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
void RunQuery(const context::ContextService& service, boost::asio::thread_pool& pool,
              const http::RequestContext& ctx, const http::Respond& respond, ListRequest req);

using QueryHandler = void (*)(context::ContextService&, boost::asio::thread_pool&,
                              http::RequestContext&, const http::Respond&);

// Adapts a query handler to a route handler bound to `service` and `pool`, after Orion's
// URI parameter checks.
inline http::Handler BindQuery(context::ContextService& service, boost::asio::thread_pool& pool,
                               QueryHandler fn) {
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

// As BindService, with `fn` run on `pool` rather than on the I/O thread. `respond` keeps
// the request (and so `ctx`) alive until it is called.
inline http::Handler BindOnPool(context::ContextService& service, boost::asio::thread_pool& pool,
                                void (*fn)(context::ContextService&, http::RequestContext&,
                                           const http::Respond&)) {
  return [&service, &pool, fn](http::RequestContext& ctx, http::Respond respond) {
    if (auto s = CheckUriParams(ctx); !s) return ReplyError(ctx, respond, s.error());
    boost::asio::post(
        pool, [&service, &ctx, fn, respond = std::move(respond)] { fn(service, ctx, respond); });
  };
}

// The entity named by the route's {entityId} (and ?type=), within the read scopes.
Result<context::EntityPtr> FindEntity(const context::ContextService& service,
                                      const http::RequestContext& ctx);

}  // namespace zc::api::ngsi
