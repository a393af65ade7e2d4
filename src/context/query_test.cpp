// Tests of the Simple Query Language (q, mq): parsing errors, and matching semantics for
// every operator, value kind, list, range, quoting rule, compound path and built-in.
#include "context/query.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace zc::context {
namespace {

Attribute Attr(std::string type, bj::value v, NamedList<Metadata> md = {}) {
  Attribute a;
  a.type = std::move(type);
  a.value = std::move(v);
  a.metadata = std::move(md);
  return a;
}

// One entity with a value of every kind the language distinguishes.
Entity Room() {
  Entity e;
  e.id = "Room1";
  e.type = "Room";
  e.created = 1000;   // 1970-01-01T00:00:01Z
  e.modified = 2000;  // 1970-01-01T00:00:02Z
  NamedList<Metadata> md = {
      {"accuracy", {"Number", 0.5}},
      {"unit", {"Text", "C"}},
      {"source", {"StructuredValue", bj::parse(R"({"name":"s1","level":3})")}},
      {"ts", {"DateTime", "2020-01-01T00:00:00Z"}},
  };
  Attribute temperature = Attr("Number", 23.5, std::move(md));
  temperature.created = 5000;
  temperature.modified = 6000;
  e.attrs = {
      {"temperature", std::move(temperature)},
      {"humidity", Attr("Number", 70)},
      {"name", Attr("Text", "Room one")},
      {"code", Attr("Text", "20")},
      {"count", Attr("Number", 20)},
      {"status", Attr("Text", "running")},
      {"color", Attr("Text", "light,green")},
      {"active", Attr("Boolean", true)},
      {"nothing", Attr("None", nullptr)},
      {"tags", Attr("StructuredValue", bj::parse(R"(["a","b","c"])"))},
      {"nums", Attr("StructuredValue", bj::parse("[1,5,9]"))},
      {"address", Attr("StructuredValue", bj::parse(R"({"street":"Main","number":7,
          "street.name":"Calle","geo":{"zip":"28001"},"list":[{"x":1}]})"))},
      {"observed", Attr("DateTime", "2017-06-17T07:21:24.238Z")},
      {"observedText", Attr("Text", "2017-06-17")},
      {"a.b", Attr("Number", 1)},
  };
  return e;
}

bool Q(std::string_view q, const Entity& e = Room()) {
  auto f = Filter::ParseQ(q);
  EXPECT_TRUE(f.has_value()) << q << ": " << (f ? "" : f.error().message);
  return f && f->Matches(e);
}

bool Mq(std::string_view mq, const Entity& e = Room()) {
  auto f = Filter::ParseMq(mq);
  EXPECT_TRUE(f.has_value()) << mq << ": " << (f ? "" : f.error().message);
  return f && f->Matches(e);
}

// Parsing fails with BadRequest and a message containing `fragment`.
void ExpectBad(const Result<Filter>& f, std::string_view fragment, std::string_view input) {
  ASSERT_FALSE(f.has_value()) << "accepted: " << input;
  EXPECT_EQ(f.error().code, ErrorCode::kBadRequest) << input;
  EXPECT_NE(f.error().message.find(fragment), std::string::npos)
      << input << " -> " << f.error().message;
}
void ExpectBadQ(std::string_view q, std::string_view fragment) {
  ExpectBad(Filter::ParseQ(q), fragment, q);
}
void ExpectBadMq(std::string_view mq, std::string_view fragment) {
  ExpectBad(Filter::ParseMq(mq), fragment, mq);
}

// ---------------------------------------------------------------------------------------
// Parsing

TEST(QueryParse, DefaultFilterIsEmptyAndMatchesEverything) {
  Filter f;
  EXPECT_TRUE(f.Empty());
  EXPECT_TRUE(f.Matches(Room()));
  auto parsed = Filter::ParseQ("temperature");
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(parsed->Empty());
}

TEST(QueryParse, EmptyQueryAndEmptyStatements) {
  ExpectBadQ("", "empty q");
  ExpectBadQ("   ", "empty q");
  ExpectBadQ(";", "empty q");
  ExpectBadQ("temperature;;status", "empty q item");
  ExpectBadQ(";temperature", "empty q item");
  ExpectBadQ("temperature; ;status", "empty q item");
  ExpectBadQ("temperature;;", "empty q item");
  ExpectBadMq("", "empty mq");
  EXPECT_TRUE(Q("temperature;"));  // one trailing ';' is tolerated, as in Orion
}

TEST(QueryParse, EmptySides) {
  ExpectBadQ("temperature==", "empty right-hand-side");
  ExpectBadQ("temperature>  ", "empty right-hand-side");
  ExpectBadQ("temperature~=", "empty right-hand-side");
  ExpectBadQ("temperature!=", "empty right-hand-side");
  ExpectBadQ("==5", "empty left-hand-side");
  ExpectBadQ(" <=5", "empty left-hand-side");
  ExpectBadQ("!", "empty attribute name");
  ExpectBadQ("''==1", "empty attribute name");
}

TEST(QueryParse, UnknownOperators) {
  ExpectBadQ("temperature=20", "unknown operator");
  ExpectBadQ("temperature=~20", "unknown operator");
  ExpectBadQ("temperature=>20", "unknown operator");
  ExpectBadQ("temperature!20", "unknown operator");
  ExpectBadQ("temperature<>20", "invalid character");
  ExpectBadQ("temperature===20", "invalid character");
  ExpectBadQ("!temperature==20", "only negates an existence check");
}

TEST(QueryParse, InvalidPaths) {
  ExpectBadQ("address..street==1", "empty attribute path segment");
  ExpectBadQ(".address==1", "empty attribute path segment");
  ExpectBadQ("address.==1", "empty attribute path segment");
  ExpectBadQ("tem perature==1", "invalid character");
  ExpectBadQ("temp(x)==1", "invalid character");
}

TEST(QueryParse, UnbalancedQuotes) {
  ExpectBadQ("name=='Room one", "unbalanced quote");
  ExpectBadQ("name==Room'", "unbalanced quote");
  ExpectBadQ("name==Ro'om", "unbalanced quote");
  ExpectBadQ("'name==1", "unbalanced quote");
  ExpectBadQ("name=='a''b'", "quote inside a quoted string");
  ExpectBadQ("name=='a,b", "unbalanced quote");
  ExpectBadQ("address.'street.name==1", "unbalanced quote");
}

TEST(QueryParse, Limits) {
  std::string longest(kMaxQueryLength - 5, 'a');
  EXPECT_TRUE(Filter::ParseQ(longest + "==abc").has_value());
  ExpectBadQ(longest + "==abcd", "longer than 4096");

  std::string q;
  for (size_t i = 0; i < kMaxStatements; ++i) q += "a" + std::to_string(i) + ";";
  EXPECT_TRUE(Filter::ParseQ(q).has_value());
  ExpectBadQ(q + "extra", "more than 64 statements");

  std::string list = "n==0";
  for (size_t i = 1; i < kMaxListItems; ++i) list += "," + std::to_string(i);
  EXPECT_TRUE(Filter::ParseQ(list).has_value());
  ExpectBadQ(list + ",100", "more than 100 items");
}

TEST(QueryParse, RangesAndListsNeedEqualityOperators) {
  ExpectBadQ("temperature>1..5", "ranges are only valid with == and !=");
  ExpectBadQ("temperature<=1,5", "lists are only valid with == and !=");
  EXPECT_TRUE(Filter::ParseQ("temperature~=1..5,6").has_value());  // a regex, not a range
}

TEST(QueryParse, ListAndRangeShapeErrors) {
  ExpectBadQ("temperature==1..abc", "types mixed");
  ExpectBadQ("temperature==true..false", "invalid range value");
  ExpectBadQ("temperature==1..", "empty item in range");
  ExpectBadQ("temperature==..5", "empty item in range");
  ExpectBadQ("temperature==1..5,7", "exactly two single values");
  ExpectBadQ("temperature==1..5..7", "exactly two single values");
  ExpectBadQ("status==a,,b", "empty item in list");
  ExpectBadQ("status==a,", "empty item in list");
  ExpectBadQ("status==a, ,b", "empty item in list");
}

TEST(QueryParse, OrderingOperatorsRejectBooleansAndNull) {
  ExpectBadQ("active>true", "boolean values are not supported for operator >");
  ExpectBadQ("active<=false", "boolean values are not supported for operator <=");
  ExpectBadQ("nothing<null", "null values are not supported for operator <");
  EXPECT_TRUE(Filter::ParseQ("active>'true'").has_value());  // a quoted string is fine
}

TEST(QueryParse, BadRegularExpressions) {
  ExpectBadQ("name~=(", "invalid regular expression");
  ExpectBadQ("name~=[a-", "invalid regular expression");
  ExpectBadQ("e~=[=-=", "invalid regular expression");  // fuzz/regressions/fuzz_ngsi_query
  ExpectBadQ("e~=[\\", "invalid regular expression");
  ExpectBadQ("name~=a{2,1}", "invalid regular expression");
  ExpectBadQ("name~=(a{1000}){1000}", "too complex");
}

TEST(QueryParse, MqNeedsAMetadataName) {
  ExpectBadMq("temperature>1", "missing metadata name");
  ExpectBadMq("!temperature", "missing metadata name");
  ExpectBadMq("temperature", "missing metadata name");
  ExpectBadMq("temperature.accuracy<", "empty right-hand-side in mq item");
}

TEST(QueryParse, ErrorMessagesNameTheItem) {
  auto f = Filter::ParseQ("temperature>20;status==");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message, "Invalid query: empty right-hand-side in q item 'status=='");
}

TEST(QueryParse, AttributesListsFirstSegmentsOnce) {
  auto f = Filter::ParseQ(
      "temperature>1;status==a;temperature<5;!address.street;dateModified>2020-01-01;"
      "'a.b'.c==1");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->Attributes(),
            (std::vector<std::string>{"temperature", "status", "address", "dateModified", "a.b"}));
  auto m = Filter::ParseMq("temperature.accuracy<1;humidity.unit==x");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->Attributes(), (std::vector<std::string>{"temperature", "humidity"}));
  EXPECT_TRUE(IsBuiltinQueryName("dateModified"));
  EXPECT_TRUE(IsBuiltinQueryName("id"));
  EXPECT_FALSE(IsBuiltinQueryName("temperature"));
}

// ---------------------------------------------------------------------------------------
// Matching: q

TEST(FilterMatch, UnaryExistence) {
  EXPECT_TRUE(Q("temperature"));
  EXPECT_FALSE(Q("!temperature"));
  EXPECT_FALSE(Q("pressure"));
  EXPECT_TRUE(Q("!pressure"));
  EXPECT_TRUE(Q("nothing"));  // a null value exists
  EXPECT_TRUE(Q("! pressure"));
}

TEST(FilterMatch, NumberOperators) {
  EXPECT_TRUE(Q("temperature==23.5"));
  EXPECT_FALSE(Q("temperature==23"));
  EXPECT_TRUE(Q("temperature!=23"));
  EXPECT_FALSE(Q("temperature!=23.5"));
  EXPECT_TRUE(Q("temperature>23"));
  EXPECT_FALSE(Q("temperature>23.5"));
  EXPECT_TRUE(Q("temperature>=23.5"));
  EXPECT_FALSE(Q("temperature>=24"));
  EXPECT_TRUE(Q("temperature<24"));
  EXPECT_FALSE(Q("temperature<23.5"));
  EXPECT_TRUE(Q("temperature<=23.5"));
  EXPECT_FALSE(Q("temperature<=23"));
  EXPECT_TRUE(Q("humidity==70.0"));  // an integer value equals the same double
  EXPECT_TRUE(Q("humidity==7e1"));
  EXPECT_TRUE(Q("humidity>+69"));
  EXPECT_TRUE(Q("temperature>-5"));
}

TEST(FilterMatch, StringOperators) {
  EXPECT_TRUE(Q("status==running"));
  EXPECT_FALSE(Q("status==run"));
  EXPECT_TRUE(Q("status!=stopped"));
  EXPECT_FALSE(Q("status!=running"));
  EXPECT_TRUE(Q("status>r"));
  EXPECT_TRUE(Q("status>=running"));
  EXPECT_FALSE(Q("status>running"));
  EXPECT_TRUE(Q("status<s"));
  EXPECT_TRUE(Q("status<=running"));
  EXPECT_FALSE(Q("status<ra"));
  EXPECT_TRUE(Q("name==Room one"));  // inner whitespace is kept, outer trimmed
  EXPECT_TRUE(Q("name=='Room one'"));
  EXPECT_FALSE(Q("name==' Room one'"));
}

TEST(FilterMatch, ColonIsEquals) {
  EXPECT_TRUE(Q("status:running"));
  EXPECT_FALSE(Q("status:stopped"));
  EXPECT_TRUE(Q("temperature:23.5"));
}

TEST(FilterMatch, WhitespaceAroundOperatorsAndStatements) {
  EXPECT_TRUE(Q("  temperature > 20 ;  status == running  "));
  EXPECT_TRUE(Q("status == stopped , running"));
  EXPECT_TRUE(Q("temperature == 20 .. 25"));
}

TEST(FilterMatch, MismatchedKindsDoNotMatch) {
  EXPECT_FALSE(Q("status>5"));
  EXPECT_FALSE(Q("status<5"));
  EXPECT_FALSE(Q("temperature>abc"));
  EXPECT_FALSE(Q("temperature<abc"));
  EXPECT_FALSE(Q("temperature==abc"));
  EXPECT_FALSE(Q("active==1"));
  EXPECT_FALSE(Q("address>1"));  // objects match only existence
  EXPECT_FALSE(Q("address==1"));
  // != is "exists and not ==", so a value of another kind is different
  EXPECT_TRUE(Q("temperature!=abc"));
}

TEST(FilterMatch, QuotesForceStrings) {
  EXPECT_TRUE(Q("code=='20'"));
  EXPECT_FALSE(Q("code==20"));
  EXPECT_TRUE(Q("count==20"));
  EXPECT_FALSE(Q("count=='20'"));
  EXPECT_FALSE(Q("active=='true'"));
  EXPECT_TRUE(Q("active==true"));
}

TEST(FilterMatch, QuotesProtectCommasAndSemicolons) {
  EXPECT_TRUE(Q("color=='light,green'"));
  EXPECT_FALSE(Q("color==light,green"));  // a list of "light" and "green"
  EXPECT_TRUE(Q("color=='light,green','deep,blue'"));
  EXPECT_TRUE(Q("color=='deep,blue','light,green'"));
  EXPECT_FALSE(Q("color=='deep,blue','dark,green'"));
  Entity e = Room();
  e.attrs.push_back({"motto", Attr("Text", "a;b..c")});
  EXPECT_TRUE(Q("motto=='a;b..c';status==running", e));
}

TEST(FilterMatch, Lists) {
  EXPECT_TRUE(Q("status==stopped,running"));
  EXPECT_FALSE(Q("status==stopped,paused"));
  EXPECT_FALSE(Q("status!=stopped,running"));
  EXPECT_TRUE(Q("status!=stopped,paused"));
  EXPECT_TRUE(Q("humidity==1,70,3"));
  EXPECT_FALSE(Q("humidity==1,2,3"));
  EXPECT_TRUE(Q("humidity==abc,70"));  // mixed lists are accepted (Orion rejects them)
  EXPECT_TRUE(Q("active==false,true"));
}

TEST(FilterMatch, Ranges) {
  EXPECT_TRUE(Q("temperature==20..25"));
  EXPECT_TRUE(Q("temperature==23.5..30"));  // inclusive
  EXPECT_TRUE(Q("temperature==10..23.5"));
  EXPECT_FALSE(Q("temperature==24..30"));
  EXPECT_TRUE(Q("temperature!=24..30"));
  EXPECT_FALSE(Q("temperature!=20..25"));
  EXPECT_TRUE(Q("temperature==-5..25"));
  EXPECT_FALSE(Q("temperature==25..20"));  // an empty range
  EXPECT_TRUE(Q("status==a..s"));
  EXPECT_TRUE(Q("status==running..running"));
  EXPECT_FALSE(Q("status==s..z"));
  EXPECT_FALSE(Q("status==1..100"));  // numbers do not match a string
  EXPECT_TRUE(Q("name=='Room a'..'Room z'"));
}

TEST(FilterMatch, BooleansAndNull) {
  EXPECT_TRUE(Q("active==true"));
  EXPECT_FALSE(Q("active==false"));
  EXPECT_TRUE(Q("active!=false"));
  EXPECT_FALSE(Q("active!=true"));
  EXPECT_TRUE(Q("nothing==null"));
  EXPECT_FALSE(Q("nothing!=null"));
  EXPECT_FALSE(Q("temperature==null"));
  EXPECT_TRUE(Q("temperature!=null"));
  EXPECT_FALSE(Q("nothing=='null'"));
}

TEST(FilterMatch, NegationRequiresExistence) {
  EXPECT_FALSE(Q("pressure!=5"));
  EXPECT_FALSE(Q("pressure!=abc"));
  EXPECT_FALSE(Q("pressure!=1..2"));
  EXPECT_FALSE(Q("pressure!=a,b"));
  EXPECT_FALSE(Q("address.nope!=1"));
  EXPECT_TRUE(Q("!pressure"));
  EXPECT_FALSE(Q("pressure<5"));
  EXPECT_FALSE(Q("pressure~=."));
}

TEST(FilterMatch, ArrayValuesMatchAnyElement) {
  EXPECT_TRUE(Q("tags==b"));
  EXPECT_FALSE(Q("tags==z"));
  EXPECT_TRUE(Q("tags==z,c"));
  EXPECT_FALSE(Q("tags!=b"));
  EXPECT_TRUE(Q("tags!=z"));
  EXPECT_FALSE(Q("tags!=z,a"));
  EXPECT_TRUE(Q("nums>8"));
  EXPECT_FALSE(Q("nums>9"));
  EXPECT_TRUE(Q("nums<2"));
  EXPECT_TRUE(Q("nums==4..6"));
  EXPECT_FALSE(Q("nums==6..8"));
  EXPECT_TRUE(Q("tags~=^c$"));
  EXPECT_FALSE(Q("tags~=^d$"));
}

TEST(FilterMatch, CompoundPaths) {
  EXPECT_TRUE(Q("address.street==Main"));
  EXPECT_FALSE(Q("address.street==Other"));
  EXPECT_TRUE(Q("address.number>5"));
  EXPECT_TRUE(Q("address.number==7"));
  EXPECT_TRUE(Q("address.'street.name'==Calle"));
  EXPECT_FALSE(Q("address.street.name==Calle"));  // walks into "street", a string
  EXPECT_TRUE(Q("address.geo.zip=='28001'"));
  EXPECT_FALSE(Q("address.geo.zip==28001"));
  EXPECT_TRUE(Q("address.list.0.x==1"));
  EXPECT_FALSE(Q("address.list.1.x==1"));
  EXPECT_TRUE(Q("address.street"));
  EXPECT_TRUE(Q("address.geo.zip"));
  EXPECT_FALSE(Q("address.nope"));
  EXPECT_TRUE(Q("!address.nope"));
  EXPECT_FALSE(Q("!address.street"));
  EXPECT_FALSE(Q("address.nope==1"));
  EXPECT_FALSE(Q("temperature.sub"));
  EXPECT_TRUE(Q("!temperature.sub"));
  EXPECT_TRUE(Q("!pressure.sub"));
  EXPECT_TRUE(Q("'a.b'==1"));  // a quoted attribute name containing a dot
  EXPECT_TRUE(Q("'address'.'street'==Main"));
}

TEST(FilterMatch, QuotedPathSegmentsHideOperators) {
  Entity e = Room();
  e.attrs.push_back({"x", Attr("StructuredValue", bj::parse(R"({"a==b":1,"c:d":2})"))});
  EXPECT_TRUE(Q("x.'a==b'==1", e));
  EXPECT_TRUE(Q("x.'c:d'>1", e));
}

TEST(FilterMatch, PatternMatching) {
  EXPECT_TRUE(Q("name~=one$"));
  EXPECT_FALSE(Q("name~=^one"));
  EXPECT_TRUE(Q("status~=un"));  // a search, not a full match
  EXPECT_TRUE(Q("status~=^r.*g$"));
  EXPECT_FALSE(Q("status~=^R"));
  EXPECT_TRUE(Q("name~='Room o'"));      // wholly quoted: the quotes are removed
  EXPECT_TRUE(Q("name~=R(o){2}m"));      // a counted repetition with a comma-free body
  EXPECT_TRUE(Q("color~=t,g"));          // a comma is part of the pattern, not a list
  EXPECT_TRUE(Q("color~=light..reen"));  // `..` is part of the pattern, not a range
  EXPECT_FALSE(Q("temperature~=2"));     // numbers are not strings
  EXPECT_FALSE(Q("address~=Main"));
  EXPECT_TRUE(Q("id~=^Room[0-9]+$"));
  EXPECT_TRUE(Q("observed~=^2017-06"));  // DateTime values are text too
}

TEST(FilterMatch, DateTimeAttributesCompareAsTimes) {
  EXPECT_TRUE(Q("observed>2017-06-17T00:00:00Z"));
  EXPECT_FALSE(Q("observed<2017-06-17"));
  EXPECT_TRUE(Q("observed>=2017-06-17"));
  EXPECT_TRUE(Q("observed==2017-06-17T07:21:24.238Z"));
  EXPECT_TRUE(Q("observed==2017-06-17T09:21:24.238+02:00"));  // the same instant
  EXPECT_FALSE(Q("observed==2017-06-17T07:21:24Z"));
  EXPECT_TRUE(Q("observed!=2017-06-17T07:21:24Z"));
  EXPECT_TRUE(Q("observed==2017-01-01..2017-12-31"));
  EXPECT_FALSE(Q("observed==2018-01-01..2018-12-31"));
  EXPECT_TRUE(Q("observed=='2017-06-17T07:21:24.238Z'"));  // an ISO string also works
  EXPECT_TRUE(Q("observed==2017-06-01,2017-06-17T07:21:24.238Z"));
  EXPECT_FALSE(Q("observed>5"));  // a number is not a time
  EXPECT_FALSE(Q("observed>abc"));
  // Text attributes holding dates compare as text
  EXPECT_TRUE(Q("observedText==2017-06-17"));
  EXPECT_TRUE(Q("observedText>2017-01-01"));
  EXPECT_FALSE(Q("observedText>2017-06-17T00:00:00Z"));  // byte-wise: "…17" < "…17T…"
}

TEST(FilterMatch, DateTimeThatIsNotIsoIsAString) {
  Entity e = Room();
  e.attrs.push_back({"when", Attr("DateTime", "yesterday")});
  EXPECT_TRUE(Q("when==yesterday", e));
  EXPECT_TRUE(Q("when>2017-01-01", e));  // compared as text: "y" > "2"
  EXPECT_FALSE(Q("when==2017-01-01..2030-01-01", e));
}

TEST(FilterMatch, EntityBuiltins) {
  EXPECT_TRUE(Q("id==Room1"));
  EXPECT_FALSE(Q("id==Room2"));
  EXPECT_TRUE(Q("id==Room2,Room1"));
  EXPECT_TRUE(Q("id!=Room2"));
  EXPECT_TRUE(Q("type==Room"));
  EXPECT_FALSE(Q("type!=Room"));
  EXPECT_TRUE(Q("id"));
  EXPECT_FALSE(Q("!type"));
  EXPECT_FALSE(Q("id.x"));  // built-ins have no sub-properties
  EXPECT_TRUE(Q("dateCreated<1970-01-01T00:00:02Z"));
  EXPECT_TRUE(Q("dateCreated==1970-01-01T00:00:01Z"));
  EXPECT_TRUE(Q("dateModified>1970-01-01T00:00:01.500Z"));
  EXPECT_TRUE(Q("dateModified==1970-01-01..1970-01-02"));
  EXPECT_FALSE(Q("dateModified>2000"));  // numbers are not times
  EXPECT_FALSE(Q("dateExpires"));
  EXPECT_TRUE(Q("!dateExpires"));
  EXPECT_FALSE(Q("dateExpires<2100-01-01"));
  Entity e = Room();
  e.expires = 86400000;  // 1970-01-02
  EXPECT_TRUE(Q("dateExpires", e));
  EXPECT_TRUE(Q("dateExpires==1970-01-02", e));
}

TEST(FilterMatch, StatementsAreAnded) {
  EXPECT_TRUE(Q("temperature>20;status==running;!pressure"));
  EXPECT_FALSE(Q("temperature>20;status==stopped"));
  EXPECT_FALSE(Q("temperature>30;status==running"));
}

TEST(FilterMatch, CopiesAndMovesKeepWorking) {
  auto parsed = Filter::ParseQ("name~=one$;temperature>20");
  ASSERT_TRUE(parsed);
  Filter copy = *parsed;
  Filter moved = std::move(*parsed);
  EXPECT_TRUE(copy.Matches(Room()));
  EXPECT_TRUE(moved.Matches(Room()));
  Entity other = Room();
  other.attrs[2].second.value = "Room two";
  EXPECT_FALSE(copy.Matches(other));
}

// ---------------------------------------------------------------------------------------
// Matching: mq

TEST(FilterMq, Existence) {
  EXPECT_TRUE(Mq("temperature.accuracy"));
  EXPECT_FALSE(Mq("!temperature.accuracy"));
  EXPECT_FALSE(Mq("temperature.nope"));
  EXPECT_TRUE(Mq("!temperature.nope"));
  EXPECT_TRUE(Mq("!pressure.accuracy"));
  EXPECT_FALSE(Mq("humidity.accuracy"));
  EXPECT_TRUE(Mq("temperature.source.name"));
  EXPECT_FALSE(Mq("temperature.source.nope"));
}

TEST(FilterMq, Operators) {
  EXPECT_TRUE(Mq("temperature.accuracy<1"));
  EXPECT_TRUE(Mq("temperature.accuracy==0.5"));
  EXPECT_FALSE(Mq("temperature.accuracy>0.5"));
  EXPECT_TRUE(Mq("temperature.accuracy==0..1"));
  EXPECT_TRUE(Mq("temperature.unit==C"));
  EXPECT_TRUE(Mq("temperature.unit==F,C"));
  EXPECT_TRUE(Mq("temperature.unit!=F"));
  EXPECT_FALSE(Mq("temperature.unit!=C"));
  EXPECT_FALSE(Mq("temperature.nope!=F"));  // != requires the metadata
  EXPECT_FALSE(Mq("pressure.unit!=F"));
  EXPECT_TRUE(Mq("temperature.unit~=^C$"));
  EXPECT_TRUE(Mq("temperature.source.name==s1"));
  EXPECT_TRUE(Mq("temperature.source.level>=3"));
  EXPECT_TRUE(Mq("temperature.ts>2019-12-31T00:00:00Z"));
  EXPECT_FALSE(Mq("temperature.ts>2020-01-01T00:00:00Z"));
  EXPECT_TRUE(Mq("temperature.accuracy<1;temperature.unit==C"));
}

TEST(FilterMq, BuiltinAttributeTimes) {
  EXPECT_TRUE(Mq("temperature.dateCreated==1970-01-01T00:00:05Z"));
  EXPECT_TRUE(Mq("temperature.dateModified>1970-01-01T00:00:05Z"));
  EXPECT_TRUE(Mq("temperature.dateModified"));
  EXPECT_FALSE(Mq("pressure.dateModified"));
}

TEST(FilterMq, CombinedWithQ) {
  auto q = Filter::ParseQ("temperature>20");
  auto mq = Filter::ParseMq("temperature.unit==F");
  ASSERT_TRUE(q && mq);
  EXPECT_TRUE(q->Matches(Room()));
  Filter both = *q;
  both.AndWith(*mq);
  EXPECT_FALSE(both.Matches(Room()));
  EXPECT_EQ(both.Attributes(), std::vector<std::string>{"temperature"});
}

}  // namespace
}  // namespace zc::context
