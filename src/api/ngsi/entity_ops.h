// Handler building blocks shared by the NGSI-v2 entity, attribute and batch routes.
#pragma once

#include <vector>

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

// The entity named by the route's {entityId} (and ?type=), within the read scopes.
Result<context::EntityPtr> FindEntity(const context::ContextService& service,
                                      const http::RequestContext& ctx);

}  // namespace zc::api::ngsi
