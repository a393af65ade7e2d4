// libFuzzer target for what the server reads out of a request line and headers before any
// handler runs: the credentials of identity/credentials.h (`Authorization: Bearer`,
// `X-Auth-Token`, `Authorization: Basic`) and the request-target decoding of
// http/target_impl.h (DecodeTarget).
//
// Input: up to three lines separated by '\n':
//   1 the Authorization header value   2 the X-Auth-Token value   3 the request target
// The whole input is also tried as one Authorization value and as one target. Properties
// (abort() with a message when one breaks):
// - a token BearerToken returns is well-formed (IsWellFormedToken);
// - ParseBasic inverts the client's encoding: re-encoding the id and secret it returns
//   (form-urlencoded, joined by ':', base64) and parsing again gives the same pair;
// - DecodeTarget inverts percent-encoding: re-encoding the path and every query name and
//   value and decoding again gives the same result.
#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/target_impl.h"
#include "identity/credentials.h"

namespace {

[[noreturn]] void Fail(const char* what, std::string_view first, std::string_view second = {}) {
  std::fprintf(stderr, "fuzz_http_headers: %s\n  first:  %.*s\n  second: %.*s\n", what,
               static_cast<int>(first.size()), first.data(), static_cast<int>(second.size()),
               second.data());
  std::abort();
}

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Percent-encodes every byte except the RFC 3986 unreserved ones (and `keep`).
std::string PercentEncode(std::string_view s, char keep = '\0') {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (Unreserved(c) || (keep != '\0' && ch == keep)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

void CheckBearer(std::string_view authorization, std::string_view x_auth_token) {
  (void)zc::identity::IsWellFormedToken(authorization);
  (void)zc::identity::IsWellFormedToken(x_auth_token);
  auto token = zc::identity::BearerToken(authorization, x_auth_token);
  if (token && *token && !zc::identity::IsWellFormedToken(**token)) {
    Fail("BearerToken returned a malformed token", authorization, x_auth_token);
  }
}

void CheckBasic(std::string_view authorization) {
  auto cred = zc::identity::ParseBasic(authorization);
  if (!cred) return;
  const std::string plain = PercentEncode(cred->id) + ":" + PercentEncode(cred->secret);
  std::string b64(sodium_base64_ENCODED_LEN(plain.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(plain.data()),
                    plain.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(b64.find('\0'));
  if (b64.size() > 2 * zc::identity::kMaxCredentialBytes) return;  // over the limit: refused
  const std::string header = "Basic " + b64;
  auto again = zc::identity::ParseBasic(header);
  if (!again) Fail("ParseBasic rejects the encoding of what it returned", authorization, header);
  if (again->id != cred->id || again->secret != cred->secret) {
    Fail("ParseBasic round trip changed the credentials", authorization, header);
  }
}

void CheckTarget(std::string_view target) {
  auto decoded = zc::http::DecodeTarget(target);
  if (!decoded) return;
  std::string encoded = PercentEncode(decoded->path, '/');
  for (size_t i = 0; i < decoded->query.size(); ++i) {
    encoded += i == 0 ? "?" : "&";
    encoded +=
        PercentEncode(decoded->query[i].first) + "=" + PercentEncode(decoded->query[i].second);
  }
  auto again = zc::http::DecodeTarget(encoded);
  if (!again) Fail("DecodeTarget rejects the encoding of what it returned", target, encoded);
  if (again->path != decoded->path || again->query != decoded->query) {
    Fail("DecodeTarget round trip changed the target", target, encoded);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::array<std::string_view, 3> parts{};
  std::string_view rest = input;
  for (size_t i = 0; i < parts.size() && !rest.empty(); ++i) {
    const size_t nl = i + 1 < parts.size() ? rest.find('\n') : std::string_view::npos;
    parts[i] = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }
  CheckBearer(parts[0], parts[1]);
  CheckBasic(parts[0]);
  CheckTarget(parts[2]);
  CheckBearer(input, {});
  CheckBasic(input);
  CheckTarget(input);
  return 0;
}
