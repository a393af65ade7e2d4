#include "identity/credentials.h"

#include <gtest/gtest.h>

namespace zc::identity {
namespace {

TEST(CredentialsTest, BearerFromEitherHeader) {
  EXPECT_EQ(BearerToken("Bearer abc.DEF-1", "")->value(), "abc.DEF-1");
  EXPECT_EQ(BearerToken("bearer  abc ", "")->value(), "abc");
  EXPECT_EQ(BearerToken("", "abc")->value(), "abc");
  EXPECT_EQ(BearerToken("Bearer abc", "abc")->value(), "abc");
  EXPECT_FALSE(BearerToken("", "")->has_value());
}

TEST(CredentialsTest, MalformedHeadersAreUnauthorized) {
  EXPECT_EQ(BearerToken("Basic abc", "").error().code, ErrorCode::kUnauthorized);
  EXPECT_FALSE(BearerToken("Bearer", ""));
  EXPECT_FALSE(BearerToken("Bearer a b", ""));
  EXPECT_FALSE(BearerToken("Bearer abc", "xyz"));
  EXPECT_FALSE(BearerToken("", "bad token"));
  EXPECT_FALSE(BearerToken("Bearer " + std::string(600, 'a'), ""));
}

TEST(CredentialsTest, BasicDecodesFormEncodedIdAndSecret) {
  // base64("gauge%2017:s3cr+t") = Z2F1Z2UlMjAxNzpzM2NyK3Q=
  auto c = ParseBasic("Basic Z2F1Z2UlMjAxNzpzM2NyK3Q=");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->id, "gauge 17");
  EXPECT_EQ(c->secret, "s3cr t");
  EXPECT_FALSE(ParseBasic("Basic !!!"));
  EXPECT_FALSE(ParseBasic("Basic Zm9v"));  // "foo": no colon
  EXPECT_FALSE(ParseBasic("Bearer Zm9vOmJhcg=="));
}

}  // namespace
}  // namespace zc::identity
