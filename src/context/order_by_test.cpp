// Tests of orderBy: parsing, errors, and the order across keys, directions and value types.
#include "context/order_by.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace zc::context {
namespace {

Entity Make(std::string id, NamedList<Attribute> attrs = {}) {
  Entity e;
  e.id = std::move(id);
  e.type = "Room";
  e.attrs = std::move(attrs);
  return e;
}

Attribute Attr(bj::value v, std::string type = "Number") {
  Attribute a;
  a.type = std::move(type);
  a.value = std::move(v);
  return a;
}

// The ids of `entities` after a stable sort by `order_by`.
std::vector<std::string> Sorted(std::string_view order_by, std::vector<Entity> entities) {
  auto order = OrderBy::Parse(order_by);
  EXPECT_TRUE(order.has_value()) << order_by;
  if (!order) return {};
  std::stable_sort(entities.begin(), entities.end(),
                   [&](const Entity& a, const Entity& b) { return order->Less(a, b); });
  std::vector<std::string> ids;
  for (const Entity& e : entities) ids.push_back(e.id);
  return ids;
}

using Ids = std::vector<std::string>;

void ExpectBad(std::string_view text, std::string_view fragment) {
  auto order = OrderBy::Parse(text);
  ASSERT_FALSE(order.has_value()) << "accepted: " << text;
  EXPECT_EQ(order.error().code, ErrorCode::kBadRequest);
  EXPECT_NE(order.error().message.find(fragment), std::string::npos) << order.error().message;
}

TEST(OrderByParse, KeysAndDirections) {
  auto order = OrderBy::Parse("temperature,!name");
  ASSERT_TRUE(order);
  ASSERT_EQ(order->keys().size(), 2u);
  EXPECT_EQ(order->keys()[0].field, OrderBy::Key::Field::kAttribute);
  EXPECT_EQ(order->keys()[0].attribute, "temperature");
  EXPECT_FALSE(order->keys()[0].descending);
  EXPECT_EQ(order->keys()[1].attribute, "name");
  EXPECT_TRUE(order->keys()[1].descending);
  EXPECT_FALSE(order->UsesGeoDistance());
  EXPECT_FALSE(order->Empty());
}

TEST(OrderByParse, Builtins) {
  auto order = OrderBy::Parse("id,!type,dateCreated,dateModified,dateExpires,geo:distance");
  ASSERT_TRUE(order);
  using Field = OrderBy::Key::Field;
  const std::vector<Field> expected = {Field::kId,          Field::kType,
                                       Field::kDateCreated, Field::kDateModified,
                                       Field::kDateExpires, Field::kGeoDistance};
  ASSERT_EQ(order->keys().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(order->keys()[i].field, expected[i]);
  EXPECT_TRUE(order->keys()[1].descending);
  EXPECT_TRUE(order->UsesGeoDistance());
}

TEST(OrderByParse, WhitespaceAroundItemsIsIgnored) {
  auto order = OrderBy::Parse(" temperature , ! name ");
  ASSERT_TRUE(order);
  ASSERT_EQ(order->keys().size(), 2u);
  EXPECT_EQ(order->keys()[1].attribute, "name");
  EXPECT_TRUE(order->keys()[1].descending);
}

TEST(OrderByParse, Errors) {
  ExpectBad("", "empty");
  ExpectBad("  ", "empty");
  ExpectBad(",", "empty item");
  ExpectBad("a,,b", "empty item");
  ExpectBad("a,", "empty item");
  ExpectBad("!", "empty item");
  ExpectBad("!!a", "invalid attribute name");
  ExpectBad("tem perature", "invalid attribute name");
  ExpectBad("na'me", "invalid attribute name");
  ExpectBad("a=b", "invalid attribute name");
  std::string many = "a0";
  for (size_t i = 1; i <= kMaxOrderByKeys; ++i) many += ",a" + std::to_string(i);
  ExpectBad(many, "more than 16 keys");
  ExpectBad(std::string(kMaxOrderByLength + 1, 'a'), "longer than 1024");
  EXPECT_TRUE(OrderBy::Parse(std::string(kMaxOrderByLength, 'a')).has_value());
}

TEST(OrderByLess, NumbersAscendingAndDescending) {
  std::vector<Entity> es = {Make("a", {{"t", Attr(20)}}), Make("b", {{"t", Attr(-3.5)}}),
                            Make("c", {{"t", Attr(100)}}), Make("d", {{"t", Attr(21.25)}})};
  EXPECT_EQ(Sorted("t", es), (Ids{"b", "a", "d", "c"}));
  EXPECT_EQ(Sorted("!t", es), (Ids{"c", "d", "a", "b"}));
}

TEST(OrderByLess, TiesUseTheNextKeyThenKeepInputOrder) {
  std::vector<Entity> es = {
      Make("a", {{"t", Attr(1)}, {"n", Attr("x", "Text")}}),
      Make("b", {{"t", Attr(0)}, {"n", Attr("y", "Text")}}),
      Make("c", {{"t", Attr(1)}, {"n", Attr("z", "Text")}}),
      Make("d", {{"t", Attr(1)}, {"n", Attr("z", "Text")}}),
  };
  EXPECT_EQ(Sorted("t,!n", es), (Ids{"b", "c", "d", "a"}));
  EXPECT_EQ(Sorted("!t,n", es), (Ids{"a", "c", "d", "b"}));
  EXPECT_EQ(Sorted("t", es), (Ids{"b", "a", "c", "d"}));  // stable among ties
  auto order = OrderBy::Parse("t,n");
  ASSERT_TRUE(order);
  EXPECT_FALSE(order->Less(es[2], es[3]));
  EXPECT_FALSE(order->Less(es[3], es[2]));
  EXPECT_FALSE(order->Less(es[0], es[0]));
}

TEST(OrderByLess, MissingAttributesSortFirstAscendingLastDescending) {
  std::vector<Entity> es = {Make("a", {{"t", Attr(2)}}), Make("none"), Make("b", {{"t", Attr(1)}})};
  EXPECT_EQ(Sorted("t", es), (Ids{"none", "b", "a"}));
  EXPECT_EQ(Sorted("!t", es), (Ids{"a", "b", "none"}));
}

TEST(OrderByLess, MixedTypesFollowOrionOrder) {
  // null/missing < number < string < object < array < boolean
  std::vector<Entity> es = {
      Make("bool-true", {{"v", Attr(true, "Boolean")}}),
      Make("array", {{"v", Attr(bj::parse("[1]"), "StructuredValue")}}),
      Make("object", {{"v", Attr(bj::parse(R"({"a":1})"), "StructuredValue")}}),
      Make("string", {{"v", Attr("abc", "Text")}}),
      Make("number", {{"v", Attr(99)}}),
      Make("null", {{"v", Attr(nullptr, "None")}}),
      Make("bool-false", {{"v", Attr(false, "Boolean")}}),
  };
  EXPECT_EQ(Sorted("v", es),
            (Ids{"null", "number", "string", "object", "array", "bool-false", "bool-true"}));
}

TEST(OrderByLess, StringsAreByteWise) {
  std::vector<Entity> es = {
      Make("1", {{"n", Attr("b", "Text")}}), Make("2", {{"n", Attr("B", "Text")}}),
      Make("3", {{"n", Attr("ab", "Text")}}), Make("4", {{"n", Attr("a", "Text")}})};
  EXPECT_EQ(Sorted("n", es), (Ids{"2", "4", "3", "1"}));
}

TEST(OrderByLess, ArraysAndObjectsCompareElementWise) {
  std::vector<Entity> es = {
      Make("a123", {{"v", Attr(bj::parse("[1,2,3]"), "StructuredValue")}}),
      Make("a12", {{"v", Attr(bj::parse("[1,2]"), "StructuredValue")}}),
      Make("a2", {{"v", Attr(bj::parse("[2]"), "StructuredValue")}}),
      Make("a1s", {{"v", Attr(bj::parse(R"([1,"x"])"), "StructuredValue")}}),
  };
  EXPECT_EQ(Sorted("v", es), (Ids{"a12", "a123", "a1s", "a2"}));
  std::vector<Entity> os = {
      Make("b1", {{"v", Attr(bj::parse(R"({"b":1})"), "StructuredValue")}}),
      Make("a2", {{"v", Attr(bj::parse(R"({"a":2})"), "StructuredValue")}}),
      Make("a1", {{"v", Attr(bj::parse(R"({"a":1})"), "StructuredValue")}}),
  };
  EXPECT_EQ(Sorted("v", os), (Ids{"a1", "a2", "b1"}));
}

TEST(OrderByLess, DateTimeSortsByTimeNotText) {
  // As text "…T10:00+05:00" > "…T06:00Z"; as times 05:00Z < 06:00Z.
  std::vector<Entity> es = {
      Make("six-utc", {{"when", Attr("2017-06-17T06:00:00Z", "DateTime")}}),
      Make("five-utc", {{"when", Attr("2017-06-17T10:00:00+05:00", "DateTime")}}),
      Make("none"),
  };
  EXPECT_EQ(Sorted("when", es), (Ids{"none", "five-utc", "six-utc"}));
  EXPECT_EQ(Sorted("!when", es), (Ids{"six-utc", "five-utc", "none"}));
}

TEST(OrderByLess, EntityBuiltins) {
  Entity a = Make("b-id");
  a.type = "Alpha";
  a.created = 300;
  a.modified = 100;
  Entity b = Make("a-id");
  b.type = "Beta";
  b.created = 200;
  b.modified = 400;
  b.expires = 5;
  const std::vector<Entity> es = {a, b};
  EXPECT_EQ(Sorted("id", es), (Ids{"a-id", "b-id"}));
  EXPECT_EQ(Sorted("!type", es), (Ids{"a-id", "b-id"}));
  EXPECT_EQ(Sorted("type", es), (Ids{"b-id", "a-id"}));
  EXPECT_EQ(Sorted("dateCreated", es), (Ids{"a-id", "b-id"}));
  EXPECT_EQ(Sorted("dateModified", es), (Ids{"b-id", "a-id"}));
  EXPECT_EQ(Sorted("dateExpires", es), (Ids{"b-id", "a-id"}));  // missing first
}

TEST(OrderByLess, GeoDistanceUsesCallerDistances) {
  auto order = OrderBy::Parse("geo:distance,id");
  ASSERT_TRUE(order);
  const Entity near = Make("z-near");
  const Entity far = Make("a-far");
  EXPECT_TRUE(order->Less(near, 10.0, far, 2500.0));
  EXPECT_FALSE(order->Less(far, 2500.0, near, 10.0));
  // Without distances the key ties and the next key decides.
  EXPECT_TRUE(order->Less(far, near));
  auto reversed = OrderBy::Parse("!geo:distance");
  ASSERT_TRUE(reversed);
  EXPECT_TRUE(reversed->Less(far, 2500.0, near, 10.0));
}

}  // namespace
}  // namespace zc::context
