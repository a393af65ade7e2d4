#include "common/clock.h"

#include <gtest/gtest.h>

namespace zc {
namespace {

TEST(Clock, FormatsEpochAndKnownInstants) {
  EXPECT_EQ(FormatIso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIso8601(1795428000123), "2026-11-23T10:00:00.123Z");
}

TEST(Clock, ParsesAndRoundTrips) {
  auto t = ParseIso8601("2026-11-23T10:00:00.123Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatIso8601(*t), "2026-11-23T10:00:00.123Z");
  EXPECT_EQ(ParseIso8601("2026-11-23T18:00:00+08:00"), ParseIso8601("2026-11-23T10:00:00Z"));
  EXPECT_EQ(ParseIso8601("2026-11-23"), ParseIso8601("2026-11-23T00:00:00.000Z"));
  EXPECT_EQ(ParseIso8601("2024-02-29T00:00Z").has_value(), true);
}

TEST(Clock, RejectsInvalid) {
  for (const char* bad :
       {"", "2026", "2026-13-01", "2023-02-29", "2026-11-23T25:00", "2026-11-23T10:00:00.Z",
        "2026-11-23T10:00:00+8", "hello", "2026-11-23T10:00:00Zjunk"}) {
    EXPECT_FALSE(ParseIso8601(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace zc

namespace zc {
namespace {

// A zone offset must not move the instant out of four-digit years (FormatIso8601 could not
// write it back in a form this parser reads); found by fuzz/fuzz_ngsi_json.
TEST(Clock, RejectsInstantsOutsideFourDigitYearsInUtc) {
  EXPECT_FALSE(ParseIso8601("9999-12-31T23:30:00-01:00"));
  EXPECT_FALSE(ParseIso8601("0000-01-01T00:00:00+01:00"));
  auto last = ParseIso8601("9999-12-31T23:59:59.999Z");
  ASSERT_TRUE(last);
  EXPECT_EQ(ParseIso8601(FormatIso8601(*last)), last);
  auto first = ParseIso8601("0000-01-01T00:00:00Z");
  ASSERT_TRUE(first);
  EXPECT_EQ(ParseIso8601(FormatIso8601(*first)), first);
}

}  // namespace
}  // namespace zc
