// The QuantumLeap-compatible history read API under /ql/v2 (docs/api/quantumleap.md).
#pragma once

#include <boost/asio/thread_pool.hpp>

#include "context/store.h"
#include "http/router.h"

namespace zc::api::ql {

// Adds the /ql/v2 routes and the QuantumLeap error formatter for /ql to `router`. Handlers
// run their store query on `readers`, never on an I/O thread; each query is bounded by
// `limit` (at most 10000 points, buckets or instants). The store must outlive the router,
// and `readers` must be joined after the server has stopped and before the store goes.
void RegisterRoutes(http::Router& router, context::ContextStore& store,
                    boost::asio::thread_pool& readers);

}  // namespace zc::api::ql
