// Unit tests of RateLimiter with explicit time points: burst, refill, Retry-After, key
// independence, the memory bound, rate 0, and concurrent use from several threads.
#include "http/rate_limiter.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace zc::http {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

const Clock::time_point kT0 = Clock::time_point{} + 1000h;

TEST(RateLimiter, AllowsTheBurstThenRefuses) {
  RateLimiter limiter(1, 3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take("k", kT0).allowed) << i;
  const auto refused = limiter.Take("k", kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 1u);
}

TEST(RateLimiter, RefillsWithElapsedTimeUpToTheBurst) {
  RateLimiter limiter(2, 2);  // two tokens per second
  EXPECT_TRUE(limiter.Take("k", kT0).allowed);
  EXPECT_TRUE(limiter.Take("k", kT0).allowed);
  EXPECT_FALSE(limiter.Take("k", kT0).allowed);
  EXPECT_FALSE(limiter.Take("k", kT0 + 499ms).allowed);  // 0.998 tokens
  EXPECT_TRUE(limiter.Take("k", kT0 + 500ms).allowed);
  // A long pause refills only up to the burst.
  EXPECT_TRUE(limiter.Take("k", kT0 + 1h).allowed);
  EXPECT_TRUE(limiter.Take("k", kT0 + 1h).allowed);
  EXPECT_FALSE(limiter.Take("k", kT0 + 1h).allowed);
}

TEST(RateLimiter, RetryAfterIsTheWholeSecondsUntilAToken) {
  RateLimiter limiter(0.1, 1);  // one token every ten seconds
  EXPECT_TRUE(limiter.Take("k", kT0).allowed);
  EXPECT_EQ(limiter.Take("k", kT0).retry_after_seconds, 10u);
  EXPECT_EQ(limiter.Take("k", kT0 + 2500ms).retry_after_seconds, 8u);  // 7.5 s, rounded up
  EXPECT_EQ(limiter.Take("k", kT0 + 9900ms).retry_after_seconds, 1u);
  EXPECT_TRUE(limiter.Take("k", kT0 + 10s).allowed);
}

TEST(RateLimiter, RefusedTakesDoNotConsumeTokens) {
  RateLimiter limiter(1, 1);
  EXPECT_TRUE(limiter.Take("k", kT0).allowed);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(limiter.Take("k", kT0 + 500ms).allowed);
  EXPECT_TRUE(limiter.Take("k", kT0 + 1s).allowed);
}

TEST(RateLimiter, EarlierTimePointsCountAsNoElapsedTime) {
  RateLimiter limiter(1, 1);
  EXPECT_TRUE(limiter.Take("k", kT0).allowed);
  EXPECT_FALSE(limiter.Take("k", kT0 - 10s).allowed);
  EXPECT_FALSE(limiter.Take("k", kT0 + 500ms).allowed);
  EXPECT_TRUE(limiter.Take("k", kT0 + 1s).allowed);
}

TEST(RateLimiter, KeysAreIndependent) {
  RateLimiter limiter(1, 1);
  EXPECT_TRUE(limiter.Take("token-a", kT0).allowed);
  EXPECT_FALSE(limiter.Take("token-a", kT0).allowed);
  EXPECT_TRUE(limiter.Take("token-b", kT0).allowed);
  EXPECT_TRUE(limiter.Take("10.0.0.1", kT0).allowed);
  EXPECT_FALSE(limiter.Take("token-b", kT0).allowed);
  EXPECT_EQ(limiter.Size(), 3u);
}

TEST(RateLimiter, RateZeroIsUnlimitedAndTracksNothing) {
  RateLimiter limiter(0, 1);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.Take("k", kT0).allowed);
  EXPECT_EQ(limiter.Size(), 0u);
}

TEST(RateLimiter, BurstBelowOneIsRaisedToOne) {
  RateLimiter limiter(1, 0);
  EXPECT_TRUE(limiter.Take("k", kT0).allowed);
  EXPECT_FALSE(limiter.Take("k", kT0).allowed);
}

TEST(RateLimiter, RejectsInvalidSettings) {
  EXPECT_THROW(RateLimiter(-1, 1), std::invalid_argument);
  EXPECT_THROW(RateLimiter(1, -1), std::invalid_argument);
  EXPECT_THROW(RateLimiter(std::numeric_limits<double>::infinity(), 1), std::invalid_argument);
}

TEST(RateLimiter, IdleKeysAreEvictedToStayWithinTheBound) {
  RateLimiter limiter(1, 2, /*max_keys=*/160);
  for (int i = 0; i < 10000; ++i) {
    // Every key is idle (full again) ten seconds after its only request.
    limiter.Take(fmt::format("idle-{}", i), kT0 + std::chrono::seconds(10 * i));
    ASSERT_LE(limiter.Size(), 160u) << i;
  }
  EXPECT_GT(limiter.Size(), 0u);
}

TEST(RateLimiter, AFloodOfActiveKeysStaysWithinTheBound) {
  RateLimiter limiter(1, 2, /*max_keys=*/160);
  for (int i = 0; i < 10000; ++i) {
    limiter.Take(fmt::format("flood-{}", i), kT0);  // all at once: none is idle
    ASSERT_LE(limiter.Size(), 160u) << i;
  }
  // A caller limited just now is still limited: its bucket is among the emptiest.
  EXPECT_TRUE(limiter.Take("busy", kT0).allowed);
  EXPECT_TRUE(limiter.Take("busy", kT0).allowed);
  EXPECT_FALSE(limiter.Take("busy", kT0).allowed);
}

TEST(RateLimiter, ManyThreadsShareOneBudgetPerKey) {
  RateLimiter limiter(1, 1000);
  std::atomic<int> allowed{0};
  std::vector<std::jthread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (limiter.Take("shared", kT0).allowed) ++allowed;
        limiter.Take(fmt::format("own-{}", i), kT0);
      }
    });
  }
  threads.clear();  // joins
  EXPECT_EQ(allowed.load(), 1000);
}

}  // namespace
}  // namespace zc::http
