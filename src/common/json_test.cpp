#include "common/json.h"

#include <gtest/gtest.h>

#include <string>

namespace zc::json {
namespace {

TEST(Json, ParsesValidDocuments) {
  auto v = Parse(R"({"a":[1,2.5,"x",true,null]})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->at("a").as_array().size(), 5u);
}

TEST(Json, RejectsMalformedAndTrailingGarbage) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{} x", "nul"}) {
    auto v = Parse(bad);
    ASSERT_FALSE(v) << bad;
    EXPECT_EQ(v.error().code, ErrorCode::kParseError);
  }
}

TEST(Json, EnforcesDepthLimit) {
  std::string deep(40, '[');
  deep += std::string(40, ']');
  EXPECT_FALSE(Parse(deep, {.max_depth = 32}));
  EXPECT_TRUE(Parse(deep, {.max_depth = 64}));
}

}  // namespace
}  // namespace zc::json
