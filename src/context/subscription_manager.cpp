// The subscription registry and notification engine (see subscription_manager.h).
//
// Design: one mutex guards the registry (tenants -> subscriptions in creation order) and
// every subscription's statistics. A change is matched under the lock, which builds the
// outgoing notifications and updates timesSent/lastNotification/oneshot at once (so a
// second change right behind sees the throttling and the oneshot); the sender is called
// after the lock is released, because a sender may complete synchronously and its
// completion (OnResult) takes the lock. Writes to the store are submitted outside the lock
// too: the Writer may also complete synchronously (when stopping or full). A second mutex
// guards the lanes (see "Order" in the header) and is not held while the sender is called
// either: a completion sends the lane's next notification (Send).
#include "context/subscription_manager.h"

#include <fmt/format.h>

#include <atomic>
#include <memory>
#include <optional>

#include "common/json.h"
#include "common/log.h"

namespace zc::context {
namespace {

bool Is2xx(unsigned status) {
  return status >= 200 && status < 300;
}

// What a notification in progress holds, for max_in_progress_bytes (headers are small).
size_t SizeOf(const NotificationRequest& request) {
  return request.url.size() + request.body.size();
}

std::string LaneKey(const std::string& tenant, const std::string& subscription_id,
                    const EntityChange& change) {
  const Entity& entity = change.after ? *change.after : *change.before;
  std::string key;
  key.reserve(tenant.size() + subscription_id.size() + entity.id.size() + entity.type.size() + 3);
  for (const std::string* part : {&tenant, &subscription_id, &entity.id}) {
    key.append(*part).push_back('\0');
  }
  key.append(entity.type);
  return key;
}

}  // namespace

SubscriptionManager::SubscriptionManager(Writer& writer, NotificationSender& sender,
                                         SubscriptionManagerOptions options,
                                         metrics::Registry& metrics)
    : writer_(writer),
      sender_(sender),
      options_(std::move(options)),
      sent_(metrics.GetCounter("zhicheng_notifications_sent_total",
                               "Subscription notifications delivered (2xx)")),
      failed_(metrics.GetCounter("zhicheng_notifications_failed_total",
                                 "Subscription notifications failed (transport or non-2xx)")),
      dropped_(metrics.GetCounter(
          "zhicheng_notifications_dropped_total",
          "Subscription notifications dropped: too many in progress, or waiting for one entity")),
      withdrawn_(metrics.GetCounter(
          "zhicheng_notifications_withdrawn_total",
          "Subscription notifications not sent because their subscription was deleted, "
          "deactivated or expired while they waited behind an earlier one about their entity")),
      in_progress_(metrics.GetGauge(
          "zhicheng_notifications_in_progress",
          "Subscription notifications being sent, retried or waiting behind one of their entity")),
      latency_(metrics.GetHistogram("zhicheng_notification_seconds",
                                    "Time from hand-off to the sender to the final result",
                                    metrics::LatencyBuckets())),
      random_(std::random_device{}()) {}

SubscriptionManager::~SubscriptionManager() {
  if (const size_t n = not_sent_at_stop_.load(); n > 0) {
    spdlog::info("{} notifications were not delivered because the server stopped", n);
  }
}

TimeMs SubscriptionManager::Now() const {
  return options_.clock ? options_.clock() : NowMs();
}

// Orion's ids are MongoDB ObjectIds: 24 hex digits starting with the creation time in
// seconds. Ours: 8 hex digits of seconds, then 16 random ones.
std::string SubscriptionManager::NewIdLocked() {
  const auto seconds = static_cast<uint32_t>(Now() / 1000);
  return fmt::format("{:08x}{:016x}", seconds, random_());
}

SubscriptionManager::Entry* SubscriptionManager::FindLocked(const std::string& tenant,
                                                            const std::string& id) {
  auto t = tenants_.find(tenant);
  if (t == tenants_.end()) return nullptr;
  auto e = t->second.by_id.find(id);
  return e == t->second.by_id.end() ? nullptr : &e->second;
}

SubscriptionManager::Entry* SubscriptionManager::FindVisibleLocked(
    const std::string& tenant, const std::vector<std::string>& granted, const std::string& id) {
  Entry* e = FindLocked(tenant, id);
  return e != nullptr && !e->deleting && e->scope.Within(granted) ? e : nullptr;
}

const SubscriptionManager::Entry* SubscriptionManager::FindVisibleLocked(
    const std::string& tenant, const std::vector<std::string>& granted,
    const std::string& id) const {
  return const_cast<SubscriptionManager*>(this)->FindVisibleLocked(tenant, granted, id);
}

const SubscriptionManager::Entry* SubscriptionManager::FindLocked(const std::string& tenant,
                                                                  const std::string& id) const {
  return const_cast<SubscriptionManager*>(this)->FindLocked(tenant, id);
}

void SubscriptionManager::InsertLocked(const std::string& tenant, Subscription sub,
                                       PathScope scope) {
  Tenant& t = tenants_[tenant];
  const uint64_t seq = next_seq_++;
  t.order.emplace(seq, sub.id);
  t.index.Add(seq, sub.spec->entities);
  std::string id = sub.id;
  t.by_id.insert_or_assign(std::move(id), Entry{std::move(sub), std::move(scope), seq});
}

Status SubscriptionManager::Load(ContextStore& store) {
  size_t loaded = 0;
  auto status = store.LoadSubscriptions([&](const std::string& tenant, const std::string& id,
                                            const std::string& doc) {
    auto sub = ParseStoredDocument(id, doc);
    auto scope = sub ? PathScope::Parse(sub->service_path) : Result<PathScope>(PathScope::All());
    if (!sub || !scope) {
      spdlog::error("subscription {} of tenant '{}' is unreadable and ignored: {}", id, tenant,
                    sub ? scope.error().message : sub.error().message);
      return;
    }
    std::lock_guard lock(mu_);
    InsertLocked(tenant, std::move(*sub), std::move(*scope));
    ++loaded;
  });
  if (status) spdlog::info("loaded {} subscriptions", loaded);
  return status;
}

size_t SubscriptionManager::Count() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [name, t] : tenants_) n += t.by_id.size();
  return n;
}

// ---- CRUD -----------------------------------------------------------------------------------

void SubscriptionManager::Create(const std::string& tenant, const std::string& service_path,
                                 SubscriptionSpec spec, CreateDone done) {
  auto scope = PathScope::Parse(service_path);
  if (!scope) return done(Fail(scope.error()));
  if (scope->Patterns().size() > 1) {
    return done(Fail(Error::BadRequest("max one service-path allowed for subscriptions")));
  }
  if (options_.check_url) {
    if (auto s = options_.check_url(spec.http.url); !s) return done(Fail(s.error()));
  }
  Subscription sub;
  sub.service_path = service_path;
  sub.spec = std::make_shared<const SubscriptionSpec>(std::move(spec));
  {
    std::lock_guard lock(mu_);
    auto t = tenants_.find(tenant);
    if (t != tenants_.end() && t->second.by_id.size() >= options_.max_per_tenant) {
      return done(Fail(Error::Unprocessable(fmt::format(
          "too many subscriptions in this service (limit {})", options_.max_per_tenant))));
    }
    do {
      sub.id = NewIdLocked();
    } while (FindLocked(tenant, sub.id) != nullptr);
  }
  WriteBatch batch;
  batch.subscriptions.push_back({tenant, sub.id, StoredDocument(sub)});
  writer_.Submit(std::move(batch), [this, tenant, sub = std::move(sub), scope = std::move(*scope),
                                    done = std::move(done)](Status s) mutable {
    if (!s) return done(Fail(s.error()));
    std::string id = sub.id;
    {
      std::lock_guard lock(mu_);
      InsertLocked(tenant, std::move(sub), std::move(scope));
    }
    done(std::move(id));
  });
}

void SubscriptionManager::Update(const std::string& tenant, const std::vector<std::string>& granted,
                                 const std::string& id, const boost::json::value& patch,
                                 Done done) {
  Subscription updated;
  const bool status_given = patch.is_object() && patch.get_object().contains("status");
  {
    std::lock_guard lock(mu_);
    const Entry* e = FindVisibleLocked(tenant, granted, id);
    if (e == nullptr) {
      return done(Fail(Error::NotFound(std::string(kSubscriptionNotFound))));
    }
    auto spec = PatchSubscription(*e->sub.spec, patch);
    if (!spec) return done(Fail(spec.error()));
    updated = e->sub;
    updated.spec = std::make_shared<const SubscriptionSpec>(std::move(*spec));
    if (status_given) updated.counters.fails_counter = 0;
  }
  if (options_.check_url) {
    if (auto s = options_.check_url(updated.spec->http.url); !s) return done(s);
  }
  WriteBatch batch;
  batch.subscriptions.push_back({tenant, id, StoredDocument(updated)});
  writer_.Submit(std::move(batch), [this, tenant, id, status_given, spec = updated.spec,
                                    done = std::move(done)](Status s) {
    if (s) {
      std::lock_guard lock(mu_);
      if (Entry* e = FindLocked(tenant, id); e != nullptr && !e->deleting) {
        Tenant& t = tenants_.at(tenant);
        t.index.Remove(e->seq, e->sub.spec->entities);
        t.index.Add(e->seq, spec->entities);
        e->sub.spec = spec;
        if (status_given) e->sub.counters.fails_counter = 0;
      }
    }
    done(s);
  });
}

void SubscriptionManager::Delete(const std::string& tenant, const std::vector<std::string>& granted,
                                 const std::string& id, Done done) {
  {
    std::lock_guard lock(mu_);
    Entry* e = FindVisibleLocked(tenant, granted, id);
    if (e == nullptr) {
      return done(Fail(Error::NotFound(std::string(kSubscriptionNotFound))));
    }
    e->deleting = true;
  }
  WriteBatch batch;
  batch.subscriptions.push_back({tenant, id, std::nullopt});
  writer_.Submit(std::move(batch), [this, tenant, id, done = std::move(done)](Status s) {
    {
      std::lock_guard lock(mu_);
      auto t = tenants_.find(tenant);
      auto e = t == tenants_.end() ? nullptr : FindLocked(tenant, id);
      if (e != nullptr && s) {
        t->second.index.Remove(e->seq, e->sub.spec->entities);
        t->second.order.erase(e->seq);
        t->second.by_id.erase(id);
      } else if (e != nullptr) {
        e->deleting = false;
      }
    }
    done(s);
  });
}

Result<boost::json::object> SubscriptionManager::Get(const std::string& tenant,
                                                     const std::vector<std::string>& granted,
                                                     const std::string& id) const {
  const TimeMs now = Now();
  std::lock_guard lock(mu_);
  const Entry* e = FindVisibleLocked(tenant, granted, id);
  if (e == nullptr) return Fail(Error::NotFound(std::string(kSubscriptionNotFound)));
  return RenderSubscription(e->sub, now);
}

Result<SubscriptionManager::Page> SubscriptionManager::List(const std::string& tenant,
                                                            const std::vector<std::string>& granted,
                                                            size_t offset, size_t limit,
                                                            size_t max_bytes) const {
  const TimeMs now = Now();
  json::BoundedArrayWriter items(max_bytes, "subscriptions (limit)");
  Page page;
  std::lock_guard lock(mu_);
  if (auto t = tenants_.find(tenant); t != tenants_.end()) {
    for (const auto& [seq, id] : t->second.order) {
      const Entry& e = t->second.by_id.at(id);
      if (!e.scope.Within(granted)) continue;
      if (page.total++ < offset || items.Count() >= limit) continue;
      if (auto s = items.Append(json::Dump(RenderSubscription(e.sub, now))); !s) {
        return Fail(s.error());
      }
    }
  }
  page.count = items.Count();
  page.json = std::move(items).Finish();
  return page;
}

void SubscriptionManager::FlushCounters(Done done) {
  WriteBatch batch;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, t] : tenants_) {
      for (auto& [id, e] : t.by_id) {
        if (!e.dirty || e.deleting) continue;
        batch.subscriptions.push_back({name, id, StoredDocument(e.sub)});
        e.dirty = false;
      }
    }
  }
  if (batch.Empty()) return done(Ok());
  writer_.Submit(std::move(batch), std::move(done));
}

void SubscriptionManager::PersistAsync(std::vector<SubscriptionWrite> writes) {
  if (writes.empty()) return;
  WriteBatch batch;
  batch.subscriptions = std::move(writes);
  writer_.Submit(std::move(batch), [](Status s) {
    if (!s) spdlog::error("subscription status not persisted: {}", s.error().message);
  });
}

// ---- notifications ----------------------------------------------------------------------------

bool SubscriptionManager::ActiveLocked(const Entry& e, TimeMs now) const {
  const SubscriptionSpec& spec = *e.sub.spec;
  if (e.deleting || spec.status == SubscriptionStatus::kInactive) return false;
  return !spec.expires || *spec.expires > now;
}

bool SubscriptionManager::EligibleLocked(const Entry& e, TimeMs now) const {
  if (!ActiveLocked(e, now)) return false;
  const SubscriptionSpec& spec = *e.sub.spec;
  const TimeMs last = e.sub.counters.last_notification;
  // A wall clock set back (NTP stepping a drifted clock, a manual fix) puts `last` in the
  // future: the time since is unknown, so the change notifies rather than being held back
  // until the clock catches up, possibly for hours.
  return spec.throttling_s <= 0 || last == 0 || now < last ||
         now - last >= spec.throttling_s * 1000;
}

void SubscriptionManager::MatchLocked(const EntityChange& change, std::vector<Outgoing>& out,
                                      std::vector<SubscriptionWrite>& writes) {
  auto t = tenants_.find(change.tenant);
  const Entity* entity = change.after ? change.after.get() : change.before.get();
  if (t == tenants_.end() || entity == nullptr) return;
  const TimeMs now = Now();
  t->second.index.Candidates(entity->id, entity->type, candidates_);
  for (const uint64_t seq : candidates_) {
    const std::string& id = t->second.order.at(seq);
    Entry& e = t->second.by_id.at(id);
    if (!EligibleLocked(e, now) || !Triggers(e.sub, e.scope, change)) continue;
    const bool oneshot = e.sub.spec->status == SubscriptionStatus::kOneshot;
    if (auto no_room = NoRoomFor(e.sub.spec->http.receiver)) {
      NoteDropped(id, *no_room, e.sub.spec->http.receiver);  // counted as sent, as in Dispatch
    } else {
      const int cbnotif = static_cast<int>(out.size()) + 1;
      NotificationRequest request =
          BuildNotification(e.sub, change, cbnotif, options_.default_timeout);
      const size_t bytes = SizeOf(request);
      out.push_back({std::move(request), LaneKey(change.tenant, id, change), bytes, oneshot});
    }
    e.sub.counters.times_sent++;
    e.sub.counters.last_notification = now;
    e.dirty = true;
    if (oneshot) {
      auto spec = std::make_shared<SubscriptionSpec>(*e.sub.spec);
      spec->status = SubscriptionStatus::kInactive;
      e.sub.spec = std::move(spec);
      writes.push_back({change.tenant, id, StoredDocument(e.sub)});
      e.dirty = false;
    }
  }
}

void SubscriptionManager::OnChange(const EntityChange& change) {
  std::vector<Outgoing> out;
  std::vector<SubscriptionWrite> writes;
  {
    std::lock_guard lock(mu_);
    MatchLocked(change, out, writes);
  }
  PersistAsync(std::move(writes));
  for (auto& o : out) Dispatch(std::move(o));
}

void SubscriptionManager::Dispatch(Outgoing out) {
  if (in_flight_.fetch_add(1) >= options_.max_in_flight) {
    in_flight_.fetch_sub(1);
    return NoteDropped(out.request.subscription_id, DropReason::kInProgress);
  }
  if (in_flight_bytes_.fetch_add(out.bytes) + out.bytes > options_.max_in_progress_bytes) {
    in_flight_bytes_.fetch_sub(out.bytes);
    in_flight_.fetch_sub(1);
    return NoteDropped(out.request.subscription_id, DropReason::kBytes);
  }
  if (!TakeReceiverShare(out.request.receiver)) {
    in_flight_bytes_.fetch_sub(out.bytes);
    in_flight_.fetch_sub(1);
    return NoteDropped(out.request.subscription_id, DropReason::kReceiverShare,
                       out.request.receiver);
  }
  in_progress_.Add(1);
  std::optional<Outgoing> dropped;
  if (!JoinLane(out, dropped)) return Send(std::move(out));  // its lane was idle
  if (dropped) {
    Finished(dropped->bytes, dropped->request.receiver);
    NoteDropped(dropped->request.subscription_id, DropReason::kLaneFull);
  }
}

bool SubscriptionManager::JoinLane(Outgoing& out, std::optional<Outgoing>& dropped) {
  std::lock_guard lock(lanes_mu_);
  auto [lane, idle] = lanes_.try_emplace(out.lane);
  if (idle) return false;
  if (lane->second.size() >= options_.max_waiting_per_lane && !lane->second.empty()) {
    dropped = std::move(lane->second.front());
    lane->second.pop_front();
  }
  lane->second.push_back(std::move(out));
  return true;
}

// Sends `first`; as each completes, the next of its lane follows. A completion that runs
// before sender_.Send has returned (a stopping sender completes at once) leaves the next
// to the loop here, so that a long lane never turns into a deep recursion.
void SubscriptionManager::Send(Outgoing first) {
  enum Phase { kSending, kReturned, kCompletedInSend };
  std::optional<Outgoing> out = std::move(first);
  while (out) {
    auto phase = std::make_shared<std::atomic<int>>(kSending);
    std::string lane = std::move(out->lane);
    std::string tenant = out->request.tenant;  // before the request is moved
    std::string id = out->request.subscription_id;
    std::string receiver = out->request.receiver;
    sender_.Send(std::move(out->request),
                 [this, tenant = std::move(tenant), id = std::move(id), lane, bytes = out->bytes,
                  receiver = std::move(receiver), started = std::chrono::steady_clock::now(),
                  phase](NotificationResult result) {
                   OnResult(tenant, id, std::move(result), started);
                   Finished(bytes, receiver);
                   int sending = kSending;
                   if (phase->compare_exchange_strong(sending, kCompletedInSend)) return;
                   if (auto next = NextToSend(lane)) Send(std::move(*next));
                 });
    int sending = kSending;
    if (phase->compare_exchange_strong(sending, kReturned)) return;  // its completion goes on
    out = NextToSend(lane);
  }
}

std::optional<SubscriptionManager::Outgoing> SubscriptionManager::NextToSend(
    const std::string& lane) {
  while (auto next = NextInLane(lane)) {
    if (StillWanted(*next)) return next;
    Finished(next->bytes, next->request.receiver);
    withdrawn_.Add();
  }
  return std::nullopt;
}

bool SubscriptionManager::StillWanted(const Outgoing& out) const {
  std::lock_guard lock(mu_);
  const Entry* e = FindLocked(out.request.tenant, out.request.subscription_id);
  if (e == nullptr || e->deleting) return false;
  return out.oneshot || ActiveLocked(*e, Now());  // a oneshot's one made it inactive
}

std::optional<SubscriptionManager::Outgoing> SubscriptionManager::NextInLane(
    const std::string& lane) {
  std::lock_guard lock(lanes_mu_);
  auto it = lanes_.find(lane);
  if (it->second.empty()) {
    lanes_.erase(it);
    return std::nullopt;
  }
  Outgoing next = std::move(it->second.front());
  it->second.pop_front();
  return next;
}

bool SubscriptionManager::TakeReceiverShare(const std::string& receiver) {
  std::lock_guard lock(lanes_mu_);
  size_t& n = per_receiver_[receiver];
  if (n >= options_.max_in_progress_per_receiver) return false;
  ++n;
  return true;
}

void SubscriptionManager::Finished(size_t bytes, const std::string& receiver) {
  in_flight_bytes_.fetch_sub(bytes);
  in_flight_.fetch_sub(1);
  in_progress_.Add(-1);
  std::lock_guard lock(lanes_mu_);
  auto it = per_receiver_.find(receiver);
  if (it != per_receiver_.end() && --it->second == 0) per_receiver_.erase(it);
}

std::optional<SubscriptionManager::DropReason> SubscriptionManager::NoRoomFor(
    const std::string& receiver) const {
  if (in_flight_.load() >= options_.max_in_flight) return DropReason::kInProgress;
  if (receiver.empty()) return std::nullopt;
  std::lock_guard lock(lanes_mu_);
  auto it = per_receiver_.find(receiver);
  if (it == per_receiver_.end() || it->second < options_.max_in_progress_per_receiver) {
    return std::nullopt;
  }
  return DropReason::kReceiverShare;
}

// Counts a dropped notification; logs the first and every 1,000th (the reason is formatted
// only then: a receiver that does not keep up can lose thousands a second).
void SubscriptionManager::NoteDropped(const std::string& subscription_id, DropReason why,
                                      std::string_view receiver) {
  dropped_.Add();
  const uint64_t n = dropped_.Value();
  if (n != 1 && n % 1000 != 0) return;
  std::string reason;
  switch (why) {
    case DropReason::kInProgress:
      reason = fmt::format("{} in progress", options_.max_in_flight);
      break;
    case DropReason::kBytes:
      reason = fmt::format("{} bytes in progress", options_.max_in_progress_bytes);
      break;
    case DropReason::kReceiverShare:
      reason = fmt::format("{} in progress to {}", options_.max_in_progress_per_receiver, receiver);
      break;
    case DropReason::kLaneFull:
      reason = fmt::format("{} waiting for the same entity", options_.max_waiting_per_lane);
      break;
  }
  spdlog::warn("notification for subscription {} dropped: {} ({} dropped so far)", subscription_id,
               reason, n);
}

void SubscriptionManager::OnResult(const std::string& tenant, const std::string& id,
                                   NotificationResult result,
                                   std::chrono::steady_clock::time_point started) {
  if (result.stopped) {  // the receiver was not asked, or its answer was not awaited
    not_sent_at_stop_.fetch_add(1);
    return;
  }
  latency_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  const bool ok = Is2xx(result.status);
  (ok ? sent_ : failed_).Add();
  std::vector<SubscriptionWrite> writes;
  {
    std::lock_guard lock(mu_);
    Entry* e = FindLocked(tenant, id);
    if (e == nullptr) return;
    SubscriptionCounters& c = e->sub.counters;
    const TimeMs now = Now();
    e->dirty = true;
    if (ok) {
      c.last_success = now;
      c.last_success_code = result.status;
      c.fails_counter = 0;
      return;
    }
    c.last_failure = now;
    c.last_failure_reason =
        result.status != 0 ? fmt::format("HTTP status {}", result.status) : result.error;
    c.fails_counter++;
    const auto& limit = e->sub.spec->max_fails_limit;
    if (limit && c.fails_counter > *limit && e->sub.spec->status != SubscriptionStatus::kInactive &&
        !e->deleting) {
      auto spec = std::make_shared<SubscriptionSpec>(*e->sub.spec);
      spec->status = SubscriptionStatus::kInactive;
      e->sub.spec = std::move(spec);
      writes.push_back({tenant, id, StoredDocument(e->sub)});
      e->dirty = false;
      spdlog::warn("subscription {} deactivated after {} consecutive failures", id,
                   c.fails_counter);
    }
  }
  PersistAsync(std::move(writes));
}

}  // namespace zc::context
