// The admin API, continued: service accounts (with their client secret and API keys),
// tokens (issue, list, revoke), the role table, `me`, and the one-time bootstrap.
#include <fmt/format.h>

#include <filesystem>

#include "api/identity/authorizer.h"
#include "api/identity/handler_util.h"
#include "identity/codec.h"
#include "identity/credentials.h"
#include "identity/roles.h"
#include "identity/secrets.h"

namespace zc::api::identity {

namespace zi = zc::identity;
using http::Response;
using http::Verb;

namespace {

constexpr const char* kAccounts = "/api/identity/service-accounts";
constexpr const char* kTokens = "/api/identity/tokens";

bj::object WithSecret(const zi::ServiceAccountSecret& s) {
  bj::object o = zi::ToJson(s.account, zi::View::kPublic).as_object();
  o["clientSecret"] = s.secret;
  return o;
}

Result<Response> CreateAccount(IdentityApi& api, const http::RequestContext& ctx) {
  auto body =
      ObjectBody(ctx, {"clientId", "name", "department", "kind", "roles", "tenants", "status"});
  if (!body) return Fail(body.error());
  auto account = zi::ServiceAccountFromJson(*body);
  if (!account) return Fail(account.error());
  auto created = api.directory.CreateServiceAccount(*account, NowMs());
  if (!created) return Fail(created.error());
  return Response::Json(201, json::Dump(WithSecret(*created)))
      .Header("Location", fmt::format("{}/{}", kAccounts, created->account.client_id));
}

Result<Response> UpdateAccount(IdentityApi& api, const http::RequestContext& ctx) {
  auto body = ObjectBody(ctx, {"name", "department", "kind", "roles", "tenants", "status"});
  if (!body) return Fail(body.error());
  auto a = api.directory.UpdateServiceAccount(ctx.Param("clientId"), [&](zi::ServiceAccount& a) {
    auto merged = zi::ServiceAccountFromJson(Merge(zi::ToJson(a, zi::View::kStored), *body));
    if (!merged) return Status(Fail(merged.error()));
    a = std::move(*merged);
    return Ok();
  });
  if (!a) return Fail(a.error());
  return JsonReply(200, zi::ToJson(*a, zi::View::kPublic));
}

// POST {subject, roles, tenants, ttlSeconds, apiKey, description}.
Result<Response> IssueToken(IdentityApi& api, const http::RequestContext& ctx, std::string subject,
                            bool api_key) {
  auto body =
      ObjectBody(ctx, {"subject", "roles", "tenants", "ttlSeconds", "apiKey", "description"});
  if (!body) return Fail(body.error());
  auto parsed = zi::TokenFromJson(*body);
  if (!parsed) return Fail(parsed.error());
  zi::TokenRequest request{parsed->roles, parsed->tenants, parsed->description, {}, api_key, {}};
  if (const bj::value* s = body->if_contains("subject"); subject.empty() && s && s->is_string()) {
    subject = std::string(s->get_string());
  }
  if (subject.empty()) return Fail(Error::BadRequest("subject is required"));
  if (const bj::value* k = body->if_contains("apiKey"); k && k->is_bool()) {
    request.api_key = k->get_bool();
  }
  if (const bj::value* t = body->if_contains("ttlSeconds")) {
    if (!t->is_int64() || t->get_int64() <= 0) {
      return Fail(Error::BadRequest("ttlSeconds must be a positive integer"));
    }
    request.ttl = std::chrono::seconds(t->get_int64());
  }
  auto issued = api.directory.IssueToken(subject, request, NowMs());
  if (!issued) return Fail(issued.error());
  bj::object o = zi::ToJson(issued->record, zi::View::kPublic).as_object();
  o["token"] = issued->token;
  return Response::Json(201, json::Dump(o))
      .Header("Location", fmt::format("{}/{}", kTokens, issued->record.id));
}

Result<Response> DeleteAccount(IdentityApi& api, const http::RequestContext& ctx) {
  if (auto s = api.directory.DeleteServiceAccount(ctx.Param("clientId")); !s) {
    return Fail(s.error());
  }
  return Response::Empty(204);
}

Result<Response> RotateSecret(IdentityApi& api, const http::RequestContext& ctx) {
  auto s = api.directory.RotateSecret(ctx.Param("clientId"));
  if (!s) return Fail(s.error());
  return JsonReply(200, WithSecret(*s));
}

Result<Response> IssueApiKey(IdentityApi& api, const http::RequestContext& ctx) {
  return IssueToken(api, ctx, std::string(ctx.Param("clientId")), true);
}

Result<Response> IssueTokenFor(IdentityApi& api, const http::RequestContext& ctx) {
  return IssueToken(api, ctx, "", false);
}

Result<Response> RevokeToken(IdentityApi& api, const http::RequestContext& ctx) {
  if (auto s = api.directory.RevokeToken(ctx.Param("id")); !s) return Fail(s.error());
  return Response::Empty(204);
}

void RegisterAccountReads(http::Router& router, IdentityApi& api) {
  router.Add({Verb::get, kAccounts, zi::perm::kIdentityRead, [&api](auto&, http::Respond r) {
                bj::array a;
                for (const auto& acc : api.directory.ListServiceAccounts()) {
                  a.push_back(zi::ToJson(acc, zi::View::kPublic));
                }
                r(JsonReply(200, a));
              }});
  router.Add({Verb::get, std::string(kAccounts) + "/{clientId}", zi::perm::kIdentityRead,
              [&api](auto& ctx, http::Respond r) {
                auto a = api.directory.GetServiceAccount(ctx.Param("clientId"));
                r(a ? JsonReply(200, zi::ToJson(*a, zi::View::kPublic)) : ErrorReply(a.error()));
              }});
}

}  // namespace

void RegisterServiceAccounts(http::Router& router, IdentityApi& api) {
  RegisterAccountReads(router, api);
  const std::string one = std::string(kAccounts) + "/{clientId}";
  const std::string write = zi::perm::kIdentityWrite;
  router.Add(ChangeRoute(api, Verb::post, kAccounts, write, "account.create", "service-account",
                         CreateAccount));
  router.Add(
      ChangeRoute(api, Verb::patch, one, write, "account.update", "clientId", UpdateAccount));
  router.Add(
      ChangeRoute(api, Verb::delete_, one, write, "account.delete", "clientId", DeleteAccount));
  router.Add(ChangeRoute(api, Verb::post, one + "/secret", write, "account.secret", "clientId",
                         RotateSecret));
  router.Add(ChangeRoute(api, Verb::post, one + "/api-keys", write, "token.issue", "clientId",
                         IssueApiKey));
}

void RegisterTokens(http::Router& router, IdentityApi& api) {
  router.Add({Verb::get, kTokens, zi::perm::kIdentityRead, [&api](auto& ctx, http::Respond r) {
                bj::array a;
                const auto subject = ctx.Query("subject").value_or("");
                for (const auto& t : api.directory.ListTokens(subject)) {
                  a.push_back(zi::ToJson(t, zi::View::kPublic));
                }
                r(JsonReply(200, a));
              }});
  const std::string write = zi::perm::kIdentityWrite;
  router.Add(ChangeRoute(api, Verb::post, kTokens, write, "token.issue", "token", IssueTokenFor));
  router.Add(ChangeRoute(api, Verb::delete_, std::string(kTokens) + "/{id}", write, "token.revoke",
                         "id", RevokeToken));
  router.Add({Verb::get, "/api/identity/roles", kAuthenticated, [](auto&, http::Respond r) {
                bj::array a;
                for (const auto& role : zi::Roles()) {
                  bj::array perms;
                  for (auto p : role.permissions) perms.emplace_back(p);
                  a.push_back(bj::object{{"name", role.name},
                                         {"title", role.title_zh},
                                         {"description", role.description},
                                         {"permissions", std::move(perms)}});
                }
                r(JsonReply(200, a));
              }});
  router.Add({Verb::get, "/api/identity/me", kAuthenticated, [](auto& ctx, http::Respond r) {
                const http::Identity& id = ctx.identity;
                bj::array roles, perms, tenants;
                for (const auto& x : id.roles) roles.emplace_back(x);
                for (const auto& x : id.permissions) perms.emplace_back(x);
                for (const auto& g : id.tenants) {
                  tenants.push_back(zi::ToJson(zi::TenantGrant{g.tenant, g.path, g.write}));
                }
                r(JsonReply(200, bj::object{{"subject", id.subject},
                                            {"kind", id.kind},
                                            {"department", id.department},
                                            {"tokenId", id.token_id},
                                            {"roles", roles},
                                            {"permissions", perms},
                                            {"tenants", tenants}}));
              }});
}

bool BootstrapToken::Consume(std::string_view token) {
  std::lock_guard lock(mu_);
  if (hash_.empty() || !zi::ConstantTimeEquals(zi::Sha256Hex(token), hash_)) return false;
  hash_.clear();
  std::error_code ec;
  std::filesystem::remove(file_, ec);
  return true;
}

namespace {

// POST /api/identity/bootstrap with the bootstrap token as bearer and
// {"login","password","displayName"}: creates the first platform admin, answers a token.
Result<Response> Bootstrap(IdentityApi& api, const http::RequestContext& ctx) {
  auto token = zi::BearerToken(ctx.Header("Authorization"), ctx.Header("X-Auth-Token"));
  if (!token || !token->has_value() || !api.bootstrap || !api.directory.Empty() ||
      !api.bootstrap->Consume(**token)) {
    return Fail(Error::Unauthorized("invalid or used bootstrap token"));
  }
  auto body = ObjectBody(ctx, {"login", "password", "displayName"});
  if (!body) return Fail(body.error());
  auto user = zi::UserFromJson(*body);
  const bj::value* pw = body->if_contains("password");
  if (!user || !pw || !pw->is_string()) {
    return Fail(Error::BadRequest("login, password and displayName are required"));
  }
  user->roles = {"platform_admin"};
  user->tenants = {{"*", "/", true}};
  if (auto s = api.directory.CreateUser(*user, std::string(pw->get_string()), NowMs()); !s) {
    return Fail(s.error());
  }
  auto issued = api.directory.IssueToken(user->login, {}, NowMs());
  if (!issued) return Fail(issued.error());
  return JsonReply(
      201, bj::object{
               {"login", user->login}, {"access_token", issued->token}, {"token_type", "Bearer"}});
}

}  // namespace

void RegisterBootstrap(http::Router& router, IdentityApi& api) {
  router.Add(ChangeRoute(api, Verb::post, "/api/identity/bootstrap", "", "identity.bootstrap",
                         "platform_admin", Bootstrap));
}

}  // namespace zc::api::identity
