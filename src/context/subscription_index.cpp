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
  static const std::vector<uint64_t> kNone;
  const std::vector<uint64_t>* by_id = Find(by_id_, id);
  const std::vector<uint64_t>* by_type = Find(by_type_, type);
  const std::vector<uint64_t>& a = by_id != nullptr ? *by_id : kNone;
  const std::vector<uint64_t>& b = by_type != nullptr ? *by_type : kNone;
  // Three sorted buckets merged into one, each subscription once (set_union keeps one of
  // two equal elements).
  std::vector<uint64_t> ab;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(ab));
  out.clear();
  std::set_union(ab.begin(), ab.end(), any_.begin(), any_.end(), std::back_inserter(out));
}

bool SubjectIndex::Empty() const {
  return by_id_.empty() && by_type_.empty() && any_.empty();
}

}  // namespace zc::context
