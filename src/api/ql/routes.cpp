// Wires the QuantumLeap handlers (handlers.h) into the router: thirteen GET routes and two
// DELETE routes under /ql/v2, the public /ql/version and /ql/health, and QuantumLeap's error
// format for everything under /ql (unknown paths, 405s).
#include "api/ql/routes.h"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "api/ql/handlers.h"

namespace zc::api::ql {
namespace {

// The permissions of history reads and of history deletion (identity/roles.h).
constexpr const char* kReadPermission = "context.read";
constexpr const char* kDeletePermission = "history.delete";

using Fn = http::Response (*)(context::ContextStore&, const http::RequestContext&, Shape);

// The response of `read`, on a pool thread. An exception out of it is a bug: it is logged
// and answered 500, as the server answers a handler that throws on an I/O thread, rather
// than leaving the pool's thread, which would end the process.
template <typename Read>
http::Response Guarded(const http::RequestContext& ctx, Read&& read) noexcept {
  try {
    return read();
  } catch (const std::exception& e) {
    spdlog::error("a history read on a pool thread threw: {} (rid={})", e.what(), ctx.request_id);
    return ErrorResponse(Error::Internal("internal error"));
  }
}

// A route whose handler reads the store on the `readers` pool: SQLite reads never block
// an I/O thread. `respond` keeps the request (and so `ctx`) alive until it is called.
struct Binder {
  context::ContextStore& store;
  boost::asio::thread_pool& readers;

  http::Route Get(std::string pattern, Fn fn, Shape shape) const {
    return Make(http::Verb::get, std::move(pattern), kReadPermission, fn, shape);
  }
  // A deletion runs on the pool too: it waits for the store's write lock between steps.
  http::Route Delete(std::string pattern, Fn fn) const {
    return Make(http::Verb::delete_, std::move(pattern), kDeletePermission, fn, Shape::kFull);
  }
  http::Route Make(http::Verb verb, std::string pattern, const char* permission, Fn fn,
                   Shape shape) const {
    return {verb, std::move(pattern), permission,
            [store = &store, readers = &readers, fn, shape](http::RequestContext& ctx,
                                                            http::Respond respond) {
              boost::asio::post(*readers, [store, &ctx, fn, shape, respond = std::move(respond)] {
                respond(Guarded(ctx, [&] { return fn(*store, ctx, shape); }));
              });
            }};
  }
};

}  // namespace

void RegisterRoutes(http::Router& router, context::ContextStore& store,
                    boost::asio::thread_pool& readers) {
  const Binder b{store, readers};
  router.Add(b.Get("/ql/v2/entities", &ListEntities, Shape::kFull));
  router.Add(b.Get("/ql/v2/entities/{entityId}", &GetEntity, Shape::kFull));
  router.Add(b.Delete("/ql/v2/entities/{entityId}", &DeleteEntity));
  router.Add(b.Get("/ql/v2/entities/{entityId}/value", &GetEntity, Shape::kValues));
  router.Add(b.Get("/ql/v2/entities/{entityId}/attrs/{attrName}", &GetEntityAttr, Shape::kFull));
  router.Add(
      b.Get("/ql/v2/entities/{entityId}/attrs/{attrName}/value", &GetEntityAttr, Shape::kValues));
  router.Add(b.Get("/ql/v2/types/{entityType}", &GetType, Shape::kFull));
  router.Add(b.Delete("/ql/v2/types/{entityType}", &DeleteType));
  router.Add(b.Get("/ql/v2/types/{entityType}/value", &GetType, Shape::kValues));
  router.Add(b.Get("/ql/v2/types/{entityType}/attrs/{attrName}", &GetTypeAttr, Shape::kFull));
  router.Add(
      b.Get("/ql/v2/types/{entityType}/attrs/{attrName}/value", &GetTypeAttr, Shape::kValues));
  router.Add(b.Get("/ql/v2/attrs", &GetAttrs, Shape::kFull));
  router.Add(b.Get("/ql/v2/attrs/value", &GetAttrs, Shape::kValues));
  router.Add(b.Get("/ql/v2/attrs/{attrName}", &GetAttr, Shape::kFull));
  router.Add(b.Get("/ql/v2/attrs/{attrName}/value", &GetAttr, Shape::kValues));
  // QuantumLeap's meta endpoints, public as QuantumLeap's are: a client given http://HOST/ql
  // as QuantumLeap's address (ngsi-go's `ngsi version` and `ngsi health`) finds them here.
  router.Add(
      {http::Verb::get, "/ql/version", "", [](http::RequestContext&, const http::Respond& respond) {
         respond(http::Response::Json(
             200, std::string(R"({"version":"0.8.3","zhicheng":")") + ZHICHENG_VERSION + R"("})"));
       }});
  router.Add(
      {http::Verb::get, "/ql/health", "", [](http::RequestContext&, const http::Respond& respond) {
         respond(http::Response::Json(200, R"({"status":"pass"})"));
       }});
  router.SetErrorFormatter(
      "/ql", [](const Error& e, const http::RequestContext*) { return ErrorResponse(e); });
}

}  // namespace zc::api::ql
