// Credentials as they arrive in request headers: `Authorization: Bearer <token>`,
// FIWARE's `X-Auth-Token: <token>`, and `Authorization: Basic <base64(id:secret)>` (client
// authentication at the token endpoint, RFC 6749 §2.3.1). Pure functions: no lookup, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace zc::identity {

// The longest token or secret we accept; anything longer is refused before any lookup.
inline constexpr size_t kMaxCredentialBytes = 512;

struct BasicCredential {
  std::string id;
  std::string secret;
};

// The bearer token of a request, from `Authorization: Bearer` or `X-Auth-Token` (either
// header may be empty when absent). nullopt when neither is present; Unauthorized when a
// header is malformed, the scheme is not Bearer, or the two headers name different tokens.
Result<std::optional<std::string>> BearerToken(std::string_view authorization,
                                               std::string_view x_auth_token);

// `Basic base64(id:secret)` with the id and secret form-urlencoded as RFC 6749 asks.
// Unauthorized when malformed.
Result<BasicCredential> ParseBasic(std::string_view authorization);

// An application/x-www-form-urlencoded body as (name, value) pairs in order ('+' is a
// space). BadRequest when an escape is malformed.
Result<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view body);

// True when `token` only has characters of RFC 6750's b64token and fits the limit.
bool IsWellFormedToken(std::string_view token);

}  // namespace zc::identity
