// Operations endpoints: /healthz (the process answers), /readyz (ready to serve),
// /metrics (Prometheus text) and /version. Public: they reveal no data.
#pragma once

#include "common/metrics.h"
#include "http/router.h"

namespace zc::app {

void RegisterOpsRoutes(http::Router& router, metrics::Registry& metrics);

}  // namespace zc::app
