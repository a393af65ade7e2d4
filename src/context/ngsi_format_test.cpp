// NGSI-v2 parsing and rendering, checked against Orion's documented behaviour and texts.
#include "context/ngsi_format.h"

#include <gtest/gtest.h>

#include <string>

#include "common/json.h"

namespace zc::context {
namespace {

bj::value J(std::string_view text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v) << text;
  return v ? *v : bj::value();
}

// The error message of parsing `text` as an entity (or "" when it parsed).
std::string EntityError(std::string_view text, bool key_values = false) {
  auto e = ParseEntity(J(text), key_values);
  if (e) return "";
  const bool parse_error = e.error().message == "Errors found in incoming JSON buffer";
  EXPECT_EQ(e.error().code, parse_error ? ErrorCode::kParseError : ErrorCode::kBadRequest);
  return e.error().message;
}

std::string AttrsError(std::string_view text, bool key_values = false) {
  auto a = ParseAttributes(J(text), key_values);
  return a ? "" : a.error().message;
}

std::string AttrError(std::string_view text) {
  auto a = ParseAttribute(J(text));
  return a ? "" : a.error().message;
}

Entity Parsed(std::string_view text, bool key_values = false) {
  auto e = ParseEntity(J(text), key_values);
  EXPECT_TRUE(e) << (e ? "" : e.error().message);
  return e ? *e : Entity{};
}

std::string Render(const Entity& e, RenderOptions opt = {}) {
  return DumpJson(RenderEntity(e, opt));
}

// ---- names ------------------------------------------------------------------------------

TEST(NgsiFormat, ValidateNameFollowsOrionIdentifierRules) {
  EXPECT_TRUE(ValidateName("urn:ngsi-ld:Sensor:001", "entity id"));
  EXPECT_TRUE(ValidateName(std::string(256, 'a'), "entity id"));
  EXPECT_EQ(ValidateName("", "entity id").error().message,
            "entity id length: 0, min length supported: 1");
  EXPECT_EQ(ValidateName(std::string(300, 'a'), "entity id").error().message,
            "entity id length: 300, max length supported: 256");
  for (std::string bad :
       std::vector<std::string>{"a b", "a\tb", "a/b", "a#b", "a?b", "a&b", "a<b", "a>b", "a\"b",
                                "a'b", "a=b", "a;b", "a(b", "a)b", std::string("a\x7f", 2)}) {
    auto s = ValidateName(bad, "attribute name");
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().message, "Invalid characters in attribute name") << bad;
  }
}

// ---- entity parse errors ----------------------------------------------------------------

TEST(NgsiFormat, EntityBodyErrorsUseOrionTexts) {
  EXPECT_EQ(EntityError("[]"), "Errors found in incoming JSON buffer");
  EXPECT_EQ(EntityError("\"x\""), "Errors found in incoming JSON buffer");
  EXPECT_EQ(EntityError("{}"), "empty payload");
  EXPECT_EQ(EntityError(R"({"type":"T"})"), "entity id length: 0, min length supported: 1");
  EXPECT_EQ(EntityError(R"({"id":""})"), "entity id length: 0, min length supported: 1");
  EXPECT_EQ(EntityError(R"({"id":5})"), "Invalid JSON type for entity id");
  EXPECT_EQ(EntityError(R"({"id":"E","type":["T"]})"), "Invalid JSON type for entity type");
  EXPECT_EQ(EntityError(R"({"id":"E","type":""})"),
            "entity type length: 0, min length supported: 1");
  EXPECT_EQ(EntityError(R"({"id":"E<1>"})"), "Invalid characters in entity id");
  EXPECT_TRUE(ValidateName("粤E1234", "entity id"));  // UTF-8 is allowed (unlike Orion)
  EXPECT_EQ(EntityError(R"({"id":"E","type":"A B"})"), "Invalid characters in entity type");
  EXPECT_EQ(EntityError(R"({"id":")" + std::string(300, 'x') + "\"}"),
            "entity id length: 300, max length supported: 256");
  EXPECT_EQ(EntityError(R"({"id":"E","type":")" + std::string(257, 'x') + "\"}"),
            "entity type length: 257, max length supported: 256");
}

TEST(NgsiFormat, AttributeErrorsUseOrionTexts) {
  EXPECT_EQ(EntityError(R"({"id":"E","t":21})"),
            "attribute must be a JSON object, unless keyValues option is used");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":1,"unit":"C"}})"),
            "unrecognized property for context attribute");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":1,"type":5}})"),
            "invalid JSON type for attribute type");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":1,"type":""}})"),
            "attribute type length: 0, min length supported: 1");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":1,"type":"a(b"}})"),
            "Invalid characters in attribute type");
  EXPECT_EQ(EntityError(R"({"id":"E","a b":{"value":1}})"), "Invalid characters in attribute name");
  EXPECT_EQ(EntityError(R"({"id":"E","":{"value":1}})"),
            "attribute name length: 0, min length supported: 1");
  EXPECT_EQ(EntityError(R"({"id":"E",")" + std::string(257, 'n') + R"(":{"value":1}})"),
            "attribute name length: 257, max length supported: 256");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":"<script>"}})"),
            "Invalid characters in attribute value");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":{"a":["ok","x=1"]}}})"),
            "Invalid characters in attribute value");
  EXPECT_EQ(EntityError(R"({"id":"E","t":"it's"})", /*key_values=*/true),
            "Invalid characters in attribute value");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":"2026-13-01","type":"DateTime"}})"),
            "date has invalid format");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":5,"type":"DateTime"}})"),
            "date has invalid format");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":1e400}})"),
            "Errors found in incoming JSON buffer");
}

TEST(NgsiFormat, MetadataErrorsUseOrionTexts) {
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":1,"metadata":[]}})"),
            "metadata not a JSON object");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":1,"metadata":{"m":1}}})"),
            "metadata must be a JSON object");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":1,"metadata":{"m":{"value":1,"x":2}}}})"),
            "invalid JSON field for attribute metadata");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":1,"metadata":{"m":{"type":true}}}})"),
            "invalid JSON type for attribute metadata type");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":1,"metadata":{"m n":{"value":1}}}})"),
            "Invalid characters in metadata name");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":1,"metadata":{"m":{"value":1,"type":"a/b"}}}})"),
            "Invalid characters in metadata type");
  EXPECT_EQ(EntityError(R"({"id":"E","t":{"value":1,"metadata":{"m":{"value":"a;b"}}}})"),
            "Invalid characters in metadata value");
  EXPECT_EQ(
      EntityError(R"({"id":"E","t":{"value":1,"metadata":{"m":{"value":"x","type":"DateTime"}}}})"),
      "date has invalid format");
}

TEST(NgsiFormat, LocationChecksAreLight) {
  EXPECT_EQ(EntityError(R"({"id":"E","l":{"value":"22.9, 112.9","type":"geo:point"}})"), "");
  EXPECT_EQ(EntityError(R"({"id":"E","l":{"value":null,"type":"geo:point"}})"), "");
  EXPECT_NE(EntityError(R"({"id":"E","l":{"value":"91, 112.9","type":"geo:point"}})"), "");
  EXPECT_NE(EntityError(R"({"id":"E","l":{"value":"22.9","type":"geo:point"}})"), "");
  EXPECT_NE(EntityError(R"({"id":"E","l":{"value":[22.9,112.9],"type":"geo:point"}})"), "");
  EXPECT_EQ(
      EntityError(
          R"({"id":"E","l":{"value":{"type":"Point","coordinates":[112.9,22.9]},"type":"geo:json"}})"),
      "");
  EXPECT_NE(EntityError(R"({"id":"E","l":{"value":{"coordinates":[1,2]},"type":"geo:json"}})"), "");
  // ignoreType turns the location semantics off (Orion "Special Metadata Types").
  EXPECT_EQ(
      EntityError(
          R"({"id":"E","l":{"value":"x","type":"geo:point","metadata":{"ignoreType":{"value":true}}}})"),
      "");
}

// ---- entity parse results ---------------------------------------------------------------

TEST(NgsiFormat, DefaultsFollowTheSpecification) {
  Entity e = Parsed(R"({"id":"E","a":{},"b":{"value":"x"},"c":{"value":2.5},"d":{"value":false},
                       "f":{"value":[1]},"g":{"value":{"k":1}},"h":{"value":null,"type":"Custom"}})");
  EXPECT_EQ(e.type, "Thing");
  ASSERT_EQ(e.attrs.size(), 7u);
  EXPECT_EQ(e.attrs[0].second.type, "None");
  EXPECT_TRUE(e.attrs[0].second.value.is_null());
  EXPECT_EQ(e.attrs[1].second.type, "Text");
  EXPECT_EQ(e.attrs[2].second.type, "Number");
  EXPECT_EQ(e.attrs[3].second.type, "Boolean");
  EXPECT_EQ(e.attrs[4].second.type, "StructuredValue");
  EXPECT_EQ(e.attrs[5].second.type, "StructuredValue");
  EXPECT_EQ(e.attrs[6].second.type, "Custom");
  EXPECT_FALSE(e.expires);
}

TEST(NgsiFormat, KeyValuesInfersTypes) {
  Entity e = Parsed(R"({"id":"Room1","type":"Room","t":21,"n":"高明区","b":true,"s":{"x":[1]},
                       "z":null,"a":[1,2]})",
                    /*key_values=*/true);
  EXPECT_EQ(e.type, "Room");
  ASSERT_EQ(e.attrs.size(), 6u);
  EXPECT_EQ(e.attrs[0].second.type, "Number");
  EXPECT_EQ(e.attrs[1].second.type, "Text");
  EXPECT_EQ(e.attrs[1].second.value, bj::value("高明区"));
  EXPECT_EQ(e.attrs[2].second.type, "Boolean");
  EXPECT_EQ(e.attrs[3].second.type, "StructuredValue");
  EXPECT_EQ(e.attrs[4].second.type, "None");
  EXPECT_EQ(e.attrs[5].second.type, "StructuredValue");
  // In keyValues an object is a value, never {"value":..} (Orion).
  Entity o = Parsed(R"({"id":"E","x":{"value":1,"type":"Number"}})", true);
  EXPECT_EQ(o.attrs[0].second.type, "StructuredValue");
  EXPECT_EQ(o.attrs[0].second.value.at("type"), bj::value("Number"));
}

TEST(NgsiFormat, MetadataParsedWithDefaultsAndDates) {
  Entity e = Parsed(R"({"id":"E","t":{"value":21,"metadata":{"unitCode":{"value":"CEL"},
      "accuracy":{"value":0.5,"type":"Number"},"at":{"value":"2026-11-23T10:00:00+08:00","type":"DateTime"}}}})");
  const auto& md = e.attrs[0].second.metadata;
  ASSERT_EQ(md.size(), 3u);
  EXPECT_EQ(md[0].first, "unitCode");
  EXPECT_EQ(md[0].second.type, "Text");
  EXPECT_EQ(md[1].second.value, bj::value(0.5));
  EXPECT_EQ(md[2].second.value, bj::value("2026-11-23T02:00:00.000Z"));
}

TEST(NgsiFormat, DateTimeValuesAreStoredInOrionsForm) {
  Entity e = Parsed(R"({"id":"E","ts":{"value":"2017-06-17T07:21:24.238Z","type":"DateTime"},
                       "d":{"value":"2026-11-23","type":"ISO8601"},"n":{"value":null,"type":"DateTime"}})");
  EXPECT_EQ(e.attrs[0].second.value, bj::value("2017-06-17T07:21:24.238Z"));
  EXPECT_EQ(e.attrs[1].second.value, bj::value("2026-11-23T00:00:00.000Z"));
  EXPECT_TRUE(e.attrs[2].second.value.is_null());
}

TEST(NgsiFormat, DateExpiresBecomesTheExpiration) {
  Entity e = Parsed(
      R"({"id":"t1","type":"Ticket","dateExpires":{"value":"2028-07-07T21:35:00Z","type":"DateTime"},
                       "x":{"value":1}})");
  ASSERT_TRUE(e.expires);
  EXPECT_EQ(FormatIso8601(*e.expires), "2028-07-07T21:35:00.000Z");
  ASSERT_EQ(e.attrs.size(), 1u);  // not stored as an attribute
  EXPECT_EQ(e.attrs[0].first, "x");

  EXPECT_FALSE(Parsed(R"({"id":"E","dateExpires":{"value":null,"type":"DateTime"}})").expires);
  EXPECT_EQ(EntityError(R"({"id":"E","dateExpires":{"value":"2028-07-07"}})"),
            "error processing date expiration attribute, see log traces");
  EXPECT_EQ(EntityError(R"({"id":"E","dateExpires":"2028-07-07"})", /*key_values=*/true),
            "error processing date expiration attribute, see log traces");
  EXPECT_EQ(EntityError(R"({"id":"E","dateExpires":{"value":"soon","type":"DateTime"}})"),
            "date has invalid format");

  auto attrs = ParseAttributes(J(R"({"dateExpires":{"value":null,"type":"DateTime"}})"), false);
  ASSERT_TRUE(attrs);
  EXPECT_TRUE(attrs->has_expires);
  EXPECT_FALSE(attrs->expires);
  EXPECT_TRUE(attrs->attrs.empty());

  auto single = ParseAttribute(J(R"({"value":"2028-12-31T23:59:00Z","type":"DateTime"})"));
  ASSERT_TRUE(single);
  auto when = DateExpiresOf(*single);
  ASSERT_TRUE(when && *when);
  EXPECT_EQ(FormatIso8601(**when), "2028-12-31T23:59:00.000Z");
  EXPECT_FALSE(DateExpiresOf(Attribute{.type = "Text", .value = "2028-12-31"}));
}

TEST(NgsiFormat, BuiltinNamesMayBeUserAttributes) {
  // Orion lets clients create attributes named like builtins (discouraged, but allowed).
  Entity e = Parsed(R"({"id":"E","dateModified":{"value":"2050-01-01","type":"Text"}})");
  ASSERT_EQ(e.attrs.size(), 1u);
  e.modified = 1000;
  EXPECT_EQ(
      Render(e, {.attrs = {"dateModified"}}),
      R"({"id":"E","type":"Thing","dateModified":{"type":"Text","value":"2050-01-01","metadata":{}}})");
}

// ---- attributes bodies ------------------------------------------------------------------

TEST(NgsiFormat, AttributesBodies) {
  EXPECT_EQ(AttrsError("[1]"), "Errors found in incoming JSON buffer");
  EXPECT_EQ(AttrsError("{}"), "empty payload");
  EXPECT_EQ(AttrsError(R"({"id":"E","t":{"value":1}})"), "entity id specified in payload");
  EXPECT_EQ(AttrsError(R"({"type":"T","t":{"value":1}})"), "entity type specified in payload");
  EXPECT_EQ(AttrsError(R"({"t":5})"),
            "attribute must be a JSON object, unless keyValues option is used");
  auto kv = ParseAttributes(J(R"({"t":5,"s":"on"})"), /*key_values=*/true);
  ASSERT_TRUE(kv);
  ASSERT_EQ(kv->attrs.size(), 2u);
  EXPECT_EQ(kv->attrs[0].second.type, "Number");
  EXPECT_FALSE(kv->has_expires);

  EXPECT_EQ(AttrError("5"), "Errors found in incoming JSON buffer");
  EXPECT_EQ(AttrError(R"({"value":1,"other":2})"), "unrecognized property for context attribute");
  EXPECT_EQ(AttrError(R"({"value":"a=b"})"), "Invalid characters in attribute value");
  auto a = ParseAttribute(J(R"({"value":"a=b","type":"TextUnrestricted"})"));
  ASSERT_TRUE(a);  // Orion's escape hatch for the forbidden characters
  auto empty = ParseAttribute(J("{}"));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->type, "None");
  EXPECT_TRUE(empty->value.is_null());
}

// ---- numbers ----------------------------------------------------------------------------

TEST(NgsiFormat, NumbersRenderAsClientsExpect) {
  Entity e = Parsed(R"({"id":"E","a":{"value":21},"b":{"value":21.0},"c":{"value":21.5},
      "d":{"value":0.1},"e":{"value":-3},"f":{"value":9007199254740993},"g":{"value":1e21},
      "h":{"value":{"n":[2.0,1.25]}},"i":{"value":18446744073709551615},"j":{"value":-0.0}})");
  EXPECT_TRUE(e.attrs[1].second.value.is_int64());  // 21.0 is stored as 21
  EXPECT_EQ(DumpJson(RenderEntity(e, {.representation = Representation::kValues})),
            R"([21,21,21.5,0.1,-3,9007199254740992,1e+21,{"n":[2,1.25]},18446744073709551616,0])");
  // Boost.JSON alone would print 2.15E1; DumpJson output still parses back to the same value.
  auto back = json::Parse(DumpJson(bj::value(21.5)));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, bj::value(21.5));
}

// ---- rendering --------------------------------------------------------------------------

Entity Sample() {
  Entity e = Parsed(R"({"id":"Station1","type":"WeatherObserved",
      "temperature":{"value":21.5,"metadata":{"unitCode":{"value":"CEL"}}},
      "address":{"value":{"district":"高明区"}},"status":{"value":"ok"}})");
  e.service_path = "/gaoming";
  e.created = 1000;
  e.modified = 2000;
  e.attrs[0].second.created = 1000;
  e.attrs[0].second.modified = 2000;
  return e;
}

TEST(NgsiFormat, RendersNormalized) {
  EXPECT_EQ(
      Render(Sample()),
      R"({"id":"Station1","type":"WeatherObserved",)"
      R"("temperature":{"type":"Number","value":21.5,"metadata":{"unitCode":{"type":"Text","value":"CEL"}}},)"
      R"("address":{"type":"StructuredValue","value":{"district":"高明区"},"metadata":{}},)"
      R"("status":{"type":"Text","value":"ok","metadata":{}}})");
}

TEST(NgsiFormat, RendersKeyValuesValuesAndUnique) {
  Entity e = Sample();
  EXPECT_EQ(Render(e, {.representation = Representation::kKeyValues}),
            R"({"id":"Station1","type":"WeatherObserved","temperature":21.5,)"
            R"("address":{"district":"高明区"},"status":"ok"})");
  EXPECT_EQ(
      Render(e, {.representation = Representation::kValues, .attrs = {"status", "temperature"}}),
      R"(["ok",21.5])");
  e.attrs.emplace_back("state", Attribute{.type = "Text", .value = "ok"});
  EXPECT_EQ(Render(e, {.representation = Representation::kValues, .attrs = {"status", "state"}}),
            R"(["ok","ok"])");
  EXPECT_EQ(Render(e, {.representation = Representation::kUnique, .attrs = {"status", "state"}}),
            R"(["ok"])");
}

TEST(NgsiFormat, UniqueDropsRepeatedValuesAndRepeatedRows) {
  auto a = std::make_shared<Entity>(Parsed(R"({"id":"A","city":{"value":"佛山"}})"));
  auto b = std::make_shared<Entity>(
      Parsed(R"({"id":"B","city":{"value":"佛山"},"c2":{"value":"佛山"}})"));
  auto c = std::make_shared<Entity>(Parsed(R"({"id":"C","city":{"value":"江门"}})"));
  auto out = RenderEntitiesJson({a, b, c}, {.representation = Representation::kUnique}, 1024);
  EXPECT_EQ(out.value(), R"([["佛山"],["江门"]])");
}

// A page is refused as soon as its text would pass the budget; up to it, it is whole.
TEST(NgsiFormat, ListTextStaysWithinItsBudget) {
  auto a = std::make_shared<Entity>(Parsed(R"({"id":"A","type":"T","v":{"value":"aaaa"}})"));
  auto b = std::make_shared<Entity>(Parsed(R"({"id":"B","type":"T","v":{"value":"bbbb"}})"));
  const RenderOptions kv{.representation = Representation::kKeyValues};
  const std::string whole =
      R"([{"id":"A","type":"T","v":"aaaa"},{"id":"B","type":"T","v":"bbbb"}])";
  EXPECT_EQ(RenderEntitiesJson({a, b}, kv, whole.size()).value(), whole);
  auto over = RenderEntitiesJson({a, b}, kv, whole.size() - 1);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kNoResources);
  EXPECT_EQ(
      over.error().message,
      "the answer would exceed " + std::to_string(whole.size() - 1) +
          " bytes (max_response_bytes): ask for fewer entities (limit) or attributes (attrs)");
  EXPECT_EQ(RenderEntitiesJson({}, kv, 2).value(), "[]");
}

TEST(NgsiFormat, AttrsFilterOrderAndBuiltins) {
  Entity e = Sample();
  e.expires = 3000;
  // Listed order; absent names are skipped; builtins only when named.
  EXPECT_EQ(Render(e, {.representation = Representation::kKeyValues,
                       .attrs = {"status", "nothere", "dateModified", "temperature"}}),
            R"({"id":"Station1","type":"WeatherObserved","status":"ok",)"
            R"("dateModified":"1970-01-01T00:00:02.000Z","temperature":21.5})");
  // "*" keeps entity order and appends the builtins asked for.
  EXPECT_EQ(
      Render(e, {.representation = Representation::kKeyValues,
                 .attrs = {"dateExpires", "*", "dateCreated", "servicePath"}}),
      R"({"id":"Station1","type":"WeatherObserved","temperature":21.5,"address":{"district":"高明区"},)"
      R"("status":"ok","dateExpires":"1970-01-01T00:00:03.000Z",)"
      R"("dateCreated":"1970-01-01T00:00:01.000Z","servicePath":"/gaoming"})");
  // Builtins render as DateTime attributes in normalized mode.
  EXPECT_EQ(
      Render(e, {.attrs = {"dateCreated"}}),
      R"({"id":"Station1","type":"WeatherObserved",)"
      R"("dateCreated":{"type":"DateTime","value":"1970-01-01T00:00:01.000Z","metadata":{}}})");
  // No expiration → no dateExpires even when asked.
  e.expires.reset();
  EXPECT_EQ(Render(e, {.attrs = {"dateExpires"}}), R"({"id":"Station1","type":"WeatherObserved"})");
  // Duplicates in attrs render once (a JSON object cannot hold a key twice).
  EXPECT_EQ(Render(e, {.representation = Representation::kValues, .attrs = {"status", "status"}}),
            R"(["ok"])");
}

TEST(NgsiFormat, ExceptAttrsRemovesAttributes) {
  Entity e = Sample();
  EXPECT_EQ(Render(e, {.representation = Representation::kKeyValues,
                       .attrs = {"dateCreated"},
                       .except_attrs = {"address", "temperature"}}),
            R"({"id":"Station1","type":"WeatherObserved","status":"ok"})");
}

TEST(NgsiFormat, MetadataFilterAndBuiltins) {
  Entity e = Sample();
  const Attribute& t = e.attrs[0].second;
  EXPECT_EQ(
      DumpJson(RenderAttribute(t, {})),
      R"({"type":"Number","value":21.5,"metadata":{"unitCode":{"type":"Text","value":"CEL"}}})");
  EXPECT_EQ(
      DumpJson(RenderAttribute(t, {.metadata = {"dateModified"}})),
      R"({"type":"Number","value":21.5,"metadata":{"dateModified":{"type":"DateTime","value":"1970-01-01T00:00:02.000Z"}}})");
  EXPECT_EQ(DumpJson(RenderAttribute(t, {.metadata = {"*", "dateCreated"}})),
            R"({"type":"Number","value":21.5,"metadata":{"unitCode":{"type":"Text","value":"CEL"},)"
            R"("dateCreated":{"type":"DateTime","value":"1970-01-01T00:00:01.000Z"}}})");
  EXPECT_EQ(DumpJson(RenderAttribute(t, {.metadata = {"other"}})),
            R"({"type":"Number","value":21.5,"metadata":{}})");
  // The metadata filter also applies inside entities; keyValues/values carry no metadata.
  EXPECT_EQ(
      Render(e, {.attrs = {"temperature"}, .metadata = {"dateCreated"}}),
      R"({"id":"Station1","type":"WeatherObserved","temperature":{"type":"Number","value":21.5,)"
      R"("metadata":{"dateCreated":{"type":"DateTime","value":"1970-01-01T00:00:01.000Z"}}}})");
}

TEST(NgsiFormat, ChineseTextRoundTrips) {
  Entity e = Parsed(R"({"id":"District1","type":"AdministrativeArea",
      "name":{"value":"高明区","metadata":{"alias":{"value":"佛山市高明区"}}}})");
  const std::string text = Render(e);
  EXPECT_NE(text.find("\"高明区\""), std::string::npos);  // UTF-8, not \u escapes
  auto again = ParseEntity(J(text), false);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->attrs[0].second.value, bj::value("高明区"));
  EXPECT_EQ(again->attrs[0].second.metadata[0].second.value, bj::value("佛山市高明区"));
  EXPECT_EQ(Render(*again), text);
}

TEST(NgsiFormat, InferTypeCoversEveryJsonKind) {
  EXPECT_EQ(InferType(bj::value(nullptr)), "None");
  EXPECT_EQ(InferType(bj::value(true)), "Boolean");
  EXPECT_EQ(InferType(bj::value(1)), "Number");
  EXPECT_EQ(InferType(bj::value(1u)), "Number");
  EXPECT_EQ(InferType(bj::value(1.5)), "Number");
  EXPECT_EQ(InferType(bj::value("x")), "Text");
  EXPECT_EQ(InferType(bj::array{}), "StructuredValue");
  EXPECT_EQ(InferType(bj::object{}), "StructuredValue");
}

}  // namespace
}  // namespace zc::context
