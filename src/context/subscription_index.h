// Which subscriptions of a tenant a change may trigger, without looking at all of them.
//
// Every change used to be matched against every subscription of its tenant, on the writer
// thread: with 10,000 subscriptions (the default limit per tenant) of other entity types,
// an op/update of 1,000 entities took 2.2 s instead of 5 ms, and held up every write of
// every tenant meanwhile. The index files each subscription under what its subject names
// exactly, element by element (an `entities` item): an entity id, else an entity type,
// else nothing (an idPattern without a type, or a typePattern: those are candidates for
// every change). Candidates() returns the subscriptions filed under the change's id, its
// type, or nothing, in creation order (the order notifications are built in); the full
// match (patterns, service path, conditions) still decides, so the index only has to
// never leave out a subscription that matches.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "context/subscription.h"

namespace zc::context {

class SubjectIndex {
 public:
  // Files subscription `seq` (its creation order) under each element of `subject`.
  void Add(uint64_t seq, const std::vector<EntitySubject>& subject);
  // Removes what Add(seq, subject) filed; `subject` must be the one it was added with.
  void Remove(uint64_t seq, const std::vector<EntitySubject>& subject);
  // The subscriptions a change of entity (`id`, `type`) may trigger, in creation order,
  // each once. Into `out` (cleared first).
  void Candidates(const std::string& id, const std::string& type, std::vector<uint64_t>& out) const;
  bool Empty() const;

 private:
  using Buckets = std::unordered_map<std::string, std::vector<uint64_t>>;
  // The bucket an element is filed in: by its exact id, else its exact type, else any_.
  std::vector<uint64_t>& BucketOf(const EntitySubject& element);

  Buckets by_id_;
  Buckets by_type_;
  std::vector<uint64_t> any_;  // in creation order, like every bucket
};

}  // namespace zc::context
