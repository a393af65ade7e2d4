#include "app/maintenance.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace zc::app {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

// An hourly task given first_after = 0 runs at once; one without waits its interval.
TEST(MaintenanceTest, ATaskRunsFirstAfterItsFirstDelayThenAtItsInterval) {
  std::promise<void> ran;
  std::atomic<int> soon_runs{0};
  std::atomic<int> later_runs{0};
  int later_runs_when_soon_ran = -1;
  {
    Maintenance maintenance({
        {"later", hours(1), [&] { ++later_runs; }, std::nullopt},
        {"soon", hours(1),
         [&] {
           if (++soon_runs == 1) {
             later_runs_when_soon_ran = later_runs.load();
             ran.set_value();
           }
         },
         seconds(0)},
    });
    ASSERT_EQ(ran.get_future().wait_for(seconds(30)), std::future_status::ready);
  }  // stopped and joined
  EXPECT_EQ(soon_runs.load(), 1) << "then not again within the hour";
  EXPECT_EQ(later_runs_when_soon_ran, 0);
  EXPECT_EQ(later_runs.load(), 0);
}

}  // namespace
}  // namespace zc::app
