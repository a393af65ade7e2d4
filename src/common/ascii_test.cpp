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

TEST(Ascii, HttpFieldSyntax) {
  EXPECT_TRUE(IsHttpToken("X-Request-Id"));
  EXPECT_TRUE(IsHttpToken("a!#$%&'*+-.^_`|~9"));
  EXPECT_FALSE(IsHttpToken(""));
  EXPECT_FALSE(IsHttpToken("X A"));
  EXPECT_FALSE(IsHttpToken("X-A:"));
  EXPECT_FALSE(IsHttpToken("名前"));
  EXPECT_TRUE(IsHttpFieldValue("text\twith tab, 中文"));
  EXPECT_FALSE(IsHttpFieldValue("a\r\nX-Injected: 1"));
  EXPECT_FALSE(IsHttpFieldValue(std::string_view("nul\0byte", 8)));
  EXPECT_FALSE(IsHttpFieldValue("del\x7f"));
}

}  // namespace
}  // namespace zc
