#include "context/subscription_index.h"

#include <algorithm>
#include <iterator>

namespace zc::context {
namespace {

// Inserts `seq` keeping `bucket` sorted and without repeats (a subscription whose elements
// share a bucket is filed there once). Sequences grow, so this is an append at Add.
void InsertSorted(std::vector<uint64_t>& bucket, uint64_t seq) {
  auto at = std::lower_bound(bucket.begin(), bucket.end(), seq);
  if (at == bucket.end() || *at != seq) bucket.insert(at, seq);
}

void EraseSorted(std::vector<uint64_t>& bucket, uint64_t seq) {
  auto at = std::lower_bound(bucket.begin(), bucket.end(), seq);
  if (at != bucket.end() && *at == seq) bucket.erase(at);
}

// Removes `seq` from the bucket under `key`, and the bucket when it empties.
void EraseFrom(std::unordered_map<std::string, std::vector<uint64_t>>& buckets,
               const std::string& key, uint64_t seq) {
  auto it = buckets.find(key);
  if (it == buckets.end()) return;
  EraseSorted(it->second, seq);
  if (it->second.empty()) buckets.erase(it);
}

const std::vector<uint64_t>* Find(
    const std::unordered_map<std::string, std::vector<uint64_t>>& buckets, const std::string& key) {
  auto it = buckets.find(key);
  return it == buckets.end() ? nullptr : &it->second;
}

}  // namespace

std::vector<uint64_t>& SubjectIndex::BucketOf(const EntitySubject& element) {
  if (element.id) return by_id_[*element.id];
  if (element.type) return by_type_[*element.type];
  return any_;
}

void SubjectIndex::Add(uint64_t seq, const std::vector<EntitySubject>& subject) {
  for (const EntitySubject& element : subject) InsertSorted(BucketOf(element), seq);
}

void SubjectIndex::Remove(uint64_t seq, const std::vector<EntitySubject>& subject) {
  for (const EntitySubject& element : subject) {
    if (element.id) {
      EraseFrom(by_id_, *element.id, seq);
    } else if (element.type) {
      EraseFrom(by_type_, *element.type, seq);
    } else {
      EraseSorted(any_, seq);
    }
  }
}

void SubjectIndex::Candidates(const std::string& id, const std::string& type,
                              std::vector<uint64_t>& out) const {
  out.clear();
  // The sorted buckets the change falls in, merged into one, each subscription once
  // (set_union keeps one of two equal elements). Usually one bucket has anything: it is
  // copied into `out`, whose capacity the caller keeps, with no merge and no allocation.
  for (const std::vector<uint64_t>* bucket : {Find(by_id_, id), Find(by_type_, type), &any_}) {
    if (bucket == nullptr || bucket->empty()) continue;
    if (out.empty()) {
      out.assign(bucket->begin(), bucket->end());
      continue;
    }
    std::vector<uint64_t> merged;
    merged.reserve(out.size() + bucket->size());
    std::set_union(out.begin(), out.end(), bucket->begin(), bucket->end(),
                   std::back_inserter(merged));
    out.swap(merged);
  }
}

bool SubjectIndex::Empty() const {
  return by_id_.empty() && by_type_.empty() && any_.empty();
}

}  // namespace zc::context
