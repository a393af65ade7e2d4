#include "api/ngsi/query_pool.h"

#include <gtest/gtest.h>

#include <future>

namespace zc::api::ngsi {
namespace {

// Past max_in_progress (queued and running) a job is refused at once; a finished job makes
// room again.
TEST(QueryPoolTest, RefusesJobsPastItsBoundUntilOneFinishes) {
  QueryPool pool(1, 2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> first_done;
  ASSERT_TRUE(pool.TryPost([released, &first_done] {
    released.wait();
    first_done.set_value();
  }));
  std::promise<void> second_done;
  ASSERT_TRUE(pool.TryPost([&second_done] { second_done.set_value(); }));  // queued
  EXPECT_EQ(pool.InProgress(), 2u);
  bool ran = false;
  EXPECT_FALSE(pool.TryPost([&ran] { ran = true; }));
  EXPECT_EQ(pool.InProgress(), 2u);
  release.set_value();
  first_done.get_future().wait();
  second_done.get_future().wait();
  pool.Join();
  EXPECT_FALSE(ran) << "a refused job is dropped";
  EXPECT_EQ(pool.InProgress(), 0u);
}

}  // namespace
}  // namespace zc::api::ngsi
