// Building blocks of the identity and audit handlers (private to api/identity).
#pragma once

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <functional>
#include <initializer_list>
#include <string_view>

#include "api/identity/routes.h"
#include "common/json.h"
#include "http/request.h"

namespace zc::api::identity {

namespace bj = boost::json;

inline http::Response JsonReply(unsigned status, const bj::value& v) {
  return http::Response::Json(status, json::Dump(v));
}

// {"error": "NotFound", "description": "..."} with the status of the error code; a create
// of something that exists is 409 Conflict here (NGSI keeps Orion's 422).
inline http::Response ErrorReply(const Error& e) {
  if (e.code == ErrorCode::kAlreadyExists) {
    return JsonReply(409, bj::object{{"error", "Conflict"}, {"description", e.message}});
  }
  return JsonReply(http::StatusFor(e.code),
                   bj::object{{"error", http::ErrorName(e.code)}, {"description", e.message}});
}

// Runs `work` on the worker pool and responds with its result.
inline void OnWorker(IdentityApi& api, const http::Respond& respond,
                     std::function<http::Response()> work) {
  boost::asio::post(api.workers, [respond, work = std::move(work)] {
    http::Response response;
    try {
      response = work();
    } catch (const std::exception& e) {  // a bug: answered, not the end of the process
      spdlog::error("identity work on a pool thread threw: {}", e.what());
      response = ErrorReply(Error::Internal("internal error"));
    }
    respond(std::move(response));
  });
}

// An audit entry about the caller of `ctx`.
zc::identity::AuditEntry AuditOf(const http::RequestContext& ctx, std::string action,
                                 std::string target, std::string outcome, std::string detail = {});

// Runs a change on the worker pool, audits it (action, target, outcome), and answers its
// response or the error.
inline void Change(IdentityApi& api, http::RequestContext& ctx, const http::Respond& respond,
                   std::string action, std::string target,
                   std::function<Result<http::Response>()> change) {
  OnWorker(api, respond,
           [&api, &ctx, action = std::move(action), target = std::move(target),
            change = std::move(change)] {
             auto result = change();
             api.audit.Record(AuditOf(ctx, action, target, result ? "success" : "failure",
                                      result ? "" : result.error().message));
             return result ? std::move(*result) : ErrorReply(result.error());
           });
}

inline zc::identity::AuditEntry AuditOf(const http::RequestContext& ctx, std::string action,
                                        std::string target, std::string outcome,
                                        std::string detail) {
  zc::identity::AuditEntry e;
  e.actor = ctx.identity.subject;
  e.actor_kind = ctx.identity.kind;
  e.department = ctx.identity.department;
  e.client_address = ctx.client_address;
  e.action = std::move(action);
  e.target = std::move(target);
  e.outcome = std::move(outcome);
  e.request_id = ctx.request_id;
  e.detail = std::move(detail);
  return e;
}

// A change handler: runs on the worker pool, answers a response or an expected error.
using ChangeFn = Result<http::Response> (*)(IdentityApi&, const http::RequestContext&);

// A route (needing `permission`) whose handler runs `fn` as a Change audited as `action`,
// on the target named by the route parameter `target_param`, or on the literal
// `target_param` when the pattern has no such parameter (e.g. "user" for a create).
inline http::Route ChangeRoute(IdentityApi& api, http::Verb verb, std::string pattern,
                               std::string permission, std::string action, std::string target_param,
                               ChangeFn fn) {
  const bool is_param = pattern.find("{" + target_param + "}") != std::string::npos;
  return {verb, std::move(pattern), std::move(permission),
          [&api, action = std::move(action), target_param = std::move(target_param), is_param, fn](
              http::RequestContext& ctx, http::Respond respond) {
            std::string target = is_param ? std::string(ctx.Param(target_param)) : target_param;
            Change(api, ctx, respond, action, std::move(target),
                   [&api, &ctx, fn] { return fn(api, ctx); });
          }};
}

// The request body as a JSON object whose keys are all in `allowed`.
inline Result<bj::object> ObjectBody(const http::RequestContext& ctx,
                                     std::initializer_list<std::string_view> allowed) {
  if (!ctx.Header("Content-Type").starts_with("application/json")) {
    return Fail(Error::UnsupportedMedia("Content-Type must be application/json"));
  }
  auto v = json::Parse(ctx.Body());
  if (!v) return Fail(v.error());
  if (!v->is_object()) return Fail(Error::BadRequest("the body must be a JSON object"));
  for (const auto& [key, value] : v->get_object()) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(key)) == allowed.end()) {
      return Fail(Error::BadRequest("unknown field '" + std::string(key) + "'"));
    }
  }
  return std::move(v->get_object());
}

// `base` with the fields of `patch` replaced.
inline bj::value Merge(bj::value base, const bj::object& patch) {
  for (const auto& [key, value] : patch) base.as_object()[key] = value;
  return base;
}

}  // namespace zc::api::identity
