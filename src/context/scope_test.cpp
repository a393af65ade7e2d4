#include "context/scope.h"

#include <gtest/gtest.h>

namespace zc::context {
namespace {

TEST(Scope, TenantIsLowercasedAndValidated) {
  EXPECT_EQ(ParseTenant("Gaoming_1").value(), "gaoming_1");
  EXPECT_EQ(ParseTenant("").value(), "");
  EXPECT_FALSE(ParseTenant("bad-name"));
  EXPECT_FALSE(ParseTenant(std::string(51, 'a')));
}

TEST(Scope, WritePathRules) {
  EXPECT_EQ(ParseWritePath("").value(), "/");
  EXPECT_EQ(ParseWritePath("/a/b").value(), "/a/b");
  EXPECT_EQ(ParseWritePath("/a/b/").value(), "/a/b");
  EXPECT_FALSE(ParseWritePath("/a/#"));
  EXPECT_FALSE(ParseWritePath("/a,/b"));
  EXPECT_FALSE(ParseWritePath("a"));
  EXPECT_FALSE(ParseWritePath("/a-b"));
  EXPECT_FALSE(ParseWritePath("/a//b"));
  EXPECT_FALSE(ParseWritePath("/1/2/3/4/5/6/7/8/9/10/11"));
  EXPECT_FALSE(ParseWritePath("/" + std::string(51, 'x')));
}

TEST(Scope, ReadScopesMatchExactAndSubtree) {
  auto s = PathScope::Parse("/a/#, /c");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->Matches("/a"));
  EXPECT_TRUE(s->Matches("/a/b/c"));
  EXPECT_FALSE(s->Matches("/ab"));
  EXPECT_TRUE(s->Matches("/c"));
  EXPECT_FALSE(s->Matches("/c/d"));
  EXPECT_FALSE(s->Matches("/"));
  EXPECT_TRUE(PathScope::Parse("").value().Matches("/x/y"));
  EXPECT_TRUE(PathScope::Parse("/#").value().IsAll());
  EXPECT_TRUE(PathScope::Parse("/").value().Matches("/"));
  EXPECT_FALSE(PathScope::Parse("/").value().Matches("/a"));
}

TEST(Scope, SubtreesReadEveryPathAsAPrefix) {
  auto s = PathScope::Parse("/a, /c/#").value().Subtrees();
  EXPECT_TRUE(s.Matches("/a"));
  EXPECT_TRUE(s.Matches("/a/b"));
  EXPECT_FALSE(s.Matches("/ab"));
  EXPECT_TRUE(s.Matches("/c/d"));
  EXPECT_FALSE(s.Matches("/"));
  EXPECT_EQ(s.Patterns(), (std::vector<std::string>{"/a/#", "/c/#"}));
  EXPECT_TRUE(PathScope::Parse("/").value().Subtrees().IsAll());
  EXPECT_TRUE(PathScope::Parse("").value().Subtrees().IsAll());
}

TEST(Scope, WithinGrantedPrefixes) {
  auto within = [](std::string_view header, const std::vector<std::string>& prefixes) {
    return PathScope::Parse(header)->Within(prefixes);
  };
  EXPECT_TRUE(within("/water", {"/water"}));
  EXPECT_TRUE(within("/water/#", {"/water"}));
  EXPECT_TRUE(within("/water/gauges", {"/water"}));
  EXPECT_TRUE(within("/water,/traffic/#", {"/traffic", "/water"}));
  EXPECT_TRUE(within("/#", {"/"}));
  EXPECT_TRUE(within("/water", {"/"}));
  EXPECT_FALSE(within("/#", {"/water"}));
  EXPECT_FALSE(within("/", {"/water"}));
  EXPECT_FALSE(within("/waterworks", {"/water"}));
  EXPECT_FALSE(within("/water/#", {"/water/gauges"}));
  EXPECT_FALSE(within("/water,/traffic", {"/water"}));
  EXPECT_FALSE(within("/water", {}));
}

TEST(Scope, ReadScopeErrors) {
  EXPECT_FALSE(PathScope::Parse("/a#"));
  EXPECT_FALSE(PathScope::Parse("/a,/b,/c,/d,/e,/f,/g,/h,/i,/j,/k"));
  EXPECT_FALSE(PathScope::Parse("/a,,/b"));
}

}  // namespace
}  // namespace zc::context
