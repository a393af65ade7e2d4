// Update operators (update_operators.h): detection, each operator on an existing value, the
// reference values for an absent attribute, and the errors that change nothing.
#include "context/update_operators.h"

#include <gtest/gtest.h>

namespace zc::context {
namespace {

namespace bj = boost::json;

bj::value Apply(const char* current, const char* op, bool date_time = false) {
  const bj::value cur = current ? bj::parse(current) : bj::value();
  auto out = ApplyUpdateOperator(current ? &cur : nullptr, bj::parse(op), date_time);
  EXPECT_TRUE(out.has_value()) << op << ": " << (out ? "" : out.error().message);
  if (!out || !*out) return bj::string("<not written>");
  return **out;
}

std::string ErrorOf(const char* current, const char* op) {
  const bj::value cur = bj::parse(current);
  auto out = ApplyUpdateOperator(&cur, bj::parse(op), false);
  return out ? "<no error>" : out.error().message;
}

TEST(UpdateOperators, DetectsOnlyAnObjectWithOneOperatorOrSetAndUnset) {
  EXPECT_TRUE(IsUpdateOperator(bj::parse(R"({"$inc": 1})")));
  EXPECT_TRUE(IsUpdateOperator(bj::parse(R"({"$set": {"a": 1}, "$unset": {"b": 1}})")));
  EXPECT_FALSE(IsUpdateOperator(bj::parse(R"({"$inc": 1, "x": 2})")));
  EXPECT_FALSE(IsUpdateOperator(bj::parse(R"({"$inc": 1, "$mul": 2})")));
  EXPECT_FALSE(IsUpdateOperator(bj::parse(R"({"$rename": "x"})")));
  EXPECT_FALSE(IsUpdateOperator(bj::parse(R"({"inc": 1})")));
  EXPECT_FALSE(IsUpdateOperator(bj::parse(R"([{"$inc": 1}])")));
  EXPECT_FALSE(IsUpdateOperator(bj::parse(R"("$inc")")));
}

TEST(UpdateOperators, NumericKeepIntegersWhileTheyFit) {
  EXPECT_EQ(Apply("10", R"({"$inc": 2})"), bj::value(12));
  EXPECT_TRUE(Apply("10", R"({"$inc": 2})").is_int64());
  EXPECT_EQ(Apply("10", R"({"$inc": -0.5})"), bj::value(9.5));
  EXPECT_EQ(Apply("3", R"({"$mul": 2})"), bj::value(6));
  EXPECT_EQ(Apply("9223372036854775807", R"({"$inc": 1})"), bj::value(9223372036854775808.0));
}

TEST(UpdateOperators, MinAndMaxCompareNumbersAndStrings) {
  EXPECT_EQ(Apply("10", R"({"$min": 2})"), bj::value(2));
  EXPECT_EQ(Apply("10", R"({"$min": 20})"), bj::value(10));
  EXPECT_EQ(Apply("10", R"({"$max": 12})"), bj::value(12));
  EXPECT_EQ(Apply("10", R"({"$max": 4})"), bj::value(10));
  EXPECT_EQ(Apply(R"("2026-01-01T00:00:00.000Z")", R"({"$max": "2026-06-01T00:00:00.000Z"})"),
            bj::value("2026-06-01T00:00:00.000Z"));
  EXPECT_EQ(Apply("10", R"({"$max": "a"})"), bj::value("a"));  // strings sort after numbers
}

TEST(UpdateOperators, ArrayOperators) {
  EXPECT_EQ(Apply("[1,2,3]", R"({"$push": 3})"), bj::parse("[1,2,3,3]"));
  EXPECT_EQ(Apply("[1,2,3]", R"({"$push": {"$each": [-1, 0], "$position": 0}})"),
            bj::parse("[-1,0,1,2,3]"));
  EXPECT_EQ(Apply("[1,2,3]", R"({"$push": {"$each": [9], "$position": -1}})"),
            bj::parse("[1,2,9,3]"));
  EXPECT_EQ(Apply("[1,2,3]", R"({"$push": {"a": 1}})"), bj::parse(R"([1,2,3,{"a":1}])"));
  EXPECT_EQ(Apply("[1,2,3]", R"({"$addToSet": 4})"), bj::parse("[1,2,3,4]"));
  EXPECT_EQ(Apply("[1,2,3]", R"({"$addToSet": 3})"), bj::parse("[1,2,3]"));
  EXPECT_EQ(Apply("[1,2,3]", R"({"$addToSet": {"$each": [3, 4, 4]}})"), bj::parse("[1,2,3,4]"));
  EXPECT_EQ(Apply("[1,2,3,2]", R"({"$pull": 2})"), bj::parse("[1,3]"));
  EXPECT_EQ(Apply("[1,2,3]", R"({"$pullAll": [2, 3]})"), bj::parse("[1]"));
}

TEST(UpdateOperators, SetAndUnsetKeysOfAnObject) {
  EXPECT_EQ(Apply(R"({"X":1,"Y":2})", R"({"$set": {"Y": 20, "Z": 30}})"),
            bj::parse(R"({"X":1,"Y":20,"Z":30})"));
  EXPECT_EQ(Apply(R"({"X":1,"Y":2})", R"({"$set": "foo"})"), bj::value("foo"));
  EXPECT_EQ(Apply(R"({"X":1,"Y":2})", R"({"$unset": {"X": null, "Q": 1}})"),
            bj::parse(R"({"Y":2})"));
  EXPECT_EQ(Apply(R"({"X":1,"Y":2})", R"({"$unset": "X"})"), bj::parse(R"({"X":1,"Y":2})"));
  EXPECT_EQ(Apply(R"({"X":1,"Y":2})", R"({"$set": {"Y": 20, "Z": 30}, "$unset": {"X": 1}})"),
            bj::parse(R"({"Y":20,"Z":30})"));
}

TEST(UpdateOperators, ReferenceValuesForAnAbsentAttribute) {
  EXPECT_EQ(Apply(nullptr, R"({"$inc": 4})"), bj::value(4));
  EXPECT_EQ(Apply(nullptr, R"({"$mul": 1000})"), bj::value(0));
  EXPECT_EQ(Apply(nullptr, R"({"$max": 5})"), bj::value(5));
  EXPECT_EQ(Apply(nullptr, R"({"$min": 5})"), bj::value(0));
  EXPECT_EQ(Apply(nullptr, R"({"$min": "2026-01-01T00:00:00.000Z"})", true),
            bj::value("1970-01-01T00:00:00.000Z"));
  EXPECT_EQ(Apply(nullptr, R"({"$push": 4})"), bj::parse("[4]"));
  EXPECT_EQ(Apply(nullptr, R"({"$set": {"X": 1}})"), bj::parse(R"({"X":1})"));
  EXPECT_EQ(Apply(nullptr, R"({"$pull": 1})"), bj::value("<not written>"));
  EXPECT_EQ(Apply(nullptr, R"({"$pullAll": [1]})"), bj::value("<not written>"));
  EXPECT_EQ(Apply(nullptr, R"({"$unset": {"X": 1}})"), bj::value("<not written>"));
}

TEST(UpdateOperators, ErrorsNameTheOperatorAndTheProblem) {
  EXPECT_EQ(ErrorOf("10", R"({"$inc": "foo"})"),
            "update operator $inc: the argument must be a number");
  EXPECT_EQ(ErrorOf(R"("abc")", R"({"$mul": 2})"),
            "update operator $mul: the attribute value is not a number");
  EXPECT_EQ(ErrorOf("1e308", R"({"$mul": 10})"),
            "update operator $mul: the result is too large for a number");
  std::string full = "[0";
  for (int i = 1; i < 10000; ++i) full += ",0";
  full += "]";
  EXPECT_EQ(ErrorOf(full.c_str(), R"({"$push": 1})"),
            "update operator $push: an array value holds at most 10000 items");
  EXPECT_EQ(ErrorOf("10", R"({"$push": 1})"),
            "update operator $push: the attribute value is not an array");
  EXPECT_EQ(ErrorOf("[1]", R"({"$pullAll": 1})"),
            "update operator $pullAll: the argument must be an array");
  EXPECT_EQ(ErrorOf("[1]", R"({"$push": {"$each": 1}})"),
            "update operator $push: $each must be an array");
  EXPECT_EQ(ErrorOf("[1]", R"({"$push": {"$each": [1], "$slice": 2}})"),
            "update operator $push: unsupported modifier $slice");
  EXPECT_EQ(ErrorOf(R"("foo")", R"({"$set": {"X": 1}})"),
            "update operator $set: the attribute value is not an object");
  EXPECT_EQ(ErrorOf("{}", R"({"$set": {"X": 1}, "$unset": {"X": 1}})"),
            "update operator $set: key X is also in $unset");
}

}  // namespace
}  // namespace zc::context
