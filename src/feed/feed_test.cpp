#include "feed/feed.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace zc::feed {
namespace {

TEST(Feed, DeliversToEverySubscriberInOrder) {
  Topic<std::string> topic;
  std::vector<std::string> seen;
  topic.Subscribe([&](const std::string& e) { seen.push_back("a:" + e); });
  topic.Subscribe([&](const std::string& e) { seen.push_back("b:" + e); });
  topic.Publish("1");
  topic.Publish("2");
  EXPECT_EQ(seen, (std::vector<std::string>{"a:1", "b:1", "a:2", "b:2"}));
}

TEST(Feed, PublishWithoutSubscribersIsHarmless) {
  Topic<int> topic;
  EXPECT_FALSE(topic.HasSubscribers());
  topic.Publish(1);
}

}  // namespace
}  // namespace zc::feed
