// The storage interface of the context domain. `store/sqlite` implements it (and later
// `store/postgres`); the domain never knows which. The store is the source of truth: the
// in-memory state of the context service is rebuilt from it at start.
//
// Contract: Commit() applies a whole WriteBatch atomically and returns only once it is
// durable (a crash after Ok loses nothing). Commit is called from one thread (the writer);
// the read methods (history queries) may be called concurrently from others.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "context/entity.h"

namespace zc::context {

// The current state of one entity after the batch, or its deletion.
struct EntityWrite {
  std::string tenant;  // Fiware-Service ("" = default tenant)
  EntityKey key;
  EntityPtr after;  // nullptr: the entity was deleted
  // EncodeEntity(*after), computed by the producer so that the writer thread does not have
  // to; empty means "encode it yourself".
  std::string document;
  // True when `after` differs from the entity's previous state only by the attributes in
  // this batch's history rows for it (their type, value and metadata, created/modified at
  // the row's time) and by `modified`, which is that time. A store may then persist the
  // rows now and the document later (see ContextStore::Flush). `document` is empty then.
  bool attributes_only = false;
};

// One attribute value at one time: the unit of history.
struct HistoryRow {
  std::string tenant;
  std::string service_path;
  std::string entity_id;
  std::string entity_type;
  std::string attr;
  std::string attr_type;
  TimeMs time = 0;
  std::string value_json;     // the attribute value as JSON text
  std::string metadata_json;  // EncodeMetadataJson of the attribute's metadata ("" = none)
  // The time the writer stated for the value (a device's TimeInstant, see
  // ServiceOptions::time_index_attributes): history is indexed and ordered by it. nullopt:
  // by `time`. `time` stays the change time, the attribute's dateModified.
  std::optional<TimeMs> observed;
  TimeMs IndexTime() const { return observed.value_or(time); }
};

// A subscription document (the NGSI-v2 JSON the service keeps), or its deletion.
struct SubscriptionWrite {
  std::string tenant;
  std::string id;
  std::optional<std::string> document;  // nullopt: deleted
};

struct WriteBatch {
  std::vector<EntityWrite> entities;
  std::vector<HistoryRow> history;
  std::vector<SubscriptionWrite> subscriptions;
  bool Empty() const { return entities.empty() && history.empty() && subscriptions.empty(); }
  size_t Rows() const { return entities.size() + history.size() + subscriptions.size(); }
};

// A history read (QuantumLeap-style). Empty or absent fields are unconstrained.
struct HistoryQuery {
  std::string tenant;
  std::vector<std::string> service_paths;  // scopes: "/a" exact, "/a/#" subtree; empty = all
  // Each list matches any of its values; an empty list matches everything.
  std::vector<std::string> entity_ids;
  std::vector<std::string> entity_types;
  std::vector<std::string> attrs;
  std::optional<TimeMs> from;  // inclusive
  std::optional<TimeMs> to;    // inclusive
  std::optional<size_t> last_n;
  size_t limit = 10000;
  size_t offset = 0;
  // false: last_n/limit/offset count points (one attribute value each). true: they count
  // instants, i.e. distinct (entity, time) pairs with all their attribute values, as a
  // QuantumLeap entity query counts rows.
  bool count_instants = false;
  // QueryHistory fails with NoResources once the points it keeps pass this many bytes
  // (each point's value plus kHistoryPointOverhead, about what an answer spends on it), so
  // that the history of a large attribute (a picture) cannot take the memory; 0: no bound.
  size_t max_bytes = 0;
};

inline constexpr size_t kHistoryPointOverhead = 32;  // an ISO 8601 time in the index

// Aggregation of history (QuantumLeap `aggrMethod`). sum/avg/min/max use numeric values
// only, and texts holding a number in a series of type Number or Integer (QuantumLeap's
// cast); other JSON values are skipped; count counts every point.
enum class AggrMethod { kCount, kSum, kAvg, kMin, kMax };
// Bucket width (QuantumLeap `aggrPeriod`), aligned in UTC; kNone: one bucket per series
// over the whole queried range.
enum class AggrPeriod { kNone, kSecond, kMinute, kHour, kDay, kMonth, kYear };

struct HistoryAggregateQuery {
  HistoryQuery filter;  // last_n/limit/offset count buckets; count_instants is ignored
  AggrMethod method = AggrMethod::kCount;
  AggrPeriod period = AggrPeriod::kNone;
};

// One aggregated value: a series (entity, attribute) over one bucket.
struct HistoryBucket {
  std::string entity_id;
  std::string entity_type;
  std::string attr;
  TimeMs start = 0;             // bucket start (UTC); with kNone the series' first time
  std::optional<double> value;  // nullopt: no numeric value in the bucket (sum/avg/min/max)
};

// An entity that has history in a queried range, with the latest time it has there
// (QuantumLeap's /v2/entities listing).
struct HistoryEntity {
  std::string entity_id;
  std::string entity_type;
  TimeMs latest = 0;
};

struct HistoryPoint {
  std::string entity_id;
  std::string entity_type;
  std::string attr;
  TimeMs time = 0;
  std::string value_json;
  std::string attr_type;  // the series' attribute type
};

class ContextStore {
 public:
  virtual ~ContextStore() = default;

  // Applies the batch atomically and durably. Errors are Internal (I/O, disk full).
  virtual Status Commit(const WriteBatch& batch) = 0;

  // Calls `sink` for every stored entity (start-up rebuild). Thread: caller's.
  virtual Status LoadEntities(const std::function<void(std::string tenant, Entity)>& sink) = 0;
  // Calls `sink` for every stored subscription document.
  virtual Status LoadSubscriptions(
      const std::function<void(std::string tenant, std::string id, std::string doc)>& sink) = 0;

  // History rows matching the query, ordered by time (ascending; with last_n, the last N).
  virtual Result<std::vector<HistoryPoint>> QueryHistory(const HistoryQuery& query) = 0;
  // Aggregated history, ordered by bucket start, then entity id, then attribute. Stores
  // that cannot aggregate return Unavailable.
  virtual Result<std::vector<HistoryBucket>> AggregateHistory(const HistoryAggregateQuery&) {
    return Fail(Error::Unavailable("history aggregation is not supported by this store"));
  }
  // The entities with history matching the query's tenant, scopes, ids, types and time
  // range, ordered by id, then type; offset and limit count entities (the other fields of
  // the query are ignored). Stores that cannot list return Unavailable.
  virtual Result<std::vector<HistoryEntity>> ListHistoryEntities(const HistoryQuery&) {
    return Fail(Error::Unavailable("history listing is not supported by this store"));
  }
  // Deletes history older than `before`; returns the number of rows removed.
  virtual Result<size_t> PruneHistory(TimeMs before) = 0;
  // Deletes the history the query selects (tenant, scopes, entity ids, types, attributes
  // and time range; the window fields are ignored) among the rows committed before the
  // call; returns how many rows it removed. The entities' current state is not touched:
  // what a store kept durable only through those rows it stores otherwise first. Not
  // atomic for readers: a large deletion goes in steps, and concurrent commits go on
  // between them. Stores that cannot delete return Unavailable.
  virtual Result<size_t> DeleteHistory(const HistoryQuery& /*selection*/) {
    return Fail(Error::Unavailable("history deletion is not supported by this store"));
  }

  // Writes state whose persistence was deferred (documents of `attributes_only` writes,
  // kept durable meanwhile by their history rows): kDue what has waited long enough, kAll
  // everything (at shutdown, so that the next start has nothing to replay). Called by the
  // writer thread only. Stores that defer nothing have nothing to do.
  enum class FlushMode { kDue, kAll };
  virtual Status Flush(FlushMode /*mode*/) { return Ok(); }
};

}  // namespace zc::context
