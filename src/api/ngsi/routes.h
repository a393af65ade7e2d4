// NGSI-v2 under /v2: registration of every route on the router. Each route declares the
// permission it needs ("context.read", "context.write", "subscriptions.read",
// "subscriptions.write"), enforced by the server's authorizer.
#pragma once

#include "api/ngsi/query_pool.h"
#include "context/service.h"
#include "http/router.h"

namespace zc::api::ngsi {

inline constexpr const char* kPermRead = "context.read";
inline constexpr const char* kPermWrite = "context.write";

// Entities, attributes, types and batch operations. The reads that may visit every entity
// of a tenant (the entity list, op/query, the types) run on `queries`, so that the other
// connections of an I/O thread never wait for one. `service` must outlive the router, and
// `queries` must be joined after the server has stopped and before the service goes.
void RegisterEntityRoutes(http::Router& router, context::ContextService& service,
                          QueryPool& queries);

}  // namespace zc::api::ngsi
