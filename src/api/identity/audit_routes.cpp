// The audit API for the security auditor (audit.read): GET /api/audit with filters
// (actor, action, target — exact, or a prefix ending in '*' —, from, to as ISO 8601,
// afterSeq, limit ≤ 1000) as a JSON array, and GET /api/audit/export as JSON lines
// (limit ≤ 10000 per request; page with afterSeq). Also the request observer that audits
// every state-changing request and every denied one (429s sampled per client address); a
// device's requests that were not denied are tallied into one entry per client address and
// window (identity/audit_tally.h).
#include <fmt/format.h>

#include <charconv>
#include <memory>

#include "api/identity/handler_util.h"
#include "common/metrics.h"
#include "http/rate_limiter.h"
#include "identity/roles.h"

namespace zc::api::identity {
namespace {

namespace zi = zc::identity;

bj::object EntryJson(const zi::AuditEntry& e) {
  return bj::object{{"seq", e.seq},
                    {"time", FormatIso8601(e.time)},
                    {"actor", e.actor},
                    {"actorKind", e.actor_kind},
                    {"department", e.department},
                    {"clientAddress", e.client_address},
                    {"action", e.action},
                    {"target", e.target},
                    {"outcome", e.outcome},
                    {"requestId", e.request_id},
                    {"detail", e.detail},
                    {"prevHash", e.prev_hash},
                    {"hash", e.hash}};
}

Result<int64_t> Integer(std::string_view text, std::string_view name) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 0) {
    return Fail(Error::BadRequest(fmt::format("{} must be a non-negative integer", name)));
  }
  return v;
}

Result<zi::AuditQuery> QueryOf(const http::RequestContext& ctx, size_t max_limit) {
  zi::AuditQuery q;
  q.actor = std::string(ctx.Query("actor").value_or(""));
  q.action = std::string(ctx.Query("action").value_or(""));
  q.target = std::string(ctx.Query("target").value_or(""));
  for (auto [name, out] : {std::pair{"from", &q.from}, std::pair{"to", &q.to}}) {
    if (auto v = ctx.Query(name)) {
      auto t = ParseIso8601(*v);
      if (!t) return Fail(Error::BadRequest(fmt::format("{} must be an ISO 8601 time", name)));
      *out = *t;
    }
  }
  if (auto v = ctx.Query("afterSeq")) {
    auto n = Integer(*v, "afterSeq");
    if (!n) return Fail(n.error());
    q.after_seq = *n;
  }
  q.limit = std::min<size_t>(100, max_limit);
  if (auto v = ctx.Query("limit")) {
    auto n = Integer(*v, "limit");
    if (!n) return Fail(n.error());
    if (*n == 0 || static_cast<size_t>(*n) > max_limit) {
      return Fail(Error::BadRequest(fmt::format("limit must be 1 to {}", max_limit)));
    }
    q.limit = static_cast<size_t>(*n);
  }
  return q;
}

http::Response List(IdentityApi& api, const http::RequestContext& ctx, bool lines) {
  auto q = QueryOf(ctx, lines ? 10000 : 1000);
  if (!q) return ErrorReply(q.error());
  api.audit.Flush();  // what was recorded before this request is visible to it
  auto entries = api.audit_store.Query(*q);
  if (!entries) return ErrorReply(entries.error());
  if (!lines) {
    bj::array a;
    for (const auto& e : *entries) a.push_back(EntryJson(e));
    return JsonReply(200, a);
  }
  std::string body;
  for (const auto& e : *entries) body += json::Dump(EntryJson(e)) + "\n";
  return http::Response{200, "application/x-ndjson", std::move(body), {}};
}

bool IsRead(http::Verb v) {
  return v == http::Verb::get || v == http::Verb::head || v == http::Verb::options;
}

// What a request acted on: its path; for a deletion also its query and service path,
// which say what it selected (DELETE /ql/v2/types/Gauge?toDate=... under /water).
std::string AuditTarget(const http::RequestContext& ctx) {
  std::string target = ctx.path;
  if (ctx.Method() != http::Verb::delete_) return target;
  const std::string_view raw = ctx.raw.target();
  if (const size_t q = raw.find('?'); q != std::string_view::npos) target.append(raw.substr(q));
  if (auto path = ctx.Header("Fiware-ServicePath"); !path.empty()) {
    target.append(" ").append(path);
  }
  return target;
}

// Which 429 answers get an entry of their own: up to kRateLimitedBurst per client address at
// once, then one every 60 / kRateLimitedPerMinute s. A flood from one address is refused at
// tens of thousands of requests a second; one entry (~0.4 KB) each would fill the disk. The
// rest are counted on /metrics.
struct RateLimitedSampling {
  static constexpr double kRateLimitedPerMinute = 10;
  static constexpr double kRateLimitedBurst = 10;
  explicit RateLimitedSampling(metrics::Counter& counter) : unrecorded(counter) {}
  http::RateLimiter per_address{kRateLimitedPerMinute / 60, kRateLimitedBurst};
  metrics::Counter& unrecorded;
};

}  // namespace

void RegisterAuditRoutes(http::Router& router, IdentityApi& api) {
  router.Add({http::Verb::get, "/api/audit", zi::perm::kAuditRead,
              [&api](http::RequestContext& ctx, http::Respond respond) {
                OnWorker(api, respond, [&api, &ctx] { return List(api, ctx, false); });
              }});
  router.Add({http::Verb::get, "/api/audit/export", zi::perm::kAuditRead,
              [&api](http::RequestContext& ctx, http::Respond respond) {
                OnWorker(api, respond, [&api, &ctx] { return List(api, ctx, true); });
              }});
}

http::RequestObserver AuditObserver(zi::AuditLog& audit, metrics::Registry& metrics) {
  auto sampling = std::make_shared<RateLimitedSampling>(
      metrics.GetCounter("zhicheng_audit_unrecorded_total",
                         "429 answers without an audit entry of their own (at most 10 a "
                         "minute per client address get one)"));
  metrics.AddCallbackCounter(
      "zhicheng_audit_dropped_total",
      "Audit entries dropped because 100000 were waiting to be written (a slow or full disk)",
      [&audit] { return static_cast<double>(audit.Dropped()); });
  metrics.AddCallbackGauge(
      "zhicheng_audit_waiting_entries",
      "Audit entries not yet durable: queued, or kept in memory after a failed write",
      [&audit] { return static_cast<double>(audit.Waiting()); });
  metrics::Counter& tallied = metrics.GetCounter(
      "zhicheng_audit_tallied_total",
      "device requests counted into aggregate audit entries (one per device, address and "
      "[audit] device_window_seconds) instead of an entry each");
  return [&audit, sampling, &tallied](const http::RequestContext& ctx, const http::Route* route,
                                      unsigned status) {
    if (route == nullptr) return;
    if (status == 429 && !sampling->per_address.Take(ctx.client_ip).allowed) {
      sampling->unrecorded.Add();
      return;
    }
    const bool denied = status == 401 || status == 403 || status == 429;
    if (!denied && IsRead(ctx.Method())) return;
    const std::string_view pattern = route->pattern;
    if (!denied && (pattern.starts_with("/api/identity") || pattern.starts_with("/oauth"))) {
      return;  // their handlers write richer entries
    }
    std::string action = fmt::format("{} {}", http::beast_http::to_string(ctx.Method()), pattern);
    std::string target = AuditTarget(ctx);
    if (auto tenant = ctx.Header("Fiware-Service"); !tenant.empty()) {
      target = fmt::format("{} [{}]", target, tenant);
    }
    auto entry = AuditOf(ctx, std::move(action), std::move(target), std::to_string(status));
    if (!denied && ctx.identity.kind == "device") {
      // Telemetry: tallied per address, whatever connections it comes on (audit_tally.h).
      entry.client_address = ctx.client_ip;
      if (audit.Count(std::move(entry))) tallied.Add();
    } else {
      audit.Record(std::move(entry));
    }
  };
}

}  // namespace zc::api::identity
