// The context service: the current state of every entity of every tenant, in memory, with
// its indexes (by id, by type, by place); writes that become durable through the Writer
// before they become visible; queries in NGSI-v2's terms. This is the domain API that
// api/ngsi maps HTTP onto; it knows nothing about HTTP.
//
// Reads are synchronous and run on the caller's thread under a shared lock per tenant.
// Writes are asynchronous: Apply() evaluates the operations against the latest state
// (committed plus pending), queues the result to the Writer and calls `done` on the
// writer thread once the batch is durable. Only then is the new state visible to readers
// and published on the change feed. A batch of operations is all-or-nothing.
#pragma once

#include <boost/regex.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/metrics.h"
#include "common/result.h"
#include "common/writer_first_mutex.h"
#include "context/change.h"
#include "context/entity.h"
#include "context/geo.h"
#include "context/order_by.h"
#include "context/query.h"
#include "context/scope.h"
#include "context/writer.h"
#include "feed/feed.h"

namespace zc::context {

namespace detail {
class TenantState;
struct WriteEvaluation;
}  // namespace detail

struct ServiceOptions {
  size_t max_batch_entities = 1000;    // entities in one op/update
  size_t max_attrs_per_entity = 1000;  // in one request, and in one entity after a write
  // ApproxEntityBytes of one entity after a write (Orion's MongoDB caps a document at 16 MiB).
  size_t max_entity_bytes = size_t{16} << 20;
  // Entities one tenant may hold (all kept in memory); 0: no limit. A write that would
  // create more fails with NoResources and changes nothing.
  size_t max_entities_per_tenant = 5'000'000;
  bool history = true;  // record every attribute write as a history row
  // The attributes (or attribute metadata) whose DateTime value, written by the same
  // request, is the time its history rows are indexed at, as QuantumLeap's time index; the
  // first one present counts. Empty: always the change time.
  std::vector<std::string> time_index_attributes{"TimeInstant"};
};

enum class WriteKind {
  kCreate,         // new entity; AlreadyExists if it exists
  kUpsert,         // create, or append/overwrite the attributes of an existing one
  kUpsertStrict,   // create, or append to an existing one; Unprocessable if an attr exists
  kAppend,         // add or overwrite attributes of an existing entity
  kAppendStrict,   // add attributes; Unprocessable if one already exists
  kUpdate,         // overwrite existing attributes; Unprocessable if one is missing
  kReplace,        // drop all attributes, then set these
  kDeleteAttrs,    // remove the named attributes (each must exist)
  kDeleteEntity,   // remove the entity
  kDeleteExpired,  // remove the entity of exactly this id/type if its dateExpires has passed
};

// One operation on one entity. For ops other than create/upsert the entity is found by
// id (and type, when given) inside the write's service path.
struct EntityOp {
  WriteKind kind = WriteKind::kUpdate;
  std::string id;
  std::optional<std::string> type;
  NamedList<Attribute> attrs;  // for create/upsert/append/update/replace
  bool set_expires = false;    // this op sets (or, with nullopt, clears) dateExpires
  std::optional<TimeMs> expires;
  std::vector<std::string> delete_attrs;  // for kDeleteAttrs
  bool forced = false;                    // notify subscriptions even without a change
  bool override_metadata = false;         // replace attribute metadata instead of merging
};

struct WriteContext {
  std::string tenant;
  std::string service_path = "/";
  std::string correlator;
};

// Which entities: an OR of selectors; each matches id (exact or pattern) and type (exact
// or pattern), either may be absent. Patterns are ECMAScript regular expressions (Boost,
// like q's ~= and subscriptions), matched anywhere in the string as Orion does.
struct EntitySelector {
  std::optional<std::string> id;
  std::optional<boost::regex> id_pattern;
  std::optional<std::string> type;
  std::optional<boost::regex> type_pattern;
};

struct EntityQuery {
  std::vector<EntitySelector> selectors;  // empty: any entity
  std::optional<Filter> q;
  std::optional<Filter> mq;
  std::optional<GeoQuery> geo;
  // Non-empty: only entities that hold at least one of these attributes (the deprecated
  // "attributes" of POST /v2/op/query, as Orion reads it).
  std::vector<std::string> with_any_attr;
  std::optional<OrderBy> order_by;
  size_t limit = 20;
  size_t offset = 0;
  bool count = false;  // compute the total number of matches
  // Above 0: give up (QueryResult::gave_up) rather than visit more candidate entities than
  // this, so that a caller on an I/O thread can hand a long scan to a pool instead.
  size_t max_visits = 0;
};

struct QueryResult {
  std::vector<EntityPtr> entities;
  size_t total = 0;      // meaningful only when EntityQuery::count
  bool gave_up = false;  // EntityQuery::max_visits was reached; nothing else is set
};

struct TypeInfo {
  std::string type;
  NamedList<std::vector<std::string>> attrs;  // attribute name -> types seen
  size_t count = 0;
};

// What a durable Apply() did, for the response (201 vs 204 on upsert).
struct WriteOutcome {
  size_t created = 0;
  size_t updated = 0;
  size_t deleted = 0;
};

class ContextService {
 public:
  using Done = std::function<void(Result<WriteOutcome>)>;

  // `writer` and `metrics` must outlive the service.
  ContextService(Writer& writer, ServiceOptions options, metrics::Registry& metrics);
  ~ContextService();
  ContextService(const ContextService&) = delete;
  ContextService& operator=(const ContextService&) = delete;

  // Rebuilds the in-memory state. REQUIRES: before any other call (start-up).
  Status Load(ContextStore& store);

  // The feed of durable changes. Subscribe at start-up only.
  feed::Topic<EntityChange>& Changes() { return changes_; }

  // Applies `ops` atomically in `ctx.service_path`. `done` runs once: at once with the
  // first error (nothing applied), or on the writer thread once durable.
  void Apply(const WriteContext& ctx, std::vector<EntityOp> ops, Done done);

  // One entity by id (and type), among the scopes. NotFound; TooManyResults when several
  // entities share the id and no type was given.
  Result<EntityPtr> Get(const std::string& tenant, const PathScope& scope, std::string_view id,
                        std::optional<std::string_view> type) const;

  Result<QueryResult> Query(const std::string& tenant, const PathScope& scope,
                            const EntityQuery& query) const;

  // Entity types with their attributes (GET /v2/types), ordered by type name: all of them,
  // or only `listing.type`. NoResources (json::AnswerTooLarge) once the attribute names and
  // types gathered would pass about `listing.max_bytes` of JSON: a type whose entities each
  // name their attributes differently has as many as its entities have in all.
  struct TypeListing {
    std::optional<std::string> type;
    bool attrs = true;  // false: names and counts only (options=values)
    size_t max_bytes = SIZE_MAX;
  };
  Result<std::vector<TypeInfo>> Types(const std::string& tenant, const PathScope& scope,
                                      const TypeListing& listing) const;

  size_t EntityCount() const;
  // Tenants with state: those that hold entities or held some since start-up.
  size_t TenantCount() const;
  // Each tenant's entities as max_entities_per_tenant counts them (pending writes included).
  metrics::LabelledValues EntitiesPerTenant() const;

  // Deletes every entity whose dateExpires has passed (reads already hide them), as
  // Orion's TTL sweep does. Subscriptions see the deletions. `done` runs once all
  // deletions are durable, with the number of entities removed.
  void PurgeExpired(const std::function<void(size_t)>& done);

 private:
  using Tenant = detail::TenantState;
  using Evaluation = detail::WriteEvaluation;
  Tenant& TenantFor(const std::string& tenant);
  // The tenant's state, or nullptr. Tenants are never removed, so the pointer stays valid;
  // writing through it is for Apply (under write_mu_) and the writer thread.
  Tenant* FindTenant(const std::string& tenant) const;
  Status Evaluate(const WriteContext& ctx, EntityOp& op, Evaluation& eval);
  Status EvaluateCreate(const WriteContext& ctx, EntityOp& op, EntityChange change,
                        Evaluation& eval);
  Status CheckEntityCount(const Evaluation& eval) const;
  void Publish(const Evaluation& eval);
  void EndPublish();
  void OnDurable(const std::shared_ptr<Evaluation>& eval, Status status, const Done& done);

  // Constant after construction.
  Writer& writer_;
  const ServiceOptions options_;
  metrics::Counter& writes_;
  metrics::Counter& queries_given_up_;

  feed::Topic<EntityChange> changes_;  // subscribed at start-up only

  mutable std::shared_mutex tenants_mu_;  // guards the map (tenants are never removed)
  std::unordered_map<std::string, std::unique_ptr<Tenant>> tenants_;
  // Stands for a tenant that has no state yet while a write to it is evaluated, so that a
  // write that fails (a PATCH of an entity that does not exist) creates none; never holds
  // an entity.
  const std::unique_ptr<Tenant> no_entities_;

  std::mutex write_mu_;  // serializes Apply's evaluation and submission; guards write_seq_
  uint64_t write_seq_ = 0;

  // Writer thread only: the tenant lock that Publish() holds across a group's publish steps.
  std::unique_lock<WriterFirstMutex> publish_lock_;
  const Tenant* publish_tenant_ = nullptr;
};

}  // namespace zc::context
