// The admin API under /api/identity: departments, users, service accounts, tokens and
// roles; `me` for any authenticated caller; the one-time bootstrap of the first admin.
// Reads need identity.read, changes identity.write. Every change is audited with its
// action ("user.create", "token.issue", ...), target and outcome. Secrets (client secrets,
// API keys, tokens) appear once, in the response that creates them.
#include <fmt/format.h>

#include "api/identity/authorizer.h"
#include "api/identity/handler_util.h"
#include "identity/codec.h"
#include "identity/credentials.h"
#include "identity/roles.h"
#include "identity/secrets.h"

namespace zc::api::identity {
namespace {

namespace zi = zc::identity;
using http::Response;
using http::Verb;

constexpr const char* kBase = "/api/identity";

template <typename T>
bj::array ListJson(const std::vector<T>& items) {
  bj::array a;
  for (const auto& item : items) {
    if constexpr (std::is_same_v<T, zi::Department>) {
      a.push_back(zi::ToJson(item));
    } else {
      a.push_back(zi::ToJson(item, zi::View::kPublic));
    }
  }
  return a;
}

// ---- departments ----

Result<Response> CreateDepartment(IdentityApi& api, const http::RequestContext& ctx) {
  auto body = ObjectBody(ctx, {"code", "name", "parent", "kind"});
  if (!body) return Fail(body.error());
  auto d = zi::DepartmentFromJson(*body);
  if (!d) return Fail(d.error());
  if (auto s = api.directory.CreateDepartment(*d); !s) return Fail(s.error());
  return Response::Json(201, json::Dump(zi::ToJson(*d)))
      .Header("Location", fmt::format("{}/departments/{}", kBase, d->code));
}

Result<Response> UpdateDepartment(IdentityApi& api, const http::RequestContext& ctx) {
  auto body = ObjectBody(ctx, {"name", "parent", "kind"});
  if (!body) return Fail(body.error());
  auto s = api.directory.UpdateDepartment(ctx.Param("code"), [&](zi::Department& d) -> Status {
    auto merged = zi::DepartmentFromJson(Merge(zi::ToJson(d), *body));
    if (!merged) return Fail(merged.error());
    d = std::move(*merged);
    return Ok();
  });
  if (!s) return Fail(s.error());
  return JsonReply(200, zi::ToJson(*api.directory.GetDepartment(ctx.Param("code"))));
}

Result<Response> DeleteDepartment(IdentityApi& api, const http::RequestContext& ctx) {
  if (auto s = api.directory.DeleteDepartment(ctx.Param("code")); !s) return Fail(s.error());
  return Response::Empty(204);
}

void RegisterDepartments(http::Router& router, IdentityApi& api) {
  const std::string base = std::string(kBase) + "/departments";
  const std::string one = base + "/{code}";
  const std::string write = zi::perm::kIdentityWrite;
  router.Add({Verb::get, base, zi::perm::kIdentityRead, [&api](auto&, http::Respond respond) {
                respond(JsonReply(200, ListJson(api.directory.ListDepartments())));
              }});
  router.Add({Verb::get, one, zi::perm::kIdentityRead, [&api](auto& ctx, http::Respond respond) {
                auto d = api.directory.GetDepartment(ctx.Param("code"));
                respond(d ? JsonReply(200, zi::ToJson(*d)) : ErrorReply(d.error()));
              }});
  router.Add(ChangeRoute(api, Verb::post, base, write, "department.create", "department",
                         CreateDepartment));
  router.Add(
      ChangeRoute(api, Verb::patch, one, write, "department.update", "code", UpdateDepartment));
  router.Add(
      ChangeRoute(api, Verb::delete_, one, write, "department.delete", "code", DeleteDepartment));
}

// ---- users ----

Result<Response> CreateUser(IdentityApi& api, const http::RequestContext& ctx) {
  auto body = ObjectBody(
      ctx, {"login", "displayName", "department", "roles", "tenants", "status", "password"});
  if (!body) return Fail(body.error());
  const bj::value* password = body->if_contains("password");
  if (!password || !password->is_string()) {
    return Fail(Error::BadRequest("password (a string) is required"));
  }
  const std::string pw(password->get_string());
  body->erase("password");
  auto user = zi::UserFromJson(*body);
  if (!user) return Fail(user.error());
  if (auto s = api.directory.CreateUser(*user, pw, NowMs()); !s) return Fail(s.error());
  return Response::Json(
             201, json::Dump(zi::ToJson(*api.directory.GetUser(user->login), zi::View::kPublic)))
      .Header("Location", fmt::format("{}/users/{}", kBase, user->login));
}

Result<Response> UpdateUser(IdentityApi& api, const http::RequestContext& ctx) {
  auto body =
      ObjectBody(ctx, {"displayName", "department", "roles", "tenants", "status", "unlock"});
  if (!body) return Fail(body.error());
  const bool unlock = body->contains("unlock") && body->at("unlock") == true;
  body->erase("unlock");
  auto user = api.directory.UpdateUser(ctx.Param("login"), [&](zi::User& u) -> Status {
    auto merged = zi::UserFromJson(Merge(zi::ToJson(u, zi::View::kStored), *body));
    if (!merged) return Fail(merged.error());
    u = std::move(*merged);
    if (unlock) u.locked_until = 0;
    return Ok();
  });
  if (!user) return Fail(user.error());
  return JsonReply(200, zi::ToJson(*user, zi::View::kPublic));
}

Result<Response> SetPassword(IdentityApi& api, const http::RequestContext& ctx) {
  auto body = ObjectBody(ctx, {"password"});
  if (!body) return Fail(body.error());
  const bj::value* pw = body->if_contains("password");
  if (!pw || !pw->is_string()) return Fail(Error::BadRequest("password (a string) is required"));
  if (auto s = api.directory.SetPassword(ctx.Param("login"), std::string(pw->get_string())); !s) {
    return Fail(s.error());
  }
  return Response::Empty(204);
}

Result<Response> DeleteUser(IdentityApi& api, const http::RequestContext& ctx) {
  if (auto s = api.directory.DeleteUser(ctx.Param("login")); !s) return Fail(s.error());
  return Response::Empty(204);
}

void RegisterUsers(http::Router& router, IdentityApi& api) {
  const std::string base = std::string(kBase) + "/users";
  const std::string one = base + "/{login}";
  const std::string write = zi::perm::kIdentityWrite;
  router.Add({Verb::get, base, zi::perm::kIdentityRead, [&api](auto&, http::Respond respond) {
                respond(JsonReply(200, ListJson(api.directory.ListUsers())));
              }});
  router.Add({Verb::get, one, zi::perm::kIdentityRead, [&api](auto& ctx, http::Respond respond) {
                auto u = api.directory.GetUser(ctx.Param("login"));
                respond(u ? JsonReply(200, zi::ToJson(*u, zi::View::kPublic))
                          : ErrorReply(u.error()));
              }});
  router.Add(ChangeRoute(api, Verb::post, base, write, "user.create", "user", CreateUser));
  router.Add(ChangeRoute(api, Verb::patch, one, write, "user.update", "login", UpdateUser));
  router.Add(
      ChangeRoute(api, Verb::put, one + "/password", write, "user.password", "login", SetPassword));
  router.Add(ChangeRoute(api, Verb::delete_, one, write, "user.delete", "login", DeleteUser));
}

}  // namespace

void RegisterServiceAccounts(http::Router& router, IdentityApi& api);  // accounts_routes.cpp
void RegisterTokens(http::Router& router, IdentityApi& api);           // accounts_routes.cpp
void RegisterBootstrap(http::Router& router, IdentityApi& api);        // accounts_routes.cpp

void RegisterIdentityRoutes(http::Router& router, IdentityApi& api) {
  RegisterDepartments(router, api);
  RegisterUsers(router, api);
  RegisterServiceAccounts(router, api);
  RegisterTokens(router, api);
  RegisterBootstrap(router, api);
}

}  // namespace zc::api::identity
