#include "api/ngsi/fair_places.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace zc::api::ngsi {
namespace {

using Go = std::vector<std::pair<std::string, int>>;

TEST(FairPlacesTest, AReceiverHoldsAtMostItsShareAndTheOthersGoOn) {
  FairPlaces<int> places(4, 2);  // 4 in all, 2 per receiver
  int item = 0;
  // A receiver that never answers: two go, the rest wait.
  for (item = 1; item <= 5; ++item) EXPECT_EQ(places.TakeOrWait("dead", item), item <= 2);
  // Another receiver still finds places.
  item = 10;
  EXPECT_TRUE(places.TakeOrWait("live", item));
  item = 11;
  EXPECT_TRUE(places.TakeOrWait("live", item));
  item = 12;
  EXPECT_FALSE(places.TakeOrWait("live", item)) << "its own share is taken";
  EXPECT_EQ(places.Taken(), 4u);
  // When one of "live" is done, its next goes; "dead" keeps waiting for its own places.
  EXPECT_EQ(places.Leave("live"), (Go{{"live", 12}}));
  EXPECT_EQ(places.Leave("live"), Go{});
  EXPECT_EQ(places.Taken(), 3u);
  // When one of "dead" times out, its next waiting one takes the place, in order.
  EXPECT_EQ(places.Leave("dead"), (Go{{"dead", 3}}));
  EXPECT_EQ(places.TakeAllWaiting(), (std::vector<int>{4, 5}));
}

TEST(FairPlacesTest, ReceiversHeldBackByTheTotalTakeTurns) {
  FairPlaces<int> places(2, 2);
  int item = 1;
  EXPECT_TRUE(places.TakeOrWait("a", item));
  item = 2;
  EXPECT_TRUE(places.TakeOrWait("a", item));
  for (item = 10; item < 13; ++item) EXPECT_FALSE(places.TakeOrWait("b", item));
  for (item = 20; item < 23; ++item) EXPECT_FALSE(places.TakeOrWait("c", item));
  item = 3;
  EXPECT_FALSE(places.TakeOrWait("a", item));
  // Each freed place goes to the next receiver in turn, not to the one that freed it.
  EXPECT_EQ(places.Leave("a"), (Go{{"b", 10}}));
  EXPECT_EQ(places.Leave("a"), (Go{{"c", 20}}));
  EXPECT_EQ(places.Leave("b"), (Go{{"a", 3}}));
  EXPECT_EQ(places.Leave("c"), (Go{{"b", 11}}));
  EXPECT_EQ(places.Leave("a"), (Go{{"c", 21}}));
  EXPECT_EQ(places.Leave("b"), (Go{{"b", 12}}));
  EXPECT_EQ(places.Leave("c"), (Go{{"c", 22}}));
  EXPECT_EQ(places.Leave("b"), Go{});
  EXPECT_EQ(places.Leave("c"), Go{});
  EXPECT_EQ(places.Taken(), 0u);
  EXPECT_EQ(places.Receivers(), 0u) << "nothing is kept about idle receivers";
}

}  // namespace
}  // namespace zc::api::ngsi
