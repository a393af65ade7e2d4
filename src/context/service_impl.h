// Private to the context service: the per-tenant state and the evaluation of one write
// batch, shared by service.cpp (state, loading), service_write.cpp and service_query.cpp.
#pragma once

#include <atomic>
#include <map>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "context/service.h"
#include "context/spatial_index.h"

namespace zc::context {

namespace detail {

class TenantState {
 public:
  struct PendingEntry {
    EntityPtr after;  // nullptr: deleted
    uint64_t seq = 0;
  };

  // Guarded by mu (shared for readers, exclusive in the writer thread's Publish). Writer
  // first, so that the writer gets in at a long scan's pauses (ScanLock).
  mutable WriterFirstMutex mu;
  std::map<uint64_t, EntityPtr> by_no;
  std::unordered_map<EntityKey, uint64_t, EntityKeyHash> no_by_key;
  std::unordered_multimap<std::string, uint64_t> nos_by_id;
  std::unordered_map<std::string, std::map<uint64_t, EntityPtr>> by_type;
  // Entities with a location: their geometry and snapshot, so that a geo-query resolves
  // each spatial candidate with one hash look-up.
  struct Located {
    Geometry geometry;
    EntityPtr entity;
  };
  std::unordered_map<uint64_t, Located> locations;
  SpatialIndex spatial;
  uint64_t next_no = 1;

  // The tenant's entities as the evaluated writes leave them: the committed ones, plus the
  // creations, less the deletions, still pending (expired ones count until purged, as they
  // take memory until then). Added to by Apply under the service's write_mu_; a failed
  // write's part is taken back by OnDurable, on the writer thread, hence atomic.
  std::atomic<int64_t> evaluated_entities{0};

  // Guarded by pending_mu. Written by Apply (under the service's write_mu_) and by
  // OnDurable on the writer thread, which must never wait for an evaluation to finish.
  // The writer publishes an entity into the committed state (Publish, for the whole group)
  // before OnDurable erases its pending entry, so a reader that looks at pending, then at
  // the committed state, always sees it.
  mutable std::mutex pending_mu;
  std::unordered_map<EntityKey, PendingEntry, EntityKeyHash> pending;
  std::unordered_multimap<std::string, EntityKey> pending_ids;

  // The pending state of `key`: nullopt when none is pending, a null pointer when a delete is.
  std::optional<EntityPtr> Pending(const EntityKey& key) const {
    std::lock_guard lock(pending_mu);
    auto it = pending.find(key);
    if (it == pending.end()) return std::nullopt;
    return it->second.after;
  }

  // REQUIRES: mu held (shared is enough).
  EntityPtr Committed(const EntityKey& key) const {
    auto it = no_by_key.find(key);
    return it == no_by_key.end() ? nullptr : by_no.at(it->second);
  }

  // Makes room for `n` more entities in the hash indexes (start-up). REQUIRES: mu held
  // exclusively.
  void Reserve(size_t n) {
    no_by_key.reserve(no_by_key.size() + n);
    nos_by_id.reserve(nos_by_id.size() + n);
  }

  // REQUIRES: mu held exclusively; `key` is KeyOf(*after) when `after` is set.
  void Put(const EntityKey& key, EntityPtr after) {
    auto it = no_by_key.find(key);
    if (it == no_by_key.end()) {
      if (!after) return;
      const uint64_t no = next_no++;
      no_by_key.emplace(key, no);
      nos_by_id.emplace(key.id, no);
      StoreNew(no, key, std::move(after));
      return;
    }
    if (after) {
      Store(it->second, key, std::move(after));  // the common case: an update
      return;
    }
    Unindex(it->second, key);
  }

 private:
  // True when `before` and `after` have the same location attribute (name, type, value),
  // so that the spatial index entry can stay as it is.
  static bool SameLocation(const Entity& before, const Entity& after) {
    const auto* a = FindLocationAttribute(before);
    const auto* b = FindLocationAttribute(after);
    if (!a || !b) return a == b;
    return a->first == b->first && a->second.type == b->second.type &&
           a->second.value == b->second.value;
  }

  // Points the type and number indexes at `e` and keeps its place in the spatial index.
  void Store(uint64_t no, const EntityKey& key, EntityPtr e) {
    by_type[key.type][no] = e;
    EntityPtr& slot = by_no[no];
    const bool keep_location = slot && SameLocation(*slot, *e);
    slot = e;
    if (keep_location) {  // the common update: values change, the place does not
      if (auto it = locations.find(no); it != locations.end()) it->second.entity = e;
      return;
    }
    spatial.Erase(no);
    locations.erase(no);
    IndexLocation(no, std::move(e));
  }

  // Puts `e`'s location, if it has one, in the spatial index under `no`.
  void IndexLocation(uint64_t no, EntityPtr e) {
    auto location = EntityLocation(*e);  // validated on write
    if (location && *location) {
      spatial.Insert(no, **location);
      locations.emplace(no, Located{std::move(**location), std::move(e)});
    }
  }

  // Store for a new number, the greatest so far: appended to the ordered indexes, and
  // nothing to replace.
  void StoreNew(uint64_t no, const EntityKey& key, EntityPtr e) {
    auto& of_type = by_type[key.type];
    of_type.emplace_hint(of_type.end(), no, e);
    by_no.emplace_hint(by_no.end(), no, e);
    IndexLocation(no, std::move(e));
  }

  void Unindex(uint64_t no, const EntityKey& key) {
    no_by_key.erase(key);
    auto [lo, hi] = nos_by_id.equal_range(key.id);
    for (auto it = lo; it != hi; ++it) {
      if (it->second == no) {
        nos_by_id.erase(it);
        break;
      }
    }
    if (auto t = by_type.find(key.type); t != by_type.end()) {
      t->second.erase(no);
      if (t->second.empty()) by_type.erase(t);
    }
    by_no.erase(no);
    spatial.Erase(no);
    locations.erase(no);
  }
};

// A shared hold of a tenant's state for a scan that may visit every entity, paused every
// kVisitsPerPause entities so that the writer can publish meanwhile: a scan of a million
// entities takes 100 ms and more, and writes to the tenant would wait for all of it. After
// a pause the scan goes on from where it was (WalkNumbered); an entity written meanwhile is
// seen as it was or as it is, as in a MongoDB query that yields.
class ScanLock {
 public:
  explicit ScanLock(const TenantState& t) : lock_(t.mu) {}

  // Counts one visited entity. True when the lock was let go and taken again: iterators
  // into the state are then stale and must be found again.
  bool Visited() {
    if (++visits_ % kVisitsPerPause != 0) return false;
    lock_.unlock();
    lock_.lock();  // after the writer, if it was waiting (WriterFirstMutex)
    return true;
  }

  void unlock() { lock_.unlock(); }

 private:
  static constexpr unsigned kVisitsPerPause = 1024;
  std::shared_lock<WriterFirstMutex> lock_;
  unsigned visits_ = 0;
};

// Visits the entities of the map that `find` returns (nullptr: none), in number (creation)
// order, until `visit` returns false, pausing as `scan` decides; `find` is asked again after
// each pause, as the writer may have removed the map meanwhile.
template <typename Find, typename Visit>
void WalkNumbered(ScanLock& scan, Find find, Visit visit) {
  uint64_t from = 0;
  for (const std::map<uint64_t, EntityPtr>* map = find(); map != nullptr; map = find()) {
    bool paused = false;
    for (auto it = map->lower_bound(from); it != map->end(); ++it) {
      if (!visit(it->first, it->second)) return;
      from = it->first + 1;
      if (scan.Visited()) {
        paused = true;
        break;
      }
    }
    if (!paused) return;
  }
}

// What one Apply() produced.
struct WriteEvaluation {
  std::string tenant;
  TenantState* state = nullptr;
  uint64_t seq = 0;
  TimeMs now = 0;
  std::string correlator;
  std::vector<EntityChange> changes;
  // The final state of every entity this batch touched (nullptr: deleted), in first-touch
  // order. `full`: some change to it was more than attribute writes recorded in history
  // rows (see EntityWrite::attributes_only), so its whole document must be stored.
  struct Touched {
    EntityKey key;
    EntityPtr after;
    bool full = false;
  };
  std::vector<Touched> touched;
  std::unordered_map<EntityKey, size_t, EntityKeyHash> touched_index;
  WriteBatch batch;
  int64_t entity_delta = 0;  // entities this batch creates less those it deletes

  // The latest state of `key`: this batch, then pending, then committed (nullptr: none).
  // REQUIRES: the service's write_mu_ held.
  // Expired entities count as absent.
  EntityPtr Latest(const EntityKey& key) const;
  EntityPtr LatestIncludingExpired(const EntityKey& key) const;
  // `e`, or nullptr when its dateExpires has passed (as if deleted).
  EntityPtr Unexpired(EntityPtr e) const;
  // The one entity with this id (and type) in `path`, as Latest() sees it, and its key:
  // NotFound, TooManyResults.
  struct Found {
    EntityKey key;
    EntityPtr entity;  // never null
  };
  Result<Found> FindForWrite(const std::string& id, const std::optional<std::string>& type,
                             const std::string& path) const;
  // Adds a change: its history rows, its final state, the event. `attributes_only`: the
  // change only wrote the attributes in `change.updated_attrs` (see Touched::full).
  // `written`: the attributes as the request gave them (their metadata can state the time
  // the history rows are indexed at).
  void Record(EntityChange change, const EntityKey& key, const ServiceOptions& options,
              bool attributes_only = false, const NamedList<Attribute>* written = nullptr);

  void Touch(const EntityKey& key, EntityPtr after, bool full) {
    auto [it, inserted] = touched_index.emplace(key, touched.size());
    if (inserted) {
      touched.push_back({key, std::move(after), full});
    } else {
      touched[it->second].after = std::move(after);
      touched[it->second].full |= full;
    }
  }
};

}  // namespace detail
}  // namespace zc::context
