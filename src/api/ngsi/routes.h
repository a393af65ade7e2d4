// NGSI-v2 under /v2: registration of every route on the router. Each route declares the
// permission it needs ("context.read", "context.write", "subscriptions.read",
// "subscriptions.write"), enforced by the server's authorizer.
#pragma once

#include "context/service.h"
#include "http/router.h"

namespace zc::api::ngsi {

inline constexpr const char* kPermRead = "context.read";
inline constexpr const char* kPermWrite = "context.write";

// Entities, attributes, types and batch operations. `service` must outlive the router.
void RegisterEntityRoutes(http::Router& router, context::ContextService& service);

}  // namespace zc::api::ngsi
