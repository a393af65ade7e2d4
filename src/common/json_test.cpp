#include "common/json.h"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <random>
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
  auto refused = Parse(deep, {.max_depth = 32});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kParseError);
  EXPECT_EQ(refused.error().message, "JSON nested deeper than 32 levels of objects and arrays");
  EXPECT_TRUE(Parse(deep, {.max_depth = 64}));
}

// What a correctly rounding conversion gives for `text`.
double Exact(std::string_view text) {
  double d = 0;
  std::from_chars(text.data(), text.data() + text.size(), d);
  return d;
}

TEST(Json, ReadsNumbersAsTheNearestDouble) {
  // The first was one unit in the last place off with Boost 1.81's own conversion (a real
  // river level computed in a test); the others are classic hard cases.
  for (const char* text :
       {"-0.22699406087817986", "0.1", "2.2250738585072011e-308", "4.9406564584124654e-324",
        "1.7976931348623157e308", "9007199254740993.0", "0.30000000000000004", "1e23",
        "8.98846567431158e307", "123456789012345678901234567890.5e-10"}) {
    auto v = Parse(std::string("[") + text + "]");
    ASSERT_TRUE(v) << text;
    EXPECT_EQ(v->as_array()[0].as_double(), Exact(text)) << text;
  }
}

TEST(Json, ReadsBackWhatItWritesForRandomDoubles) {
  std::mt19937_64 random(20261206);
  std::uniform_int_distribution<uint64_t> bits;
  int checked = 0;
  while (checked < 20000) {
    const auto d = std::bit_cast<double>(bits(random));
    if (!std::isfinite(d)) continue;
    const std::string text = Dump(bj::value(d));
    auto v = Parse(text);
    ASSERT_TRUE(v) << text;
    const double back = v->is_double() ? v->as_double() : v->to_number<double>();
    ASSERT_EQ(std::bit_cast<uint64_t>(back), std::bit_cast<uint64_t>(d)) << text;
    ++checked;
  }
}

TEST(Json, ANumberBeyondTheDoubleRangeIsNotFinite) {
  auto v = Parse("[1e400]");
  ASSERT_TRUE(v);
  EXPECT_FALSE(std::isfinite(v->as_array()[0].as_double()));
}

}  // namespace
}  // namespace zc::json
