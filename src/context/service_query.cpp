// The read path of the context service: entity look-up, NGSI-v2 queries and type listing.
//
// A query picks the narrowest candidate source it can (the spatial index for a geo-query,
// the id index for exact ids, the type index for exact types, otherwise every entity),
// walks it in creation order (Orion's default order) and keeps the entities that pass
// every filter. Without orderBy and without count it stops as soon as offset+limit
// matches are found, so `type=X&q=...&limit=20` touches few entities. With orderBy all
// matches are collected and partially sorted.
#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/json.h"
#include "context/pattern_search.h"
#include "context/service_impl.h"

namespace zc::context {
namespace {

using detail::ScanLock;
using detail::WalkNumbered;

bool SelectorMatches(const EntitySelector& s, const Entity& e) {
  if (s.id && *s.id != e.id) return false;
  if (s.type && *s.type != e.type) return false;
  if (s.id_pattern && !SearchPattern(*s.id_pattern, e.id)) return false;
  if (s.type_pattern && !SearchPattern(*s.type_pattern, e.type)) return false;
  return true;
}

bool AnySelectorMatches(const std::vector<EntitySelector>& selectors, const Entity& e) {
  if (selectors.empty()) return true;
  return std::any_of(selectors.begin(), selectors.end(),
                     [&](const EntitySelector& s) { return SelectorMatches(s, e); });
}

bool AllSelectorsHaveExactId(const std::vector<EntitySelector>& selectors) {
  return !selectors.empty() && std::all_of(selectors.begin(), selectors.end(),
                                           [](const auto& s) { return s.id.has_value(); });
}

bool AllSelectorsHaveExactType(const std::vector<EntitySelector>& selectors) {
  return !selectors.empty() && std::all_of(selectors.begin(), selectors.end(),
                                           [](const auto& s) { return s.type.has_value(); });
}

// The entities of `type` by number, or nullptr when there are none.
const std::map<uint64_t, EntityPtr>* TypeIndex(const detail::TenantState& t,
                                               const std::string& type) {
  auto it = t.by_type.find(type);
  return it == t.by_type.end() ? nullptr : &it->second;
}

// Walks candidate entities in creation order until `visit` returns false, pausing as
// `scan` decides.
template <typename Visit>
void ForEachCandidate(const detail::TenantState& t, ScanLock& scan, const EntityQuery& q,
                      Visit visit) {
  // Numbers gathered beforehand are looked up one by one, so a pause needs no repair.
  auto visit_numbers = [&](std::vector<uint64_t> nos) {
    std::sort(nos.begin(), nos.end());
    nos.erase(std::unique(nos.begin(), nos.end()), nos.end());
    for (uint64_t no : nos) {
      auto it = t.by_no.find(no);
      if (it != t.by_no.end() && !visit(no, it->second)) return;
      scan.Visited();
    }
  };
  if (q.geo) {
    std::vector<uint64_t> nos;
    if (t.spatial.Candidates(*q.geo, nos) == SpatialIndex::Scan::kCandidates) {
      std::sort(nos.begin(), nos.end());  // creation order
      for (uint64_t no : nos) {
        auto it = t.locations.find(no);
        if (it != t.locations.end() && !visit(no, it->second.entity)) return;
        scan.Visited();
      }
      return;
    }
  }
  if (AllSelectorsHaveExactId(q.selectors)) {
    std::vector<uint64_t> nos;
    for (const auto& s : q.selectors) {
      if (!s.id) continue;  // (AllSelectorsHaveExactId: never; for the optional's checker)
      auto [lo, hi] = t.nos_by_id.equal_range(*s.id);
      for (auto it = lo; it != hi; ++it) nos.push_back(it->second);
    }
    return visit_numbers(std::move(nos));
  }
  if (AllSelectorsHaveExactType(q.selectors) && q.selectors.size() == 1) {
    const std::string& type = q.selectors.front().type.value_or("");
    return WalkNumbered(
        scan, [&] { return TypeIndex(t, type); }, visit);
  }
  if (AllSelectorsHaveExactType(q.selectors)) {
    std::vector<uint64_t> nos;
    for (const auto& s : q.selectors) {
      if (!s.type) continue;  // (AllSelectorsHaveExactType: never)
      if (auto it = t.by_type.find(*s.type); it != t.by_type.end()) {
        for (const auto& [no, e] : it->second) nos.push_back(no);
      }
    }
    return visit_numbers(std::move(nos));
  }
  WalkNumbered(
      scan, [&] { return &t.by_no; }, visit);
}

bool PassesFilters(const detail::TenantState& t, const PathScope& scope, const EntityQuery& q,
                   uint64_t no, const Entity& e, TimeMs now) {
  if (e.expires && *e.expires <= now) return false;
  if (!scope.Matches(e.service_path)) return false;
  if (!AnySelectorMatches(q.selectors, e)) return false;
  if (q.q && !q.q->Matches(e)) return false;
  if (q.mq && !q.mq->Matches(e)) return false;
  if (!q.with_any_attr.empty() &&
      std::ranges::none_of(q.with_any_attr, [&e](const std::string& a) { return e.Find(a); })) {
    return false;
  }
  if (q.geo) {
    auto loc = t.locations.find(no);
    if (loc == t.locations.end() || !Matches(*q.geo, loc->second.geometry)) return false;
  }
  return true;
}

struct Match {
  EntityPtr entity;
  double distance = 0;  // metres to the near-query point, when ordering by geo:distance
};

// Stable-sorts matches by `order`, only as far as the first `wanted` are concerned.
void SortMatches(const OrderBy& order, std::vector<Match>& matches, size_t wanted) {
  auto less = [&](const Match& a, const Match& b) {
    return order.Less(*a.entity, a.distance, *b.entity, b.distance);
  };
  if (wanted < matches.size() / 4) {
    std::partial_sort(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(wanted),
                      matches.end(), [&](const Match& a, const Match& b) {
                        // partial_sort is not stable: break ties by creation order.
                        if (less(a, b)) return true;
                        if (less(b, a)) return false;
                        return a.entity->created < b.entity->created;
                      });
  } else {
    std::stable_sort(matches.begin(), matches.end(), less);
  }
}

// Gathers a TypeInfo: the entities of one type and the names and types of their
// attributes, in first-seen order, within a byte budget shared by every type of a listing.
class TypeCounter {
 public:
  TypeCounter(std::string type, bool attrs, size_t& budget)
      : attrs_(attrs), budget_(budget), info_{.type = std::move(type)} {}

  // False once the attributes gathered would pass the budget.
  bool Count(const Entity& e) {
    ++info_.count;
    if (!attrs_) return true;
    for (const auto& [name, attr] : e.attrs) {
      size_t place = Find(name);
      if (place == kAbsent) {
        if (!Spend(name.size() + kNameFrame)) return false;
        place = info_.attrs.size();
        info_.attrs.emplace_back(name, std::vector<std::string>{});
        if (!index_.empty()) index_.emplace(name, place);
      }
      auto& types = info_.attrs[place].second;
      if (std::find(types.begin(), types.end(), attr.type) == types.end()) {
        if (!Spend(attr.type.size() + kTypeFrame)) return false;
        types.push_back(attr.type);
      }
    }
    return true;
  }

  TypeInfo Take() && { return std::move(info_); }

 private:
  static constexpr size_t kNameFrame = 16;  // "name":{"types":[]},
  static constexpr size_t kTypeFrame = 3;   // "Number",

  static constexpr size_t kAbsent = SIZE_MAX;
  static constexpr size_t kLinearNames = 32;  // beyond: a hash index

  // The place of `name` in info_.attrs, or kAbsent. Most types have a few attribute names
  // that a linear search finds faster than a hash; one whose entities name their
  // attributes each their own way gets the index, so that counting stays linear.
  size_t Find(const std::string& name) {
    if (index_.empty()) {
      for (size_t i = 0; i < info_.attrs.size(); ++i) {
        if (info_.attrs[i].first == name) return i;
      }
      if (info_.attrs.size() < kLinearNames) return kAbsent;
      for (size_t i = 0; i < info_.attrs.size(); ++i) index_.emplace(info_.attrs[i].first, i);
    }
    auto it = index_.find(name);
    return it == index_.end() ? kAbsent : it->second;
  }

  bool Spend(size_t bytes) {
    if (bytes > budget_) return false;
    budget_ -= bytes;
    return true;
  }

  bool attrs_;
  size_t& budget_;
  TypeInfo info_;
  std::unordered_map<std::string, size_t> index_;  // name -> place, past kLinearNames names
};

}  // namespace

Result<EntityPtr> ContextService::Get(const std::string& tenant, const PathScope& scope,
                                      std::string_view id,
                                      std::optional<std::string_view> type) const {
  const Tenant* t = FindTenant(tenant);
  EntityPtr found;
  if (t) {
    const TimeMs now = NowMs();
    std::shared_lock lock(t->mu);
    auto [lo, hi] = t->nos_by_id.equal_range(std::string(id));
    for (auto it = lo; it != hi; ++it) {
      const EntityPtr& e = t->by_no.at(it->second);
      if ((type && e->type != *type) || !scope.Matches(e->service_path)) continue;
      if (e->expires && *e->expires <= now) continue;
      if (found) {
        return Fail(
            Error::TooManyResults("More than one matching entity. Please refine your query"));
      }
      found = e;
    }
  }
  if (!found) {
    return Fail(Error::NotFound("The requested entity has not been found. Check type and id"));
  }
  return found;
}

Result<QueryResult> ContextService::Query(const std::string& tenant, const PathScope& scope,
                                          const EntityQuery& q) const {
  QueryResult result;
  const Tenant* t = FindTenant(tenant);
  if (!t) return result;
  const TimeMs now = NowMs();
  // A near query without orderBy returns the nearest first (as MongoDB's $near in Orion).
  const bool near_default = q.geo && q.geo->rel == GeoRel::kNear && !q.order_by;
  const bool sorted = q.order_by.has_value() || near_default;
  const size_t wanted = q.offset + q.limit;
  const bool by_distance = near_default || (sorted && q.geo && q.order_by->UsesGeoDistance());
  std::vector<Match> matches;
  size_t visits = 0;
  ScanLock scan(*t);
  ForEachCandidate(*t, scan, q, [&](uint64_t no, const EntityPtr& e) {
    if (q.max_visits != 0 && ++visits > q.max_visits) {
      result.gave_up = true;
      return false;
    }
    if (!PassesFilters(*t, scope, q, no, *e, now)) return true;
    ++result.total;
    if (sorted || matches.size() < wanted) {
      const double d = by_distance ? DistanceMetres(*q.geo, t->locations.at(no).geometry) : 0;
      matches.push_back({e, d});
    }
    return sorted || q.count || matches.size() < wanted;
  });
  scan.unlock();
  if (result.gave_up) {
    queries_given_up_.Add();
    return QueryResult{.gave_up = true};
  }
  if (near_default) {
    std::stable_sort(matches.begin(), matches.end(),
                     [](const Match& a, const Match& b) { return a.distance < b.distance; });
  } else if (sorted) {
    SortMatches(*q.order_by, matches, wanted);
  }
  for (size_t i = q.offset; i < matches.size() && i < wanted; ++i) {
    result.entities.push_back(std::move(matches[i].entity));
  }
  return result;
}

Result<std::vector<TypeInfo>> ContextService::Types(const std::string& tenant,
                                                    const PathScope& scope,
                                                    const TypeListing& listing) const {
  std::vector<TypeInfo> out;
  const Tenant* t = FindTenant(tenant);
  if (!t) return out;
  ScanLock scan(*t);
  std::vector<std::string> types;
  if (listing.type) {
    types.push_back(*listing.type);
  } else {
    types.reserve(t->by_type.size());
    for (const auto& entry : t->by_type) types.push_back(entry.first);
    std::sort(types.begin(), types.end());
  }
  const TimeMs now = NowMs();
  size_t budget = listing.max_bytes;
  for (const std::string& type : types) {
    TypeCounter counter(type, listing.attrs, budget);
    bool fits = true;
    WalkNumbered(
        scan, [&] { return TypeIndex(*t, type); },
        [&](uint64_t, const EntityPtr& e) {
          if (!scope.Matches(e->service_path) || (e->expires && *e->expires <= now)) return true;
          fits = counter.Count(*e);
          return fits;
        });
    if (!fits) {
      return Fail(json::AnswerTooLarge(listing.max_bytes,
                                       "attributes (options=values lists the types alone)"));
    }
    TypeInfo info = std::move(counter).Take();
    if (info.count > 0) out.push_back(std::move(info));
  }
  return out;
}

}  // namespace zc::context
