#include "common/failure_log.h"

#include <gtest/gtest.h>

namespace zc {
namespace {

using std::chrono::seconds;

TEST(FailureLogTest, LogsTheFirstFailureThenOneLinePerIntervalThenTheRecovery) {
  FailureLog log("storage: committing writes", seconds(10));
  const auto t0 = FailureLog::Clock::time_point{} + seconds(1000);
  EXPECT_TRUE(log.Failed("disk full", t0));
  EXPECT_FALSE(log.Failed("disk full", t0 + seconds(1)));
  EXPECT_FALSE(log.Failed("disk full", t0 + seconds(9)));
  EXPECT_TRUE(log.Failed("disk full", t0 + seconds(10)));
  EXPECT_FALSE(log.Failed("disk full", t0 + seconds(19)));
  EXPECT_EQ(log.failures(), 5u);
  EXPECT_TRUE(log.Succeeded());
  EXPECT_EQ(log.failures(), 0u);
  EXPECT_FALSE(log.Succeeded());  // nothing to report: no failures since
  // A new run starts with a line of its own, however soon it comes.
  EXPECT_TRUE(log.Failed("I/O error", t0 + seconds(20)));
}

TEST(FailureLogTest, SuccessesAloneLogNothing) {
  FailureLog log("audit log: writing entries");
  EXPECT_FALSE(log.Succeeded());
  EXPECT_EQ(log.failures(), 0u);
}

}  // namespace
}  // namespace zc
