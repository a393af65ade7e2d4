#include "common/thread_name.h"

#include "common/named_pool.h"

#include <gtest/gtest.h>

#include <array>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace zc {
namespace {

std::string NameOfThisThread() {
  std::array<char, 32> buf{};
  pthread_getname_np(pthread_self(), buf.data(), buf.size());
  return buf.data();
}

TEST(ThreadNameTest, NamesTheCallingThreadAndCutsLongNames) {
  std::string short_name;
  std::string long_name;
  std::thread([&] {
    NameThisThread("zc-writer");
    short_name = NameOfThisThread();
    NameThisThread("zc-a-name-longer-than-fifteen");
    long_name = NameOfThisThread();
  }).join();
  EXPECT_EQ(short_name, "zc-writer");
  EXPECT_EQ(long_name, "zc-a-name-longe");  // Linux keeps 15 bytes
}

// Every thread of the pool is named, whichever of them runs a later job.
TEST(ThreadNameTest, NamesEveryThreadOfAPool) {
  boost::asio::thread_pool pool(4);
  NamePoolThreads(pool, 4, "zc-test-pool");
  std::mutex mu;
  std::set<std::string> names;
  for (int i = 0; i < 200; ++i) {
    boost::asio::post(pool, [&] {
      const std::string name = NameOfThisThread();
      std::lock_guard lock(mu);
      names.insert(name);
    });
  }
  pool.join();
  EXPECT_EQ(names, std::set<std::string>{"zc-test-pool"});
}

}  // namespace
}  // namespace zc
