// RateLimiter: token buckets keyed by a string (a token id, or a client IP), for the
// authorizer to enforce "rate per token" (DESIGN.md "Security") and answer 429 with
// Retry-After. The HTTP server does not call it itself: it knows no tokens.
//
// Each key has a bucket of `burst` tokens that refills at `rate_per_second`; a request
// takes one token or is refused with the whole seconds until one is available. A new key
// starts full. Keys live in 16 shards chosen by hash, each with its own mutex, so that
// I/O threads rarely contend; a Take() is one hash, one lock and one map lookup.
//
// Memory is bounded: a shard holds at most max(1, max_keys / 16) keys (so the total is at
// most max(max_keys, 16)). When a new key would exceed that, the shard first forgets the
// keys whose buckets are full again (idle callers: forgetting them changes nothing, a new
// bucket starts full too). If that frees less than an eighth of the shard (many callers
// active at once, e.g. a flood of distinct addresses), it also forgets the fullest active
// buckets down to seven eighths; those callers get a fresh burst when they come back.
// Under such a flood limits are therefore approximate, but memory stays bounded, honest
// callers are never refused for lack of room, and each sweep (O(shard size)) is paid for
// by at least an eighth of a shard of insertions.
//
// For a per-address limit, key on RequestContext::client_ip: the client's IP alone (the
// one a trusted proxy forwarded, when there is one).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace zc::http {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  struct Decision {
    bool allowed = true;
    unsigned retry_after_seconds = 0;  // when refused: whole seconds until a token (>= 1)
  };

  // `rate_per_second` 0 means unlimited (Take always allows and touches no map).
  // A burst below 1 is raised to 1 (otherwise nothing would ever pass).
  // Throws std::invalid_argument for a negative or non-finite rate or burst (start-up fault).
  RateLimiter(double rate_per_second, double burst, size_t max_keys = 100000);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes one token from `key`'s bucket at time `now`. Thread-safe. Time points earlier
  // than the bucket's last update count as no elapsed time.
  Decision Take(std::string_view key, Clock::time_point now = Clock::now());

  // Keys currently tracked (for tests and metrics). Thread-safe.
  size_t Size() const;

 private:
  static constexpr size_t kShards = 16;

  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  using BucketMap = std::unordered_map<std::string, Bucket, KeyHash, std::equal_to<>>;
  struct alignas(64) Shard {
    mutable std::mutex mu;
    BucketMap buckets;  // GUARDED_BY(mu)
  };

  Shard& ShardOf(std::string_view key);
  double Refilled(const Bucket& bucket, Clock::time_point now) const;
  // REQUIRES: shard.mu held. Makes room for one more key (see the file comment).
  void Evict(Shard& shard, Clock::time_point now) const;

  // Constant after construction.
  const double rate_;
  const double burst_;
  const size_t shard_capacity_;
  std::array<Shard, kShards> shards_;
};

}  // namespace zc::http
