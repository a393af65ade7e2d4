#include "identity/credentials.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>

#include "common/ascii.h"

namespace zc::identity {
namespace {

// Splits "Scheme value" at the first space.
std::pair<std::string_view, std::string_view> SplitScheme(std::string_view header) {
  header = TrimOws(header);
  const size_t space = header.find(' ');
  if (space == std::string_view::npos) return {header, {}};
  return {header.substr(0, space), TrimOws(header.substr(space + 1))};
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding ('+' is a space); nullopt when malformed.
std::optional<std::string> FormDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = HexValue(s[i + 1]);
      const int lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Error Bad(std::string m) {
  return Error::Unauthorized(std::move(m));
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!body.empty()) {
    const size_t amp = body.find('&');
    const std::string_view piece = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (piece.empty()) continue;
    const size_t eq = piece.find('=');
    auto name = FormDecode(piece.substr(0, eq));
    auto value =
        FormDecode(eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1));
    if (!name || !value) return Fail(Error::BadRequest("malformed form encoding"));
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

bool IsWellFormedToken(std::string_view token) {
  if (token.empty() || token.size() > kMaxCredentialBytes) return false;
  return std::all_of(token.begin(), token.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
           c == '~' || c == '+' || c == '/' || c == '=';
  });
}

Result<std::optional<std::string>> BearerToken(std::string_view authorization,
                                               std::string_view x_auth_token) {
  std::optional<std::string> token;
  if (!TrimOws(authorization).empty()) {
    auto [scheme, value] = SplitScheme(authorization);
    if (!IEquals(scheme, "Bearer")) return Fail(Bad("the Authorization scheme must be Bearer"));
    if (!IsWellFormedToken(value)) return Fail(Bad("malformed bearer token"));
    token = std::string(value);
  }
  x_auth_token = TrimOws(x_auth_token);
  if (!x_auth_token.empty()) {
    if (!IsWellFormedToken(x_auth_token)) return Fail(Bad("malformed X-Auth-Token"));
    if (token && *token != x_auth_token) {
      return Fail(Bad("Authorization and X-Auth-Token name different tokens"));
    }
    token = std::string(x_auth_token);
  }
  return token;
}

Result<BasicCredential> ParseBasic(std::string_view authorization) {
  auto [scheme, value] = SplitScheme(authorization);
  if (!IEquals(scheme, "Basic") || value.empty() || value.size() > 2 * kMaxCredentialBytes) {
    return Fail(Bad("malformed Basic credentials"));
  }
  std::string decoded(value.size(), '\0');
  size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(),
                        value.data(), value.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return Fail(Bad("malformed Basic credentials"));
  }
  decoded.resize(length);
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return Fail(Bad("malformed Basic credentials"));
  auto id = FormDecode(std::string_view(decoded).substr(0, colon));
  auto secret = FormDecode(std::string_view(decoded).substr(colon + 1));
  if (!id || !secret || id->empty()) return Fail(Bad("malformed Basic credentials"));
  return BasicCredential{std::move(*id), std::move(*secret)};
}

}  // namespace zc::identity
