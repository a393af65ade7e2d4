// The QuantumLeap-compatible history read API under /ql/v2 (docs/api/quantumleap.md).
#pragma once

#include "context/store.h"
#include "http/router.h"

namespace zc::api::ql {

// Adds the /ql/v2 routes and the QuantumLeap error formatter for /ql to `router`. The store
// must outlive the router. Handlers read synchronously on the calling (I/O) thread; each
// query is bounded by `limit` (at most 10000 points, buckets or instants).
void RegisterRoutes(http::Router& router, context::ContextStore& store);

}  // namespace zc::api::ql
