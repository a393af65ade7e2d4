// The OAuth2 token endpoint (RFC 6749): POST /oauth/token with the `password` and
// `client_credentials` grants, form-encoded; client authentication by HTTP Basic or by
// client_id/client_secret in the body. POST /oauth/revoke (RFC 7009). Every attempt is
// audited as "login" (success or failure); revocations as "token.revoke".
//
// `scope` narrows the token: space-separated role names and tenant grants written
// `ngsi:<tenant>:<path>:r` or `ngsi:<tenant>:<path>:rw` (tenant may be empty).
#include <fmt/format.h>

#include <map>

#include "api/identity/handler_util.h"
#include "identity/codec.h"
#include "identity/credentials.h"

namespace zc::api::identity {
namespace {

namespace zi = zc::identity;

http::Response OAuthError(unsigned status, std::string_view error, std::string_view description) {
  http::Response r =
      JsonReply(status, bj::object{{"error", error}, {"error_description", description}});
  r.Header("Cache-Control", "no-store").Header("Pragma", "no-cache");
  if (status == 401) r.Header("WWW-Authenticate", R"(Basic realm="zhicheng")");
  return r;
}

Result<zi::TokenRequest> ParseScope(std::string_view scope) {
  zi::TokenRequest request;
  while (!scope.empty()) {
    const size_t space = scope.find(' ');
    const std::string_view item = scope.substr(0, space);
    scope = space == std::string_view::npos ? std::string_view{} : scope.substr(space + 1);
    if (item.empty()) continue;
    if (!item.starts_with("ngsi:")) {
      request.roles.emplace_back(item);
      continue;
    }
    auto grant = zi::ParseGrantSpec(item.substr(5));  // ngsi:<tenant>:<path>:<r|rw>
    if (!grant) {
      return Fail(
          Error::BadRequest(fmt::format("scope item '{}' is not ngsi:tenant:path:r|rw", item)));
    }
    request.tenants.push_back(std::move(*grant));
  }
  return request;
}

std::string ScopeText(const zi::TokenRecord& t) {
  std::string out;
  for (const auto& role : t.roles) out += (out.empty() ? "" : " ") + role;
  for (const auto& g : t.tenants) {
    out += fmt::format("{}ngsi:{}:{}:{}", out.empty() ? "" : " ", g.tenant, g.path,
                       g.write ? "rw" : "r");
  }
  return out;
}

http::Response TokenReply(const zi::IssuedToken& issued, TimeMs now) {
  bj::object o{{"access_token", issued.token}, {"token_type", "Bearer"}};
  if (issued.record.expires != 0) o["expires_in"] = (issued.record.expires - now) / 1000;
  if (auto scope = ScopeText(issued.record); !scope.empty()) o["scope"] = scope;
  http::Response r = JsonReply(200, o);
  r.Header("Cache-Control", "no-store").Header("Pragma", "no-cache");
  return r;
}

http::Response GrantError(const Error& e) {
  switch (e.code) {
    case ErrorCode::kUnauthorized:
    case ErrorCode::kForbidden:
    case ErrorCode::kNotFound:
      return OAuthError(400, "invalid_grant", e.message);
    case ErrorCode::kBadRequest:
      return OAuthError(400, "invalid_scope", e.message);
    default:
      return OAuthError(500, "server_error", "the token could not be issued");
  }
}

using Form = std::map<std::string, std::string>;

http::Response PasswordGrant(IdentityApi& api, const http::RequestContext& ctx, const Form& form,
                             const zi::TokenRequest& request) {
  auto user = form.find("username");
  auto password = form.find("password");
  if (user == form.end() || password == form.end()) {
    return OAuthError(400, "invalid_request", "username and password are required");
  }
  const TimeMs now = NowMs();
  auto issued = api.directory.PasswordGrant(user->second, password->second, request, now);
  auto entry = AuditOf(ctx, "login", user->second, issued ? "success" : "failure", "password");
  entry.actor = user->second;
  entry.actor_kind = "user";
  if (!issued) entry.detail += ": " + issued.error().message;
  api.audit.Record(std::move(entry));
  if (!issued) return GrantError(issued.error());
  return TokenReply(*issued, now);
}

http::Response ClientGrant(IdentityApi& api, const http::RequestContext& ctx, const Form& form,
                           const zi::TokenRequest& request) {
  std::string id, secret;
  if (!ctx.Header("Authorization").empty()) {
    auto basic = zi::ParseBasic(ctx.Header("Authorization"));
    if (!basic) return OAuthError(401, "invalid_client", basic.error().message);
    id = basic->id;
    secret = basic->secret;
  } else if (form.contains("client_id") && form.contains("client_secret")) {
    id = form.at("client_id");
    secret = form.at("client_secret");
  } else {
    return OAuthError(401, "invalid_client", "client authentication is required");
  }
  const TimeMs now = NowMs();
  auto issued = api.directory.ClientCredentialsGrant(id, secret, request, now);
  auto entry = AuditOf(ctx, "login", id, issued ? "success" : "failure", "client_credentials");
  entry.actor = id;
  entry.actor_kind = "service";
  if (!issued) entry.detail += ": " + issued.error().message;
  api.audit.Record(std::move(entry));
  if (!issued && issued.error().code == ErrorCode::kUnauthorized) {
    return OAuthError(401, "invalid_client", issued.error().message);
  }
  if (!issued) return GrantError(issued.error());
  return TokenReply(*issued, now);
}

Result<Form> FormBody(const http::RequestContext& ctx) {
  if (!ctx.Header("Content-Type").starts_with("application/x-www-form-urlencoded")) {
    return Fail(Error::BadRequest("Content-Type must be application/x-www-form-urlencoded"));
  }
  auto pairs = zi::ParseForm(ctx.Body());
  if (!pairs) return Fail(pairs.error());
  Form form;
  for (auto& [k, v] : *pairs) {
    if (form.contains(k)) return Fail(Error::BadRequest("parameter '" + k + "' is repeated"));
    form.emplace(std::move(k), std::move(v));
  }
  return form;
}

http::Response Token(IdentityApi& api, const http::RequestContext& ctx) {
  auto form = FormBody(ctx);
  if (!form) return OAuthError(400, "invalid_request", form.error().message);
  auto request = ParseScope(form->contains("scope") ? form->at("scope") : "");
  if (!request) return OAuthError(400, "invalid_scope", request.error().message);
  const std::string grant = form->contains("grant_type") ? form->at("grant_type") : "";
  if (grant == "password") return PasswordGrant(api, ctx, *form, *request);
  if (grant == "client_credentials") return ClientGrant(api, ctx, *form, *request);
  if (grant.empty()) return OAuthError(400, "invalid_request", "grant_type is required");
  return OAuthError(400, "unsupported_grant_type", "supported: password, client_credentials");
}

http::Response Revoke(IdentityApi& api, const http::RequestContext& ctx) {
  auto form = FormBody(ctx);
  if (!form) return OAuthError(400, "invalid_request", form.error().message);
  if (!form->contains("token")) return OAuthError(400, "invalid_request", "token is required");
  if (auto s = api.directory.RevokeTokenText(form->at("token")); !s) {
    return OAuthError(503, "temporarily_unavailable", s.error().message);
  }
  api.audit.Record(AuditOf(ctx, "token.revoke", "token", "success", "RFC 7009"));
  return http::Response::Empty(200);
}

}  // namespace

void RegisterOAuthRoutes(http::Router& router, IdentityApi& api) {
  router.Add({http::Verb::post, "/oauth/token", "",
              [&api](http::RequestContext& ctx, http::Respond respond) {
                OnWorker(api, respond, [&api, &ctx] { return Token(api, ctx); });
              }});
  router.Add({http::Verb::post, "/oauth/revoke", "",
              [&api](http::RequestContext& ctx, http::Respond respond) {
                OnWorker(api, respond, [&api, &ctx] { return Revoke(api, ctx); });
              }});
}

}  // namespace zc::api::identity
