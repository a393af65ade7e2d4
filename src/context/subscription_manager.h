// The subscription registry and the notification engine: per-tenant NGSI-v2 subscriptions,
// created/updated/deleted durably through the Writer, matched against every EntityChange
// of the change feed, notified through a NotificationSender.
//
// Wiring (app/): construct after the Writer and the sender; call Load(store) once at
// start-up, before the feed publishes; subscribe OnChange to ContextService::Changes();
// call FlushCounters() periodically (e.g. every 60 s) and once at shutdown, before the
// Writer stops; destroy the manager only after the sender has stopped calling back (i.e.
// destroy the sender first, or stop its client).
//
// Threads. OnChange runs on the writer thread and never blocks: it matches, builds the
// payloads and hands them to the sender (whose Send must not block). Notifications in
// progress are bounded by `max_in_flight`, those to one receiver by
// `max_in_progress_per_receiver`, and their size by `max_in_progress_bytes`; beyond any of
// them they are dropped, counted (zhicheng_notifications_dropped_total) and logged; when the
// total or the receiver's share is already full, before they are built, so that a receiver
// that does not keep up costs the writer thread little. Results arrive
// on the sender's thread. CRUD and reads run on request threads; completions of writes on the
// writer thread.
//
// Order. The notifications of one subscription about one entity form a lane: the sender
// has at most one of a lane at a time, and the next goes out when it is done (after the
// sender's retries), so a receiver gets an entity's changes in the order they were made
// and its last notification carries the entity's latest state. Lanes of different
// entities or subscriptions go out concurrently. A lane keeps at most
// `max_waiting_per_lane` notifications waiting; beyond it the oldest waiting one is
// dropped (counted as above), so a slow receiver gets the latest changes with a gap.
// Waiting notifications whose subscription is deleted, deactivated or expired before
// their turn are withdrawn instead of sent (zhicheng_notifications_withdrawn_total).
//
// Persistence. A subscription is in the store before Create/Update/Delete report success.
// Status changes made by the engine (oneshot → inactive after its notification,
// maxFailsLimit reached → inactive) are written at once, asynchronously. The statistics
// (timesSent, lastNotification, lastSuccess, lastFailure, lastFailureReason,
// lastSuccessCode, failsCounter) live in memory and are written with every document write
// and by FlushCounters(): a crash loses at most the statistics since the last flush, never
// a subscription or a status.
//
// Semantics (Orion's, see subscription.h for matching): no initial notification; status
// inactive and expired subscriptions never notify; `throttling` skips notifications within
// that many seconds of the previous one (skipped, not delayed); failures are a transport
// error or a non-2xx status; `maxFailsLimit` deactivates after more consecutive failures.
//
// Limits: `max_per_tenant` subscriptions per tenant (Create fails with Unprocessable).
#pragma once

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/result.h"
#include "context/change.h"
#include "context/scope.h"
#include "context/store.h"
#include "context/subscription.h"
#include "context/subscription_index.h"
#include "context/writer.h"

namespace zc::context {

// The outcome of one notification, after the sender's own retries.
struct NotificationResult {
  unsigned status = 0;   // the receiver's HTTP status; 0 when no response was received
  std::string error;     // why no response was received (status == 0)
  bool stopped = false;  // the sender stopped before an answer: not the receiver's failure
};

// Delivers notifications; api/ngsi/notifier.h has the HTTP implementation.
class NotificationSender {
 public:
  using Done = std::function<void(NotificationResult)>;
  virtual ~NotificationSender() = default;
  // Sends `request` and calls `done` exactly once, on any thread (possibly before Send
  // returns). REQUIRES: does not block (it is called on the writer thread).
  virtual void Send(NotificationRequest request, Done done) = 0;
};

struct SubscriptionManagerOptions {
  size_t max_per_tenant = 10000;
  size_t max_in_flight = 10000;  // notifications in progress: sent, or waiting in a lane
  size_t max_in_progress_bytes = size_t{256} << 20;  // their URLs and bodies, together
  // Of max_in_flight, to one receiver (ReceiverOf their URL): a receiver that does not keep
  // up fills only its own share, and the others' notifications are not dropped for it.
  size_t max_in_progress_per_receiver = 10000;
  size_t max_waiting_per_lane = 1000;  // per subscription and entity, behind the one sent; >= 1
  std::chrono::milliseconds default_timeout{5000};  // when the subscription sets none
  std::function<TimeMs()> clock;                    // injectable for tests; default NowMs
  // Checks a notification URL at Create and Update; an error refuses the write. Unset:
  // any URL. (app/ refuses IP addresses outside [notifications] allowed_networks.)
  std::function<Status(const std::string& url)> check_url;
};

class SubscriptionManager {
 public:
  using CreateDone = std::function<void(Result<std::string>)>;  // the new id
  using Done = std::function<void(Status)>;

  // `writer`, `sender` and `metrics` must outlive the manager.
  SubscriptionManager(Writer& writer, NotificationSender& sender,
                      SubscriptionManagerOptions options, metrics::Registry& metrics);
  ~SubscriptionManager();
  SubscriptionManager(const SubscriptionManager&) = delete;
  SubscriptionManager& operator=(const SubscriptionManager&) = delete;

  // Reads the stored subscriptions; corrupt documents are logged and skipped.
  // REQUIRES: start-up, before OnChange and the CRUD calls. Errors: the store's.
  Status Load(ContextStore& store);

  // The change-feed subscriber. Thread: the writer's. Never blocks.
  void OnChange(const EntityChange& change);

  // Creates a subscription in `tenant` restricted to `service_path` (one read scope such
  // as "/#", "/a" or "/a/#"); `done` runs once with the id when durable (writer thread),
  // or at once with BadRequest (bad path), Unprocessable (tenant limit) or a write error.
  void Create(const std::string& tenant, const std::string& service_path, SubscriptionSpec spec,
              CreateDone done);
  // The calls below act on the subscriptions of `tenant` whose service path lies within
  // `granted`, the service-path prefixes the caller may read there ({"/"}: the whole
  // tenant; see PathScope::Within). Any other is NotFound to that caller, and is neither
  // listed nor counted: a department sees and manages only the subscriptions on what it
  // may read, so that it cannot point another's at its own receiver.

  // Applies a PATCH body (PatchSubscription). NotFound, BadRequest, or a write error.
  void Update(const std::string& tenant, const std::vector<std::string>& granted,
              const std::string& id, const boost::json::value& patch, Done done);
  // Deletes. NotFound or a write error.
  void Delete(const std::string& tenant, const std::vector<std::string>& granted,
              const std::string& id, Done done);

  // GET /v2/subscriptions/{id} (RenderSubscription). NotFound.
  Result<boost::json::object> Get(const std::string& tenant,
                                  const std::vector<std::string>& granted,
                                  const std::string& id) const;

  struct Page {
    std::string json;  // the page's subscriptions as a JSON array, in creation order
    size_t count = 0;  // how many are in it
    size_t total = 0;  // subscriptions of the tenant within the grants
  };
  // NoResources as soon as the page's text would pass `max_bytes` (see
  // RenderEntitiesJson: a page must not take the memory of a huge answer).
  Result<Page> List(const std::string& tenant, const std::vector<std::string>& granted,
                    size_t offset, size_t limit, size_t max_bytes) const;

  // Writes the statistics of subscriptions that notified since the last flush; `done`
  // once durable (writer thread) or at once when there is nothing to write.
  void FlushCounters(Done done);

  size_t Count() const;

 private:
  struct Entry {
    Subscription sub;
    PathScope scope;        // parsed sub.service_path
    uint64_t seq = 0;       // creation order
    bool deleting = false;  // a Delete is in flight: refuse further writes
    bool dirty = false;     // statistics changed since last written
  };
  struct Tenant {
    std::map<uint64_t, std::string> order;  // seq -> id
    std::unordered_map<std::string, Entry> by_id;
    SubjectIndex index;  // by seq, from each entry's sub.spec->entities
  };
  enum class DropReason : uint8_t {
    kInProgress,     // max_in_flight
    kBytes,          // max_in_progress_bytes
    kReceiverShare,  // max_in_progress_per_receiver
    kLaneFull,       // max_waiting_per_lane (the oldest waiting one)
  };
  struct Outgoing {
    NotificationRequest request;
    std::string lane;      // tenant, subscription id, entity id and type (see "Order")
    size_t bytes = 0;      // what it holds, for max_in_progress_bytes
    bool oneshot = false;  // the one notification of a oneshot subscription
  };

  TimeMs Now() const;
  std::string NewIdLocked();
  Entry* FindLocked(const std::string& tenant, const std::string& id);
  const Entry* FindLocked(const std::string& tenant, const std::string& id) const;
  // FindLocked, for a caller granted `granted`: nullptr also when being deleted or outside.
  Entry* FindVisibleLocked(const std::string& tenant, const std::vector<std::string>& granted,
                           const std::string& id);
  const Entry* FindVisibleLocked(const std::string& tenant, const std::vector<std::string>& granted,
                                 const std::string& id) const;
  void InsertLocked(const std::string& tenant, Subscription sub, PathScope scope);
  bool ActiveLocked(const Entry& entry, TimeMs now) const;    // neither deleted nor off
  bool EligibleLocked(const Entry& entry, TimeMs now) const;  // and not throttled
  void MatchLocked(const EntityChange& change, std::vector<Outgoing>& out,
                   std::vector<SubscriptionWrite>& writes);
  void Dispatch(Outgoing out);
  // Opens `out`'s lane if idle (false: the caller sends `out`); otherwise moves `out` to the
  // back of it (true), with `dropped` the oldest waiting one when the lane was full.
  bool JoinLane(Outgoing& out, std::optional<Outgoing>& dropped);
  void Send(Outgoing first);
  std::optional<Outgoing> NextInLane(const std::string& lane);  // erases an idle lane
  // The lane's next notification whose subscription is still active; the others are
  // withdrawn (counted) on the way.
  std::optional<Outgoing> NextToSend(const std::string& lane);
  bool StillWanted(const Outgoing& out) const;  // its subscription still exists and is active
  // One admitted by Dispatch, of `bytes`, is done: sent, failed or dropped from its lane.
  void Finished(size_t bytes, const std::string& receiver);
  // Counts one more in progress to `receiver`, unless its share is full (false).
  bool TakeReceiverShare(const std::string& receiver);
  // Whether Dispatch would find no room for a notification to `receiver` ("" = not known
  // before it is built): checked before building one, so that a receiver that does not keep
  // up costs the writer thread nothing for the notifications it would lose anyway.
  std::optional<DropReason> NoRoomFor(const std::string& receiver) const;
  void NoteDropped(const std::string& subscription_id, DropReason why,
                   std::string_view receiver = {});
  void OnResult(const std::string& tenant, const std::string& id, NotificationResult result,
                std::chrono::steady_clock::time_point started);
  void PersistAsync(std::vector<SubscriptionWrite> writes);

  // Constant after construction.
  Writer& writer_;
  NotificationSender& sender_;
  const SubscriptionManagerOptions options_;
  metrics::Counter& sent_;
  metrics::Counter& failed_;
  metrics::Counter& dropped_;
  metrics::Counter& withdrawn_;
  metrics::Gauge& in_progress_;  // follows in_flight_
  metrics::Histogram& latency_;

  std::atomic<size_t> in_flight_{0};         // notifications in progress: sent or waiting in a lane
  std::atomic<size_t> in_flight_bytes_{0};   // their URLs and bodies
  std::atomic<size_t> not_sent_at_stop_{0};  // results with `stopped` (logged at destruction)

  // A lane is present while one of its notifications is with the sender; it holds the
  // ones waiting behind it, oldest first.
  mutable std::mutex lanes_mu_;
  std::unordered_map<std::string, std::deque<Outgoing>> lanes_;  // guarded by lanes_mu_
  std::unordered_map<std::string, size_t> per_receiver_;  // in progress; guarded by lanes_mu_

  mutable std::mutex mu_;
  std::unordered_map<std::string, Tenant> tenants_;  // guarded by mu_
  std::vector<uint64_t> candidates_;                 // MatchLocked's scratch; guarded by mu_
  uint64_t next_seq_ = 1;                            // guarded by mu_
  std::mt19937_64 random_;                           // guarded by mu_ (ids)
};

}  // namespace zc::context
