// RequestContext accessors and the decoding of a request target.
//
// Decoding is deliberately lenient about characters and strict about escapes: real NGSI
// clients (curl, scripts) send characters such as '>' or '"' unencoded in `q=` queries,
// which a strict RFC 3986 parser would reject, while a malformed "%zz" escape is an error.
// Boost.URL's pct_string_view validates and decodes each piece. In the query, '+' is a
// space, as in HTML forms and in Orion (libmicrohttpd decodes it so): Python's requests,
// URLSearchParams and curl --data-urlencode send "q=name=='a b'" as "q=name%3D%3D%27a+b%27". A
// literal '+' in a query (a time zone such as +08:00) is sent as %2B. In the path, '+' is
// itself.
#include <boost/url/pct_string_view.hpp>

#include <boost/beast/core/string.hpp>

#include <algorithm>

#include "http/request.h"
#include "http/target_impl.h"

namespace zc::http {
namespace {

enum class Plus { kItself, kSpace };

Result<std::string> PercentDecode(std::string_view encoded, Plus plus) {
  // Without a '%' there is nothing to check or decode.
  if (encoded.find('%') == std::string_view::npos) {
    std::string out(encoded);
    if (plus == Plus::kSpace) std::ranges::replace(out, '+', ' ');
    return out;
  }
  auto checked = boost::urls::make_pct_string_view(encoded);
  if (!checked) {
    return Fail(Error::BadRequest("invalid percent-encoding in URL"));
  }
  boost::urls::encoding_opts options;
  options.space_as_plus = plus == Plus::kSpace;
  return checked->decode(options);
}

// "a=1&b&c=" -> (a,1) (b,"") (c,""); empty pieces ("&&") are skipped.
Status DecodeQuery(std::string_view query, DecodedTarget& out) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (piece.empty()) continue;
    const size_t eq = piece.find('=');
    auto name = PercentDecode(piece.substr(0, eq), Plus::kSpace);
    auto value = PercentDecode(
        eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1), Plus::kSpace);
    if (!name) return Fail(name.error());
    if (!value) return Fail(value.error());
    out.query.emplace_back(std::move(*name), std::move(*value));
  }
  return Ok();
}

}  // namespace

Result<DecodedTarget> DecodeTarget(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return Fail(Error::BadRequest("request target must be an absolute path"));
  }
  const size_t question = target.find('?');
  DecodedTarget decoded;
  auto path = PercentDecode(target.substr(0, question), Plus::kItself);
  if (!path) return Fail(path.error());
  decoded.path = std::move(*path);
  if (question != std::string_view::npos) {
    // A fragment is never sent by clients; if one is, it is not part of the query.
    std::string_view query = target.substr(question + 1);
    query = query.substr(0, query.find('#'));
    if (auto status = DecodeQuery(query, decoded); !status) return Fail(status.error());
  }
  return decoded;
}

std::optional<std::string_view> RequestContext::Query(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::string_view RequestContext::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

std::string_view RequestContext::Header(std::string_view name) const {
  auto it = raw.find(name);
  if (it == raw.end()) return {};
  return it->value();
}

bool RequestContext::HasHeader(std::string_view name) const {
  return raw.find(name) != raw.end();
}

}  // namespace zc::http

namespace zc::http {

bool Identity::HasPermission(std::string_view permission) const {
  if (permission.empty()) return true;
  if (std::binary_search(permissions.begin(), permissions.end(), "*")) return true;
  return std::binary_search(permissions.begin(), permissions.end(), permission);
}

std::vector<std::string> Identity::PathsFor(std::string_view tenant, bool write) const {
  std::vector<std::string> paths;
  for (const TenantGrant& g : tenants) {
    if ((g.tenant == "*" || g.tenant == tenant) && (g.write || !write)) paths.push_back(g.path);
  }
  return paths;
}

}  // namespace zc::http
