#include "api/identity/authorizer.h"

#include <fmt/format.h>

#include "identity/credentials.h"

namespace zc::api::identity {

namespace zi = zc::identity;

http::Identity IdentityOf(const zi::Principal& principal) {
  http::Identity id;
  id.subject = principal.subject;
  id.kind = principal.kind;
  id.department = principal.department;
  id.token_id = principal.token_id;
  id.roles = principal.roles;
  id.permissions = principal.permissions;
  id.tenants.clear();
  id.tenants.reserve(principal.tenants.size());
  for (const auto& g : principal.tenants) id.tenants.push_back({g.tenant, g.path, g.write});
  return id;
}

TokenAuthorizer::TokenAuthorizer(const zi::Directory& directory, RateOptions rates)
    : directory_(directory),
      by_address_(std::make_shared<http::RateLimiter>(rates.per_address, rates.burst_per_address)),
      by_token_(std::make_shared<http::RateLimiter>(rates.per_token, rates.burst_per_token)) {}

std::expected<http::Identity, http::Denial> TokenAuthorizer::operator()(
    const http::RequestContext& ctx, const http::Route& route) const {
  if (auto d = by_address_->Take(ctx.client_ip); !d.allowed) {
    return http::Deny(Error::TooManyRequests("too many requests from this address"),
                      d.retry_after_seconds);
  }
  if (route.permission.empty()) {
    http::Identity anonymous;
    anonymous.tenants.clear();  // public routes grant no data access
    return anonymous;
  }
  auto token = zi::BearerToken(ctx.Header("Authorization"), ctx.Header("X-Auth-Token"));
  if (!token) return http::Deny(token.error());
  if (!token->has_value()) {
    return http::Deny(Error::Unauthorized(
        "authentication required: send Authorization: Bearer <token> or X-Auth-Token"));
  }
  auto principal = directory_.Authenticate(**token, NowMs());
  if (!principal) return http::Deny(principal.error());
  http::Identity identity = IdentityOf(**principal);
  if (auto d = by_token_->Take(identity.token_id); !d.allowed) {
    return http::Deny(Error::TooManyRequests("too many requests with this token"),
                      d.retry_after_seconds, std::move(identity));
  }
  if (route.permission != kAuthenticated && !identity.HasPermission(route.permission)) {
    return http::Deny(
        Error::Forbidden(fmt::format("permission '{}' is required", route.permission)), 0,
        std::move(identity));
  }
  return identity;
}

}  // namespace zc::api::identity
