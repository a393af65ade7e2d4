// The server's authorizer: who is calling (a bearer token from `Authorization: Bearer` or
// FIWARE's `X-Auth-Token`), may they call this route (its named permission), and are they
// within their rate (token buckets per client address and per token). Runs on I/O threads
// for every request, so it only does a SHA-256, a shared-lock lookup of a cached
// principal and two bucket takes.
//
// Routes with the permission "" are public; kAuthenticated means "any valid token".
// Unauthenticated: 401; missing permission: 403; over the rate: 429 with Retry-After. The
// target of the request is never looked at, so no answer reveals whether it exists.
#pragma once

#include <memory>

#include "http/rate_limiter.h"
#include "http/server.h"
#include "identity/directory.h"

namespace zc::api::identity {

// The pseudo-permission of routes that any authenticated caller may use.
inline constexpr const char* kAuthenticated = "authenticated";

struct RateOptions {
  double per_token = 1000;  // requests/s; 0: unlimited
  double burst_per_token = 2000;
  double per_address = 2000;
  double burst_per_address = 4000;
};

// The identity of a principal, as the HTTP layer carries it.
http::Identity IdentityOf(const zc::identity::Principal& principal);

class TokenAuthorizer {
 public:
  TokenAuthorizer(const zc::identity::Directory& directory, RateOptions rates);

  std::expected<http::Identity, http::Denial> operator()(const http::RequestContext& ctx,
                                                         const http::Route& route) const;

 private:
  const zc::identity::Directory& directory_;
  std::shared_ptr<http::RateLimiter> by_address_;
  std::shared_ptr<http::RateLimiter> by_token_;
};

}  // namespace zc::api::identity
