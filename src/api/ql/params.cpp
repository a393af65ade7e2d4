// QuantumLeap parameter parsing. Rules follow QuantumLeap's API spec: lastN/limit/offset are
// non-negative integers (limit capped at 10000, its default), fromDate/toDate are ISO 8601
// (common/clock.h grammar), aggrMethod is count|sum|avg|min|max, aggrPeriod is
// second|minute|hour|day|month|year and needs aggrMethod. Tenancy headers are validated by
// the context module's rules (context/scope.h), so /ql and /v2 agree on what a tenant is.
#include "api/ql/params.h"

#include <algorithm>
#include <charconv>

#include "common/clock.h"
#include "context/scope.h"

namespace zc::api::ql {
namespace {

Result<std::optional<size_t>> ParseCount(const http::RequestContext& ctx, std::string_view name) {
  auto text = ctx.Query(name);
  if (!text) return std::optional<size_t>{};
  size_t v = 0;
  const char* end = text->data() + text->size();
  auto [p, ec] = std::from_chars(text->data(), end, v);
  if (text->empty() || ec != std::errc{} || p != end) {
    return Fail(Error::BadRequest("'" + std::string(name) + "' must be a non-negative integer"));
  }
  if (v == 0 && name != "offset") {  // QuantumLeap's spec: minimum 1
    return Fail(Error::BadRequest("'" + std::string(name) + "' must be at least 1"));
  }
  return std::optional<size_t>(v);
}

Result<std::optional<TimeMs>> ParseDate(const http::RequestContext& ctx, std::string_view name,
                                        std::string& text_out) {
  auto text = ctx.Query(name);
  if (!text) return std::optional<TimeMs>{};
  if (text->size() >= 2 && text->starts_with('"') && text->ends_with('"')) {
    *text = text->substr(1, text->size() - 2);  // QuantumLeap strips the quotes too
  }
  auto t = ParseIso8601(*text);
  if (!t) {
    // "…T08:00:00 08:00" is almost always a time zone whose '+' was not encoded.
    const bool space = text->find(' ') != std::string_view::npos;
    return Fail(Error::BadRequest(
        "'" + std::string(name) + "' is not an ISO 8601 date-time: " + std::string(*text) +
        (space ? " (a '+' in a URL query is a space: write a time zone as %2B08:00)" : "")));
  }
  text_out = *text;
  return std::optional<TimeMs>(*t);
}

Status ParseAggregation(const http::RequestContext& ctx, QlRequest& r) {
  using M = context::AggrMethod;
  using P = context::AggrPeriod;
  static constexpr std::pair<std::string_view, M> kMethods[] = {
      {"count", M::kCount}, {"sum", M::kSum}, {"avg", M::kAvg}, {"min", M::kMin}, {"max", M::kMax}};
  static constexpr std::pair<std::string_view, P> kPeriods[] = {
      {"second", P::kSecond}, {"minute", P::kMinute}, {"hour", P::kHour},
      {"day", P::kDay},       {"month", P::kMonth},   {"year", P::kYear}};
  if (auto m = ctx.Query("aggrMethod")) {
    for (const auto& [name, method] : kMethods) {
      if (*m == name) r.aggr_method = method;
    }
    if (!r.aggr_method) {
      return Fail(Error::BadRequest("'aggrMethod' must be one of count, sum, avg, min, max"));
    }
  }
  if (auto p = ctx.Query("aggrPeriod")) {
    bool known = false;
    for (const auto& [name, period] : kPeriods) {
      if (*p == name) r.aggr_period = period, known = true;
    }
    if (!known) {
      return Fail(
          Error::BadRequest("'aggrPeriod' must be one of second, minute, hour, day, month, year"));
    }
    if (!r.aggr_method) {
      return Fail(Error::BadRequest("aggrMethod is compulsory when using aggrPeriod."));
    }
  }
  return Ok();
}

// Tenant and service paths (each with its subtree, as QuantumLeap reads them), narrowed to
// the caller's grants; Forbidden when nothing of the request is granted.
Status ParseTenancy(const http::RequestContext& ctx, Access access, context::HistoryQuery& q) {
  auto tenant = context::ParseTenant(ctx.Header("Fiware-Service"));
  if (!tenant) return Fail(tenant.error());
  q.tenant = std::move(*tenant);
  auto scope = context::PathScope::Parse(ctx.Header("Fiware-ServicePath"));
  if (!scope) return Fail(scope.error());
  *scope = scope->Subtrees();  // QuantumLeap matches a service path as a prefix
  const auto granted = ctx.identity.PathsFor(q.tenant, access == Access::kWrite);
  if (!(granted.size() == 1 && granted[0] == "/")) *scope = scope->Restrict(granted);
  if (scope->IsEmpty()) {
    return Fail(Error::Forbidden("the credentials do not grant this tenant or service path"));
  }
  if (!scope->IsAll()) q.service_paths = scope->Patterns();
  return Ok();
}

}  // namespace

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
  }
  return out;
}

Result<QlRequest> ParseRequest(const http::RequestContext& ctx, Access access) {
  QlRequest r;
  context::HistoryQuery& q = r.query;
  if (auto s = ParseTenancy(ctx, access, q); !s) return Fail(s.error());
  if (auto types = ctx.Query("type")) q.entity_types = SplitList(*types);
  if (auto ids = ctx.Query("id")) r.ids = SplitList(*ids);
  if (auto attrs = ctx.Query("attrs")) r.attrs = SplitList(*attrs);
  auto from = ParseDate(ctx, "fromDate", r.from_text);
  if (!from) return Fail(from.error());
  auto to = ParseDate(ctx, "toDate", r.to_text);
  if (!to) return Fail(to.error());
  q.from = *from;
  q.to = *to;
  auto last_n = ParseCount(ctx, "lastN");
  if (!last_n) return Fail(last_n.error());
  auto limit = ParseCount(ctx, "limit");
  if (!limit) return Fail(limit.error());
  auto offset = ParseCount(ctx, "offset");
  if (!offset) return Fail(offset.error());
  q.last_n = *last_n;
  q.limit = std::min(limit->value_or(kMaxLimit), kMaxLimit);
  q.offset = offset->value_or(0);
  q.max_bytes = ctx.max_response_bytes;
  if (auto s = ParseAggregation(ctx, r); !s) return Fail(s.error());
  return r;
}

}  // namespace zc::api::ql
