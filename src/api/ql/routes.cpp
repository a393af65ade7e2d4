// Wires the QuantumLeap handlers (handlers.h) into the router: six GET routes under /ql/v2
// and QuantumLeap's error format for everything under /ql (unknown paths, 405s).
#include "api/ql/routes.h"

#include "api/ql/handlers.h"

namespace zc::api::ql {
namespace {

// The permission every history read needs.
constexpr const char* kPermission = "context.read";

using Fn = http::Response (*)(context::ContextStore&, const http::RequestContext&, Shape);

http::Route Get(std::string pattern, context::ContextStore& store, Fn fn, Shape shape) {
  return {http::Verb::get, std::move(pattern), kPermission,
          [&store, fn, shape](http::RequestContext& ctx, http::Respond respond) {
            respond(fn(store, ctx, shape));
          }};
}

}  // namespace

void RegisterRoutes(http::Router& router, context::ContextStore& store) {
  router.Add(Get("/ql/v2/entities/{entityId}", store, &GetEntity, Shape::kFull));
  router.Add(Get("/ql/v2/entities/{entityId}/value", store, &GetEntity, Shape::kValues));
  router.Add(
      Get("/ql/v2/entities/{entityId}/attrs/{attrName}", store, &GetEntityAttr, Shape::kFull));
  router.Add(Get("/ql/v2/entities/{entityId}/attrs/{attrName}/value", store, &GetEntityAttr,
                 Shape::kValues));
  router.Add(Get("/ql/v2/types/{entityType}/attrs/{attrName}", store, &GetTypeAttr, Shape::kFull));
  router.Add(
      Get("/ql/v2/types/{entityType}/attrs/{attrName}/value", store, &GetTypeAttr, Shape::kValues));
  router.SetErrorFormatter(
      "/ql", [](const Error& e, const http::RequestContext*) { return ErrorResponse(e); });
}

}  // namespace zc::api::ql
