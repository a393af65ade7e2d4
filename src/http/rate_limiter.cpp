// Token buckets in mutex-protected shards; the design and the eviction policy are
// described in rate_limiter.h. Buckets store the tokens left at their last update and are
// refilled lazily, from the elapsed time, when a key is taken or a shard is swept.
#include "http/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

namespace zc::http {
namespace {

double CheckedRate(double rate) {
  if (!std::isfinite(rate) || rate < 0) {
    throw std::invalid_argument("rate limiter: rate must be finite and >= 0");
  }
  return rate;
}

double CheckedBurst(double burst) {
  if (!std::isfinite(burst) || burst < 0) {
    throw std::invalid_argument("rate limiter: burst must be finite and >= 0");
  }
  return std::max(burst, 1.0);
}

}  // namespace

RateLimiter::RateLimiter(double rate_per_second, double burst, size_t max_keys)
    : rate_(CheckedRate(rate_per_second)),
      burst_(CheckedBurst(burst)),
      shard_capacity_(std::max<size_t>(1, max_keys / kShards)) {}

RateLimiter::Decision RateLimiter::Take(std::string_view key, Clock::time_point now) {
  if (rate_ == 0) return {true, 0};
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= shard_capacity_) Evict(shard, now);
    it = shard.buckets.emplace(std::string(key), Bucket{burst_, now}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens = Refilled(bucket, now);
  bucket.updated = std::max(bucket.updated, now);
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return {true, 0};
  }
  const double wait = std::ceil((1 - bucket.tokens) / rate_);
  return {false, static_cast<unsigned>(std::clamp(wait, 1.0, 4294967295.0))};
}

size_t RateLimiter::Size() const {
  size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    total += shard.buckets.size();
  }
  return total;
}

RateLimiter::Shard& RateLimiter::ShardOf(std::string_view key) {
  // The top bits of a multiplicative mix, so that the shard does not correlate with the
  // map's own bucket index (the low bits of the same hash).
  const uint64_t mixed = static_cast<uint64_t>(KeyHash{}(key)) * 0x9e3779b97f4a7c15ULL;
  return shards_[mixed >> 60];  // kShards == 16: the top four bits
}

double RateLimiter::Refilled(const Bucket& bucket, Clock::time_point now) const {
  if (now <= bucket.updated) return bucket.tokens;
  const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
  return std::min(burst_, bucket.tokens + elapsed * rate_);
}

void RateLimiter::Evict(Shard& shard, Clock::time_point now) const {
  BucketMap& buckets = shard.buckets;
  std::erase_if(buckets, [&](const auto& entry) { return Refilled(entry.second, now) >= burst_; });
  const size_t keep = shard_capacity_ - std::max<size_t>(1, shard_capacity_ / 8);
  if (buckets.size() <= keep) return;
  // Still crowded with active callers: forget the fullest buckets (the least limited).
  std::vector<std::pair<double, BucketMap::iterator>> by_tokens;
  by_tokens.reserve(buckets.size());
  for (auto it = buckets.begin(); it != buckets.end(); ++it) {
    by_tokens.emplace_back(Refilled(it->second, now), it);
  }
  const size_t drop = buckets.size() - keep;
  std::nth_element(by_tokens.begin(), by_tokens.begin() + static_cast<ptrdiff_t>(drop),
                   by_tokens.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = 0; i < drop; ++i) buckets.erase(by_tokens[i].second);
}

}  // namespace zc::http
