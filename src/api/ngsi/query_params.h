// Mapping of NGSI-v2 query parameters (GET /v2/entities) and query bodies
// (POST /v2/op/query) onto context::EntityQuery and context::RenderOptions.
#pragma once

#include <boost/json.hpp>

#include <set>
#include <string>

#include "common/result.h"
#include "context/ngsi_format.h"
#include "context/service.h"
#include "http/request.h"

namespace zc::api::ngsi {

struct ListRequest {
  context::EntityQuery query;
  context::RenderOptions render;
  std::set<std::string> options;
};

// GET /v2/entities parameters: id, idPattern, type, typePattern, q, mq, georel, geometry,
// coords, attrs, metadata, orderBy, limit, offset, options.
Result<ListRequest> ParseListRequest(const http::RequestContext& ctx);

// POST /v2/op/query: body {entities, attrs, expression, metadata} plus URL limit, offset,
// orderBy and options.
Result<ListRequest> ParseQueryBody(const http::RequestContext& ctx,
                                   const boost::json::object& body);

// The representation chosen by options (keyValues, values, unique; default normalized).
context::Representation RepresentationOf(const std::set<std::string>& options);

// attrs/metadata parameters as lists.
context::RenderOptions RenderOptionsOf(const http::RequestContext& ctx,
                                       const std::set<std::string>& options);

}  // namespace zc::api::ngsi
