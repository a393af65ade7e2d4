#include "common/thread_name.h"

#include <gtest/gtest.h>

#include <array>
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

}  // namespace
}  // namespace zc
