// The /ql/v2 request handlers as pure functions from a request to a response, so that tests
// call them without a server. routes.cpp adapts them to http::Handler.
#pragma once

#include <string_view>

#include "common/result.h"
#include "context/store.h"
#include "http/request.h"

namespace zc::api::ql {

// kFull: QuantumLeap's full document; kValues: the `/value` variant without the
// identifying fields (entityId, entityType, attrName).
enum class Shape { kFull, kValues };

// GET /ql/v2/entities: the entities with history, each with its latest time (`shape` is
// unused: QuantumLeap has no /value variant of the listing).
http::Response ListEntities(context::ContextStore& store, const http::RequestContext& ctx,
                            Shape shape);
// GET /ql/v2/entities/{entityId}[/value]: every attribute of one entity.
http::Response GetEntity(context::ContextStore& store, const http::RequestContext& ctx,
                         Shape shape);
// GET /ql/v2/entities/{entityId}/attrs/{attrName}[/value].
http::Response GetEntityAttr(context::ContextStore& store, const http::RequestContext& ctx,
                             Shape shape);
// GET /ql/v2/types/{entityType}[/value]: every attribute of the entities of a type.
http::Response GetType(context::ContextStore& store, const http::RequestContext& ctx, Shape shape);
// GET /ql/v2/types/{entityType}/attrs/{attrName}[/value]: one attribute of many entities.
http::Response GetTypeAttr(context::ContextStore& store, const http::RequestContext& ctx,
                           Shape shape);

// GET /ql/v2/attrs/{attrName}[/value]: one attribute of entities of every type, by type.
http::Response GetAttr(context::ContextStore& store, const http::RequestContext& ctx, Shape shape);
// GET /ql/v2/attrs[/value]: every attribute (or those of `attrs`), by attribute, then type.
http::Response GetAttrs(context::ContextStore& store, const http::RequestContext& ctx, Shape shape);

// DELETE /ql/v2/entities/{entityId}: the history of one entity (`type`, `fromDate`,
// `toDate`); 204, or 404 when nothing matched, 409 when the id has history under several
// types and `type` is not given. The entity under /v2 stays. `shape` is unused.
http::Response DeleteEntity(context::ContextStore& store, const http::RequestContext& ctx,
                            Shape shape);
// DELETE /ql/v2/types/{entityType}: the history of every entity of a type (`fromDate`,
// `toDate`; `dropTable=true` for all of it, whatever the dates).
http::Response DeleteType(context::ContextStore& store, const http::RequestContext& ctx,
                          Shape shape);

// An error in QuantumLeap's format {"error": "...", "description": "..."}.
http::Response ErrorResponse(const Error& error);
// QuantumLeap's AmbiguousNGSIIdError: `id` has history under several types and the request
// gave no `type`.
Error AmbiguousId(std::string_view id);
// QuantumLeap's 404 for a query that matches nothing.
http::Response NoRecords();

}  // namespace zc::api::ql
