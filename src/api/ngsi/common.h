// Helpers shared by the NGSI-v2 handlers: the NGSI error format, tenancy headers,
// correlators, JSON bodies and the `options` parameter. Every NGSI response goes through
// Reply(), which adds `Fiware-Correlator`.
#pragma once

#include <functional>

#include <boost/json.hpp>

#include <initializer_list>
#include <set>
#include <string>
#include <string_view>

#include "common/result.h"
#include "context/scope.h"
#include "http/request.h"
#include "http/router.h"

namespace zc::api::ngsi {

namespace bj = boost::json;

// Limits of the NGSI API (documented in docs/api/ngsi-v2.md).
inline constexpr size_t kDefaultLimit = 20;
inline constexpr size_t kMaxLimit = 1000;

// {"error": "<Name>", "description": "..."} with the status for the error code. The names
// are Orion's: BadRequest, NotFound, Unprocessable, TooManyResults, MethodNotAllowed,
// RequestEntityTooLarge, UnsupportedMediaType, ContentLengthRequired, NotAcceptable,
// Unauthorized, Forbidden, TooManyRequests, ServiceUnavailable, InternalServerError.
http::Response ErrorResponse(const Error& error);
// The router's formatter for paths under /v2.
http::ErrorFormatter ErrorFormatter();

http::Response JsonResponse(unsigned status, const bj::value& body);

// The correlator of this request: the incoming Fiware-Correlator, else the request id.
std::string Correlator(const http::RequestContext& ctx);

// True when the Accept header allows application/json (or is absent).
bool AcceptsJson(const http::RequestContext& ctx);

// Sends `response` with the Fiware-Correlator header. A 2xx JSON response to a client
// whose Accept header excludes JSON becomes 406 NotAcceptable.
void Reply(const http::RequestContext& ctx, const http::Respond& respond, http::Response response);
void ReplyError(const http::RequestContext& ctx, const http::Respond& respond, const Error& error);
// Runs `work`, which answers through `respond`, on a pool thread. An exception out of it is
// a bug: it is logged and answered 500, as the server answers a handler that throws on an
// I/O thread, rather than leaving the pool's thread, which would end the process.
void RunGuarded(const http::RequestContext& ctx, const http::Respond& respond,
                const std::function<void()>& work) noexcept;

// The request's tenant (Fiware-Service); Forbidden when the caller has no grant on it.
Result<std::string> Tenant(const http::RequestContext& ctx);
// The read scopes (Fiware-ServicePath) narrowed to what the caller's grants let it see.
Result<context::PathScope> ReadScope(const http::RequestContext& ctx);
// The one write path; Forbidden when the caller's grants do not allow writing there.
Result<std::string> WritePath(const http::RequestContext& ctx);

// The JSON body of a request that must have one: 411 without Content-Length, 415 unless
// Content-Type is application/json, 400 when empty or malformed.
Result<bj::value> JsonBody(const http::RequestContext& ctx);

// JsonBody that must be a JSON object (the value holds one): anything else is Orion's
// ParseError "Errors found in incoming JSON buffer".
Result<bj::value> JsonObjectBody(const http::RequestContext& ctx);

// Orion's check of a body's top-level fields: one outside `known` is
// `400 Unrecognized field in JSON payload: /name/`.
Status OnlyKnownFields(const bj::object& body, std::initializer_list<std::string_view> known);

// Orion's URI parameter checks: `400 Empty right-hand-side for URI param /name/`, and
// `400 invalid character in URI parameter` for `< > " ' = ; ( )` outside q, mq, idPattern
// and typePattern ('=' and ';' allowed in georel and geometry, ';' in coords).
Status CheckUriParams(const http::RequestContext& ctx);

// `options=a,b`: every item must be in `allowed` or one of the options Orion knows (which
// the route then ignores); anything else, or two representations, is 400.
Result<std::set<std::string>> Options(const http::RequestContext& ctx,
                                      const std::set<std::string_view>& allowed);

// A comma-separated list parameter split into items ("" → empty list).
std::vector<std::string> SplitList(std::string_view text);

// limit/offset: limit in 1..kMaxLimit (default 20), offset >= 0 (default 0).
struct Page {
  size_t limit = kDefaultLimit;
  size_t offset = 0;
};
Result<Page> PageParams(const http::RequestContext& ctx);

}  // namespace zc::api::ngsi
