#include "common/writer_first_mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>

namespace zc {
namespace {

TEST(WriterFirstMutexTest, SharedHoldsGoTogetherAndExcludeTheWriter) {
  WriterFirstMutex mu;
  std::shared_lock a(mu);
  ASSERT_TRUE(mu.try_lock_shared());
  mu.unlock_shared();
  EXPECT_FALSE(mu.try_lock());
  a.unlock();
  ASSERT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock_shared());
  mu.unlock();
}

// The point of it: once a writer waits, a new reader waits behind it (std::shared_mutex on
// glibc lets the reader in, and overlapping readers keep the writer out indefinitely).
TEST(WriterFirstMutexTest, AWaitingWriterGoesBeforeNewReaders) {
  WriterFirstMutex mu;
  std::shared_lock reader(mu);
  std::atomic<bool> written = false;
  std::thread writer([&] {
    std::unique_lock lock(mu);
    written = true;
  });
  // Until the writer is queued a second reader gets in; after, it must not.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < give_up) {
    if (mu.try_lock_shared()) {
      mu.unlock_shared();
      std::this_thread::yield();
    } else {
      refused = true;
    }
  }
  EXPECT_TRUE(refused) << "a reader got in while the writer waited";
  EXPECT_FALSE(written);
  reader.unlock();
  writer.join();
  EXPECT_TRUE(written);
  EXPECT_TRUE(mu.try_lock_shared());
  mu.unlock_shared();
}

}  // namespace
}  // namespace zc
