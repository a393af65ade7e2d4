// Shared NGSI-v2 handler helpers (see common.h): error rendering with Orion's error names,
// tenancy header parsing, correlators, body and parameter checks.
#include "api/ngsi/common.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "common/json.h"

namespace zc::api::ngsi {
namespace {

std::optional<size_t> ParseSize(std::string_view s) {
  size_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

http::Response ErrorResponse(const Error& error) {
  bj::object body{{"error", http::ErrorName(error.code)}, {"description", error.message}};
  return JsonResponse(http::StatusFor(error.code), body);
}

http::ErrorFormatter ErrorFormatter() {
  return [](const Error& e, const http::RequestContext* ctx) {
    http::Response r = ErrorResponse(e);
    if (ctx != nullptr) r.Header("Fiware-Correlator", Correlator(*ctx));
    return r;
  };
}

http::Response JsonResponse(unsigned status, const bj::value& body) {
  return http::Response::Json(status, json::Dump(body));
}

std::string Correlator(const http::RequestContext& ctx) {
  auto incoming = ctx.Header("Fiware-Correlator");
  return incoming.empty() ? ctx.request_id : std::string(incoming);
}

bool AcceptsJson(const http::RequestContext& ctx) {
  const std::string_view accept = ctx.Header("Accept");
  return accept.empty() || accept.find("application/json") != std::string_view::npos ||
         accept.find("*/*") != std::string_view::npos ||
         accept.find("application/*") != std::string_view::npos;
}

void Reply(const http::RequestContext& ctx, const http::Respond& respond, http::Response response) {
  if (response.status < 300 && response.content_type.starts_with("application/json") &&
      !AcceptsJson(ctx)) {
    response = ErrorResponse(Error::NotAcceptable("acceptable MIME types: application/json"));
  }
  response.Header("Fiware-Correlator", Correlator(ctx));
  respond(std::move(response));
}

void ReplyError(const http::RequestContext& ctx, const http::Respond& respond, const Error& error) {
  Reply(ctx, respond, ErrorResponse(error));
}

void RunGuarded(const http::RequestContext& ctx, const http::Respond& respond,
                const std::function<void()>& work) noexcept {
  try {
    work();
  } catch (const std::exception& e) {
    spdlog::error("a read on a pool thread threw: {} (rid={})", e.what(), ctx.request_id);
    ReplyError(ctx, respond, Error::Internal("internal error"));
  }
}

Result<std::string> Tenant(const http::RequestContext& ctx) {
  auto tenant = context::ParseTenant(ctx.Header("Fiware-Service"));
  if (tenant && ctx.identity.PathsFor(*tenant, false).empty()) {
    return Fail(Error::Forbidden("the credentials do not grant this Fiware-Service"));
  }
  return tenant;
}

Result<context::PathScope> ReadScope(const http::RequestContext& ctx) {
  auto scope = context::PathScope::Parse(ctx.Header("Fiware-ServicePath"));
  if (!scope) return scope;
  const auto tenant = context::ParseTenant(ctx.Header("Fiware-Service"));
  const auto paths = ctx.identity.PathsFor(tenant.value_or(""), false);
  if (paths.size() == 1 && paths[0] == "/") return scope;
  return scope->Restrict(paths);
}

Result<std::string> WritePath(const http::RequestContext& ctx) {
  auto path = context::ParseWritePath(ctx.Header("Fiware-ServicePath"));
  if (!path) return path;
  const auto tenant = context::ParseTenant(ctx.Header("Fiware-Service"));
  const auto paths = ctx.identity.PathsFor(tenant.value_or(""), true);
  if (context::PathScope::All().Restrict(paths).Matches(*path)) return path;
  return Fail(Error::Forbidden("the credentials do not grant writes to this service path"));
}

Result<bj::value> JsonBody(const http::RequestContext& ctx) {
  if (ctx.Body().empty()) {
    return Fail(Error::LengthRequired("Zero/No Content-Length in PUT/POST/PATCH request"));
  }
  const std::string_view type = ctx.Header("Content-Type");
  if (!type.starts_with("application/json")) {
    if (type.empty()) {  // Orion's text for a body without Content-Type
      return Fail(Error::UnsupportedMedia(
          "Content-Type header not used, default application/octet-stream is not supported"));
    }
    return Fail(Error::UnsupportedMedia(fmt::format("not supported content type: {}", type)));
  }
  return json::Parse(ctx.Body());
}

Result<bj::value> JsonObjectBody(const http::RequestContext& ctx) {
  auto body = JsonBody(ctx);
  if (body && !body->is_object()) {
    return Fail(Error::ParseError("Errors found in incoming JSON buffer"));
  }
  return body;
}

Status OnlyKnownFields(const bj::object& body, std::initializer_list<std::string_view> known) {
  for (const auto& field : body) {
    const std::string_view key(field.key().data(), field.key().size());
    if (std::ranges::find(known, key) == known.end()) {
      return Fail(Error::BadRequest(fmt::format("Unrecognized field in JSON payload: /{}/", key)));
    }
  }
  return Ok();
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    if (end > start) out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Orion checks `options` against one list for all routes (rest/ConnectionInfo.cpp), so an
// option a route has no use for is accepted and ignored there.
bool IsOrionOption(std::string_view item) {
  constexpr std::array<std::string_view, 15> kAll = {
      "count",          "normalized",       "values",
      "keyValues",      "append",           "unique",
      "dateCreated",    "dateModified",     "noAttrDetail",
      "upsert",         "forcedUpdate",     "flowControl",
      "skipForwarding", "overrideMetadata", "skipInitialNotification"};
  return std::ranges::find(kAll, item) != kAll.end();
}

// Orion's checks of URI parameters (rest/rest.cpp, uriArgumentGet): none may be empty, and
// none may hold its forbidden characters, except the query languages and patterns; the geo
// parameters may hold the '=' and ';' of their own syntax.
Status CheckUriParams(const http::RequestContext& ctx) {
  constexpr std::string_view kForbidden = "<>\"'=;()";
  for (const auto& [key, value] : ctx.query) {
    if (value.empty()) {
      return Fail(Error::BadRequest(fmt::format("Empty right-hand-side for URI param /{}/", key)));
    }
    std::string_view forbidden = kForbidden;
    if (key == "q" || key == "mq" || key == "idPattern" || key == "typePattern") continue;
    if (key == "georel" || key == "geometry") forbidden = "<>\"'()";
    if (key == "coords") forbidden = "<>\"'=()";
    const auto bad = [&](std::string_view text) {
      return text.find_first_of(forbidden) != std::string_view::npos;
    };
    if (bad(key) || bad(value)) {
      return Fail(Error::BadRequest("invalid character in URI parameter"));
    }
  }
  return Ok();
}

Result<std::set<std::string>> Options(const http::RequestContext& ctx,
                                      const std::set<std::string_view>& allowed) {
  std::set<std::string> out;
  auto raw = ctx.Query("options");
  if (!raw) return out;
  for (auto& item : SplitList(*raw)) {
    if (!allowed.contains(item) && !IsOrionOption(item)) {
      return Fail(Error::BadRequest("Invalid value for URI param /options/"));
    }
    out.insert(std::move(item));
  }
  const int representations = static_cast<int>(out.contains("keyValues")) +
                              static_cast<int>(out.contains("values")) +
                              static_cast<int>(out.contains("unique"));
  if (representations > 1) {
    return Fail(Error::BadRequest("Invalid value for URI param /options/"));
  }
  return out;
}

Result<Page> PageParams(const http::RequestContext& ctx) {
  Page page;
  if (auto l = ctx.Query("limit")) {
    auto v = ParseSize(*l);
    if (v && *v == 0) {
      return Fail(Error::BadRequest("Bad pagination limit: /0/ [a value of ZERO is unacceptable]"));
    }
    if (!v) {
      return Fail(Error::BadRequest("Bad pagination limit: /" + std::string(*l) +
                                    "/ [must be a decimal number]"));
    }
    if (*v > kMaxLimit) {
      return Fail(
          Error::BadRequest(fmt::format("Bad pagination limit: /{}/ [max: {}]", *v, kMaxLimit)));
    }
    page.limit = *v;
  }
  if (auto o = ctx.Query("offset")) {
    auto v = ParseSize(*o);
    if (!v) {
      return Fail(Error::BadRequest("Bad pagination offset: /" + std::string(*o) +
                                    "/ [must be a decimal number]"));
    }
    page.offset = *v;
  }
  return page;
}

}  // namespace zc::api::ngsi
