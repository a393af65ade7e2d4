#include "common/ascii.h"

#include <gtest/gtest.h>

namespace zc {
namespace {

TEST(AsciiTest, IEqualsIgnoresAsciiCaseOnly) {
  EXPECT_TRUE(IEquals("Content-Type", "content-type"));
  EXPECT_TRUE(IEquals("", ""));
  EXPECT_FALSE(IEquals("Bearer", "Bearer "));
  EXPECT_FALSE(IEquals("Basic", "Bearer"));
  // Bytes outside ASCII are compared as they are.
  EXPECT_TRUE(IEquals("\xC3\xA9", "\xC3\xA9"));
  EXPECT_FALSE(IEquals("\xC3\xA9", "\xC3\x89"));
  // '@' and '`' sit next to 'A' and 'Z' and are no letters.
  EXPECT_FALSE(IEquals("@", "`"));
  EXPECT_FALSE(IEquals("[", "{"));
}

}  // namespace
}  // namespace zc
