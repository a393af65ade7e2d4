// Unit tests of subscription values: parsing and Orion's error messages, rendering and
// round trips, matching of changes, notification payloads and ${...} macros.
#include "context/subscription.h"

#include <gtest/gtest.h>

#include <cstdio>

#include <map>

#include "common/json.h"

namespace zc::context {
namespace {

namespace bj = boost::json;

bj::value J(std::string_view text) {
  return *json::Parse(text);
}

constexpr std::string_view kMinimal =
    R"({"subject":{"entities":[{"id":"Room1","type":"Room"}]},
        "notification":{"http":{"url":"http://localhost:1234/notify"}}})";

std::string ErrorOf(std::string_view body) {
  auto r = ParseSubscription(J(body));
  EXPECT_FALSE(r.has_value()) << body;
  return r ? "" : r.error().message;
}

Subscription Make(std::string_view body, std::string id = "5f0000000000000000000001") {
  auto spec = ParseSubscription(J(body));
  EXPECT_TRUE(spec.has_value()) << (spec ? "" : spec.error().message);
  Subscription sub;
  sub.id = std::move(id);
  sub.spec = std::make_shared<const SubscriptionSpec>(std::move(*spec));
  return sub;
}

EntityPtr Room(std::string id, double temperature, std::string path = "/") {
  auto e = std::make_shared<Entity>();
  e->id = std::move(id);
  e->type = "Room";
  e->service_path = std::move(path);
  e->attrs.emplace_back("temperature", Attribute{"Number", temperature, {}});
  e->attrs.emplace_back("name", Attribute{"Text", "kitchen", {}});
  return e;
}

EntityChange Update(EntityPtr before, EntityPtr after, std::vector<std::string> changed) {
  EntityChange c;
  c.kind = ChangeKind::kUpdate;
  c.before = std::move(before);
  c.after = std::move(after);
  c.updated_attrs = changed;
  c.changed_attrs = std::move(changed);
  c.correlator = "corr-1";
  return c;
}

TEST(SubscriptionParse, MinimalDefaults) {
  Subscription sub = Make(kMinimal);
  const auto& spec = *sub.spec;
  EXPECT_EQ(spec.http.url, "http://localhost:1234/notify");
  EXPECT_EQ(spec.attrs_format, AttrsFormat::kNormalized);
  EXPECT_EQ(spec.status, SubscriptionStatus::kActive);
  EXPECT_EQ(spec.alterations, kDefaultAlterations);
  EXPECT_FALSE(spec.expires.has_value());
  EXPECT_EQ(spec.throttling_s, 0);
}

TEST(SubscriptionParse, OrionErrorMessages) {
  EXPECT_EQ(ErrorOf("{}"), "empty payload");
  EXPECT_EQ(ErrorOf(R"({"notification":{}})"), "no subject for subscription specified");
  EXPECT_EQ(ErrorOf(R"({"subject":{"entities":[{"id":"a"}]}})"),
            "no notification for subscription specified");
  EXPECT_EQ(ErrorOf(R"({"subject":{}})"), "no subject entities specified");
  EXPECT_EQ(ErrorOf(R"({"subject":{"entities":[]}, "notification":{}})"),
            "subject entities is empty");
  EXPECT_EQ(ErrorOf(R"({"subject":{"entities":{}}})"), "/entities/ is not an array");
  EXPECT_EQ(ErrorOf(R"({"subject":{"entities":[{"type":"T"}]}})"),
            "/entities/ vector item does not have /id/ nor /idPattern/");
  EXPECT_EQ(ErrorOf(R"({"subject":{"entities":[{"id":"a","idPattern":"b"}]}})"),
            "/entities/ vector item has both /id/ and /idPattern/");
  EXPECT_EQ(ErrorOf(R"({"subject":{"entities":[{"idPattern":"("}]}})"),
            "Invalid regex for entity idPattern");
  EXPECT_EQ(ErrorOf(R"({"subject":{"entities":[{"id":"a"}],"condition":{}}})"),
            "condition is empty");
  EXPECT_EQ(ErrorOf(R"({"subject":{"entities":[{"id":"a"}],"condition":{"attrs":"x"}}})"),
            "the field /attrs/ must be a JSON array");
  EXPECT_EQ(ErrorOf(R"({"subject":{"entities":[{"id":"a"}],
                      "condition":{"expression":{"q":""}}}})"),
            "q is empty");
  EXPECT_EQ(ErrorOf(R"({"subject":{"entities":[{"id":"a"}],
                      "condition":{"alterationTypes":["entityBorn"]}}})"),
            "unknown subscription alterationType: entityBorn");
  EXPECT_EQ(ErrorOf(R"({"subject":{"entities":[{"id":"a"}],
                      "condition":{"expression":{"georel":"near;maxDistance:10"}}}})"),
            "partial geo expression: geometry, georel and coords have to be provided together");
}

TEST(SubscriptionParse, NotificationErrors) {
  const std::string subject = R"({"subject":{"entities":[{"id":"a"}]},"notification":)";
  auto err = [&](std::string_view n, std::string_view tail = "}") {
    return ErrorOf(subject + std::string(n) + std::string(tail));
  };
  EXPECT_EQ(err("{}"), "http, httpCustom, mqtt or mqttCustom is missing");
  EXPECT_EQ(err(R"({"http":{}})"), "url http notification is missing");
  EXPECT_EQ(err(R"({"http":{"url":"ftp://x"}})"), "Invalid URL parsing notification url");
  EXPECT_EQ(err(R"({"http":{"url":"https://"}})"), "Invalid URL parsing notification url");
  EXPECT_EQ(err(R"({"http":{"url":"https://x:port"}})"), "Invalid URL parsing notification url");
  EXPECT_EQ(err(R"({"http":{"url":"http://x"},"attrs":[],"exceptAttrs":[]})"),
            "http notification has attrs and exceptAttrs");
  EXPECT_EQ(err(R"({"http":{"url":"http://x"},"exceptAttrs":[]})"),
            "http notification has exceptAttrs is empty");
  EXPECT_EQ(err(R"({"http":{"url":"http://x"},"attrsFormat":"xml"})"),
            "invalid attrsFormat, accepted values: legacy, normalized, keyValues, values");
  EXPECT_EQ(err(R"({"httpCustom":{"url":"http://x","payload":"a=b"}})"),
            "forbidden characters in custom /payload/");
  EXPECT_EQ(err(R"({"httpCustom":{"url":"http://x","method":"FETCH"}})"),
            "unknown method httpCustom notification");
  EXPECT_EQ(err(R"({"httpCustom":{"url":"http://x","headers":{}}})"),
            "notification httpCustom headers is empty");
  EXPECT_EQ(err(R"({"http":{"url":"http://x"},"covered":true})"),
            "covered true cannot be used if notification attributes list is empty");
  EXPECT_EQ(err(R"({"http":{"url":"http://x"},"attrs":[],"covered":true})"),
            "covered true cannot be used if notification attributes list is empty");
  EXPECT_EQ(err(R"({"http":{"url":"http://x"},"exceptAttrs":["a"],"covered":true})"),
            "covered true cannot be used if notification attributes list is empty");
  EXPECT_EQ(err(R"({"http":{"url":"http://x"},"attrs":["a"],"covered":"yes"})"),
            "covered is not a bool");
  EXPECT_EQ(err(R"({"http":{"url":"http://x"},"maxFailsLimit":0})"),
            "maxFailsLimit must be greater than zero");
  EXPECT_EQ(err(R"({"http":{"url":"http://x"}})", R"(,"status":"paused"})"),
            "status is not valid: it has to be either active, inactive or oneshot");
  EXPECT_EQ(err(R"({"http":{"url":"http://x"}})", R"(,"expires":"tomorrow"})"),
            "expires has an invalid format");
  EXPECT_EQ(err(R"({"http":{"url":"http://x"}})", R"(,"throttling":"5"})"),
            "throttling is not an int");
}

TEST(SubscriptionParse, OrionTimeoutMethodUrlAndThrottlingRules) {
  const std::string subject = R"({"subject":{"entities":[{"id":"a"}]},"notification":)";
  auto err = [&](std::string_view n) { return ErrorOf(subject + std::string(n) + "}"); };
  const std::string range = "timeout field must be an integer between 0 and 1800000";
  EXPECT_EQ(err(R"({"http":{"url":"http://x","timeout":-1}})"), range);
  EXPECT_EQ(err(R"({"http":{"url":"http://x","timeout":1800001}})"), range);
  EXPECT_EQ(err(R"({"httpCustom":{"url":"http://x","timeout":1.5}})"), "timeout is not an int");
  EXPECT_EQ(err(R"({"http":{"url":"http://x","timeout":"5"}})"), "timeout is not an int");
  // Orion checks the http timeout before the URL.
  EXPECT_EQ(err(R"({"http":{"url":"ftp://x","timeout":-1}})"), range);
  EXPECT_EQ(err(R"({"http":{"url":"mqtt://broker:1883"}})"),
            "mqtt URL cannot be used in http notifications");
  EXPECT_EQ(err(R"({"httpCustom":{"url":"mqtt://broker"}})"),
            "mqtt URL cannot be used in http notifications");
  for (std::string_view method : {"TRACE", "CONNECT"}) {
    auto spec = ParseSubscription(J(subject + R"({"httpCustom":{"url":"http://x","method":")" +
                                    std::string(method) + R"("}}})"));
    ASSERT_TRUE(spec.has_value()) << spec.error().message;
    EXPECT_EQ(spec->http.method, method);
  }
  Subscription negative = Make(subject + R"({"http":{"url":"http://x"}},"throttling":-1})");
  EXPECT_EQ(negative.spec->throttling_s, 0);
  EXPECT_FALSE(RenderSpec(*negative.spec).contains("throttling"));
}

TEST(SubscriptionRender, OrionDefaultsAndAlterationOrder) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"a"}],
      "condition":{"alterationTypes":["entityDelete","entityCreate"]}},
      "notification":{"http":{"url":"http://x"}}})");
  bj::object r = RenderSpec(*sub.spec);
  EXPECT_EQ(json::Dump(r["subject"].at("condition")),
            R"({"attrs":[],"alterationTypes":["entityDelete","entityCreate"],)"
            R"("notifyOnMetadataChange":true})");
  EXPECT_EQ(r["notification"].at("covered"), false);
  Subscription empty = Make(R"({"subject":{"entities":[{"id":"a"}],
      "condition":{"alterationTypes":[],"notifyOnMetadataChange":false}},
      "notification":{"http":{"url":"http://x"}}})");
  EXPECT_EQ(empty.spec->alterations, kDefaultAlterations);
  EXPECT_EQ(json::Dump(RenderSpec(*empty.spec)["subject"].at("condition")),
            R"({"attrs":[],"notifyOnMetadataChange":false})");
}

TEST(SubscriptionParse, HttpsUrlsAreAccepted) {
  const std::string subject = R"({"subject":{"entities":[{"id":"a"}]},"notification":)";
  EXPECT_EQ(
      Make(subject + R"({"http":{"url":"https://receiver.example:8443/notify"}}})").spec->http.url,
      "https://receiver.example:8443/notify");
  EXPECT_EQ(Make(subject + R"({"httpCustom":{"url":"https://[::1]/${id}"}}})").spec->http.url,
            "https://[::1]/${id}");
}

TEST(SubscriptionParse, RoundTripThroughRender) {
  Subscription sub = Make(R"({"description":"d","subject":{"entities":[{"idPattern":"^R",
      "typePattern":"Ro"}],"condition":{"attrs":["temperature"],"expression":{"q":"temperature>20"},
      "alterationTypes":["entityUpdate","entityDelete"]}},
      "notification":{"httpCustom":{"url":"http://h:1/${id}","method":"PUT","headers":{"X-A":"${name}"},
      "qs":{"t":"${temperature}"},"payload":"t is ${temperature}"},"exceptAttrs":["name"],
      "attrsFormat":"keyValues","onlyChangedAttrs":true,"metadata":["previousValue"],
      "maxFailsLimit":3},"expires":"2040-01-01T00:00:00Z","status":"oneshot","throttling":5})");
  bj::object rendered = RenderSpec(*sub.spec);
  auto again = ParseSubscription(rendered);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(json::Dump(RenderSpec(*again)), json::Dump(rendered));
  EXPECT_EQ(rendered["expires"].as_string(), "2040-01-01T00:00:00.000Z");
  EXPECT_EQ(rendered["status"].as_string(), "oneshot");
}

TEST(SubscriptionParse, PatchReplacesTopLevelFields) {
  Subscription sub = Make(kMinimal);
  auto patched = PatchSubscription(*sub.spec, J(R"({"status":"inactive","throttling":10})"));
  ASSERT_TRUE(patched.has_value());
  EXPECT_EQ(patched->status, SubscriptionStatus::kInactive);
  EXPECT_EQ(patched->throttling_s, 10);
  EXPECT_EQ(patched->http.url, "http://localhost:1234/notify");
  auto bad = PatchSubscription(*sub.spec, J(R"({"notification":{"attrs":[]}})"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message, "http, httpCustom, mqtt or mqttCustom is missing");
  EXPECT_EQ(PatchSubscription(*sub.spec, J("{}")).error().message, "empty payload");
}

TEST(SubscriptionRender, StatusAndStatistics) {
  Subscription sub = Make(
      std::string(kMinimal).insert(kMinimal.size() - 1, R"(,"expires":"2030-01-01T00:00:00Z")"));
  const TimeMs before_expiry = *ParseIso8601("2029-01-01T00:00:00Z");
  EXPECT_EQ(ReportedStatus(sub, before_expiry), "active");
  EXPECT_EQ(ReportedStatus(sub, *ParseIso8601("2031-01-01T00:00:00Z")), "expired");
  sub.counters = {3, 3000, 1000, 3000, 200, "HTTP status 500", 2};
  EXPECT_EQ(ReportedStatus(sub, before_expiry), "failed");
  bj::object r = RenderSubscription(sub, before_expiry);
  EXPECT_EQ(r["id"].as_string(), sub.id);
  const auto& n = r["notification"].as_object();
  EXPECT_EQ(n.at("timesSent").as_int64(), 3);
  EXPECT_EQ(n.at("lastSuccessCode").as_uint64(), 200u);
  EXPECT_EQ(n.at("lastFailureReason").as_string(), "HTTP status 500");
  EXPECT_EQ(n.at("failsCounter").as_int64(), 2);
  EXPECT_EQ(n.at("lastNotification").as_string(), "1970-01-01T00:00:03.000Z");
}

TEST(SubscriptionRender, StoredDocumentKeepsPathAndCounters) {
  Subscription sub = Make(kMinimal);
  sub.service_path = "/a/#";
  sub.counters.times_sent = 7;
  sub.counters.last_failure_reason = "x";
  auto back = ParseStoredDocument(sub.id, StoredDocument(sub));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->service_path, "/a/#");
  EXPECT_EQ(back->counters.times_sent, 7);
  EXPECT_EQ(back->counters.last_failure_reason, "x");
  EXPECT_FALSE(ParseStoredDocument("x", "{").has_value());
}

// A pattern that backtracks without end on some ids: Boost gives up with an exception,
// which on the writer thread ended the process. It is no match instead.
TEST(SubscriptionMatch, APatternTooComplexForAnIdIsNoMatch) {
  Subscription sub = Make(R"({"subject":{"entities":[{"idPattern":"(a+)+$"},
      {"idPattern":".*","typePattern":"(R+)+$"}]},"notification":{"http":{"url":"http://x"}}})");
  const PathScope all = PathScope::All();
  const std::string id = std::string(64, 'a') + "!";
  const std::string type = std::string(64, 'R') + "!";
  const boost::regex& re = *sub.spec->entities[0].id_re;
  ASSERT_THROW(boost::regex_search(id, re), std::runtime_error) << "the case this test is about";
  auto weird = std::make_shared<Entity>(*Room(id, 2));
  weird->type = type;
  EXPECT_NO_THROW(EXPECT_FALSE(Triggers(sub, all, Update(Room(id, 1), weird, {"temperature"}))));
  EXPECT_TRUE(Triggers(sub, all, Update(Room("aaa", 1), Room("aaa", 2), {"temperature"})));
}

TEST(SubscriptionMatch, ConditionAttrsAndNoChange) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}],
      "condition":{"attrs":["temperature"]}},"notification":{"http":{"url":"http://x"}}})");
  const PathScope all = PathScope::All();
  EXPECT_TRUE(Triggers(sub, all, Update(Room("Room1", 1), Room("Room1", 2), {"temperature"})));
  EXPECT_FALSE(Triggers(sub, all, Update(Room("Room1", 1), Room("Room1", 1), {"name"})));
  EXPECT_FALSE(Triggers(sub, all, Update(Room("Room2", 1), Room("Room2", 2), {"temperature"})));
  // An update that changed nothing does not notify, unless forced.
  EntityChange same = Update(Room("Room1", 1), Room("Room1", 1), {});
  same.updated_attrs = {"temperature"};
  EXPECT_FALSE(Triggers(sub, all, same));
  same.forced = true;
  EXPECT_TRUE(Triggers(sub, all, same));
}

TEST(SubscriptionMatch, MetadataOnlyChangesCountUnlessNotifyOnMetadataChangeIsFalse) {
  const char* body = R"({"subject":{"entities":[{"id":"Room1"}],
      "condition":{"attrs":["temperature"],"notifyOnMetadataChange":%s}},
      "notification":{"http":{"url":"http://x"}}})";
  const PathScope all = PathScope::All();
  EntityChange metadata_only = Update(Room("Room1", 1), Room("Room1", 1), {"temperature"});
  metadata_only.metadata_changed_attrs = {"temperature"};
  char text[512];
  std::snprintf(text, sizeof text, body, "true");
  EXPECT_TRUE(Triggers(Make(text), all, metadata_only));
  std::snprintf(text, sizeof text, body, "false");
  const Subscription values_only = Make(text);
  EXPECT_FALSE(Triggers(values_only, all, metadata_only));
  EXPECT_TRUE(
      Triggers(values_only, all, Update(Room("Room1", 1), Room("Room1", 2), {"temperature"})));
  metadata_only.forced = true;  // forcedUpdate still notifies
  EXPECT_TRUE(Triggers(values_only, all, metadata_only));
}

TEST(SubscriptionMatch, PatternsPathsAndAlterations) {
  Subscription sub = Make(R"({"subject":{"entities":[{"idPattern":"oom","type":"Room"}]},
      "notification":{"http":{"url":"http://x"}}})");
  auto scope = PathScope::Parse("/a/#");
  ASSERT_TRUE(scope.has_value());
  EXPECT_TRUE(Triggers(sub, *scope, Update(nullptr, Room("BigRoom", 1, "/a/b"), {"x"})));
  EXPECT_FALSE(Triggers(sub, *scope, Update(nullptr, Room("BigRoom", 1, "/c"), {"x"})));
  EntityChange del;
  del.kind = ChangeKind::kDelete;
  del.before = Room("Room1", 1, "/a");
  EXPECT_FALSE(Triggers(sub, *scope, del));  // entityDelete is not a default
  Subscription on_delete = Make(R"({"subject":{"entities":[{"id":"Room1"}],
      "condition":{"alterationTypes":["entityDelete"]}},"notification":{"http":{"url":"http://x"}}})");
  EXPECT_TRUE(Triggers(on_delete, *scope, del));
  EXPECT_FALSE(Triggers(on_delete, *scope, Update(Room("Room1", 1), Room("Room1", 2), {"t"})));
}

TEST(SubscriptionMatch, ExpressionOnNewState) {
  Subscription sub = Make(R"({"subject":{"entities":[{"idPattern":".*"}],
      "condition":{"expression":{"q":"temperature>20"}}},"notification":{"http":{"url":"http://x"}}})");
  const PathScope all = PathScope::All();
  EXPECT_TRUE(Triggers(sub, all, Update(Room("R", 10), Room("R", 25), {"temperature"})));
  EXPECT_FALSE(Triggers(sub, all, Update(Room("R", 25), Room("R", 10), {"temperature"})));
}

TEST(SubscriptionNotify, DefaultPayloadAndHeaders) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":{
      "http":{"url":"http://x/n"},"attrs":["temperature"],"attrsFormat":"keyValues"}})");
  EntityChange c = Update(Room("Room1", 1), Room("Room1", 2), {"temperature"});
  c.tenant = "city";
  auto req = BuildNotification(sub, c, 2, std::chrono::milliseconds(5000));
  EXPECT_EQ(req.url, "http://x/n");
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(
      req.body,
      R"({"subscriptionId":"5f0000000000000000000001","data":[{"id":"Room1","type":"Room","temperature":2}]})");
  auto header = [&](std::string_view name) {
    for (const auto& [k, v] : req.headers) {
      if (k == name) return v;
    }
    return std::string("<none>");
  };
  EXPECT_EQ(header("Accept"), "application/json");
  EXPECT_EQ(header("Content-Type"), "application/json; charset=utf-8");
  EXPECT_EQ(header("Fiware-Service"), "city");
  EXPECT_EQ(header("Fiware-ServicePath"), "/");
  EXPECT_EQ(header("Fiware-Correlator"), "corr-1; cbnotif=2");
  EXPECT_EQ(header("Ngsiv2-AttrsFormat"), "keyValues");
}

TEST(SubscriptionNotify, OnlyChangedAttrsAndPreviousValue) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":{
      "http":{"url":"http://x"},"onlyChangedAttrs":true,"metadata":["previousValue"]}})");
  auto req = BuildNotification(sub, Update(Room("Room1", 1), Room("Room1", 2), {"temperature"}), 1,
                               std::chrono::milliseconds(5000));
  auto body = J(req.body);
  const auto& entity = body.at("data").at(0).as_object();
  EXPECT_FALSE(entity.contains("name"));
  EXPECT_EQ(entity.at("temperature").at("value").to_number<double>(), 2);
  EXPECT_EQ(
      entity.at("temperature").at("metadata").at("previousValue").at("value").to_number<double>(),
      1);
}

TEST(SubscriptionNotify, AlterationTypeOnlyWhenNamed) {
  auto notified = [](std::string_view notification, const EntityChange& c) {
    Subscription sub = Make(std::string(R"({"subject":{"entities":[{"id":"Room1"}],
        "condition":{"alterationTypes":["entityUpdate","entityDelete"]}},"notification":{)") +
                            std::string(notification) + "}}");
    return J(BuildNotification(sub, c, 1, std::chrono::milliseconds(5000)).body)
        .at("data")
        .at(0)
        .as_object();
  };
  EntityChange del;
  del.kind = ChangeKind::kDelete;
  del.before = Room("Room1", 1);
  const std::string http = R"("http":{"url":"http://x"})";
  auto all = notified(http + R"(,"attrs":["alterationType","*"])", del);
  EXPECT_EQ(json::Dump(all.at("alterationType")),
            R"({"type":"Text","value":"entityDelete","metadata":{}})");
  EXPECT_TRUE(all.contains("temperature"));
  // Named attributes come in the order given; keyValues gives the bare string.
  auto kv = notified(http + R"(,"attrs":["alterationType","name"],"attrsFormat":"keyValues")",
                     Update(Room("Room1", 1), Room("Room1", 1), {}));
  EXPECT_EQ(json::Dump(kv), R"({"id":"Room1","type":"Room","alterationType":"entityUpdate",)"
                            R"("name":"kitchen"})");
  // onlyChangedAttrs keeps it (Orion's rule for builtins).
  auto changed =
      notified(http + R"(,"attrs":["temperature","alterationType"],"onlyChangedAttrs":true)",
               Update(Room("Room1", 1), Room("Room1", 2), {"temperature"}));
  EXPECT_EQ(changed.at("alterationType").at("value").as_string(), "entityChange");
  EXPECT_FALSE(notified(http + R"(,"attrs":["*"])", del).contains("alterationType"));
  EXPECT_FALSE(notified(http, del).contains("alterationType"));
}

TEST(SubscriptionNotify, ActionTypeAndPreviousValueOnTouchedAttrsOnly) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}],
      "condition":{"alterationTypes":["entityCreate","entityChange","entityDelete"]}},
      "notification":{"http":{"url":"http://x"},"metadata":["actionType","previousValue"]}})");
  auto metadata_of = [&](const EntityChange& c, std::string_view attr) {
    auto body = J(BuildNotification(sub, c, 1, std::chrono::milliseconds(5000)).body);
    return json::Dump(body.at("data").at(0).at(attr).at("metadata"));
  };
  auto after = std::make_shared<Entity>(*Room("Room1", 2));
  after->attrs.emplace_back("humidity", Attribute{"Number", 40, {}});
  EntityChange update = Update(Room("Room1", 1), after, {"temperature", "humidity"});
  EXPECT_EQ(metadata_of(update, "temperature"), R"({"actionType":{"type":"Text","value":"update"},)"
                                                R"("previousValue":{"type":"Number","value":1}})");
  EXPECT_EQ(metadata_of(update, "humidity"), R"({"actionType":{"type":"Text","value":"append"}})");
  EXPECT_EQ(metadata_of(update, "name"), "{}");  // not in the request
  EntityChange create = Update(nullptr, Room("Room1", 1), {"temperature", "name"});
  create.kind = ChangeKind::kCreate;
  EXPECT_EQ(metadata_of(create, "name"), R"({"actionType":{"type":"Text","value":"append"}})");
  // Deleting an attribute touches no remaining attribute; deleting the entity, none (Orion
  // reserves actionType "delete" and never sends it).
  auto without_name = std::make_shared<Entity>(*Room("Room1", 1));
  without_name->attrs.pop_back();
  EntityChange attr_delete = Update(Room("Room1", 1), without_name, {});
  attr_delete.changed_attrs = {"name"};
  EXPECT_EQ(metadata_of(attr_delete, "temperature"), "{}");
  EntityChange del;
  del.kind = ChangeKind::kDelete;
  del.before = Room("Room1", 1);
  EXPECT_EQ(metadata_of(del, "temperature"), "{}");
}

TEST(SubscriptionNotify, CustomTemplates) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":{
      "httpCustom":{"url":"http://x/${type}/${id}","method":"PUT","qs":{"t":"${temperature}"},
      "headers":{"X-Name":"${name}","Fiware-Correlator":"mine"},"payload":"temp ${temperature} in ${name}${missing}"}}})");
  auto req = BuildNotification(sub, Update(Room("Room1", 1), Room("Room1", 21.5), {"temperature"}),
                               1, std::chrono::milliseconds(5000));
  EXPECT_EQ(req.method, "PUT");
  EXPECT_EQ(req.url, "http://x/Room/Room1?t=21.5");
  EXPECT_EQ(req.body, "temp 21.5 in kitchen");
  bool saw_name = false;
  for (const auto& [k, v] : req.headers) {
    if (k == "X-Name") saw_name = (v == "kitchen");
    if (k == "Fiware-Correlator") {
      EXPECT_EQ(v, "corr-1; cbnotif=1");
    }
    if (k == "Content-Type") {
      EXPECT_EQ(v, "text/plain; charset=utf-8");
    }
    if (k == "Ngsiv2-AttrsFormat") {
      EXPECT_EQ(v, "custom");
    }
  }
  EXPECT_TRUE(saw_name);
}

// covered: the attributes named in notification.attrs that the entity lacks come as null of
// type None, in every attrsFormat; builtins and "*" are not attributes to cover.
TEST(SubscriptionNotify, CoveredAddsMissingAttributesAsNull) {
  auto body = [](std::string_view format, std::string_view attrs) {
    Subscription sub = Make(std::string(R"({"subject":{"entities":[{"id":"Room1"}]},
        "notification":{"http":{"url":"http://x"},"covered":true,"attrsFormat":")") +
                            std::string(format) + R"(","attrs":)" + std::string(attrs) + "}}");
    auto req = BuildNotification(sub, Update(Room("Room1", 1), Room("Room1", 2), {"temperature"}),
                                 1, std::chrono::milliseconds(5000));
    return J(req.body).at("data").at(0);
  };
  const std::string_view listed = R"(["brightness","temperature"])";
  EXPECT_EQ(body("normalized", listed), J(R"({"id":"Room1","type":"Room",
                  "brightness":{"type":"None","value":null,"metadata":{}},
                  "temperature":{"type":"Number","value":2,"metadata":{}}})"));
  EXPECT_EQ(body("keyValues", listed),
            J(R"({"id":"Room1","type":"Room","brightness":null,"temperature":2})"));
  EXPECT_EQ(body("values", listed), J("[null,2]"));
  // "*" (every attribute) and the builtins are not attributes to cover.
  EXPECT_EQ(body("keyValues", R"(["*","dateExpires","co2"])"),
            J(R"({"id":"Room1","type":"Room","temperature":2,"name":"kitchen","co2":null})"));
}

TEST(SubscriptionNotify, CoveredWithOnlyChangedAttrsCoversOnlyWhatTheChangeIsAbout) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":{
      "http":{"url":"http://x"},"covered":true,"onlyChangedAttrs":true,
      "attrs":["temperature","brightness","humidity"],"attrsFormat":"keyValues"}})");
  auto before = std::make_shared<Entity>(*Room("Room1", 1));
  before->attrs.emplace_back("humidity", Attribute{"Number", 40, {}});
  EntityChange c = Update(before, Room("Room1", 2), {"temperature", "humidity"});  // deleted
  auto req = BuildNotification(sub, c, 1, std::chrono::milliseconds(5000));
  EXPECT_EQ(J(req.body).at("data").at(0),
            J(R"({"id":"Room1","type":"Room","temperature":2,"humidity":null})"));
}

// With covered, ${...} of an attribute the entity lacks is "null" instead of "" (Orion).
TEST(SubscriptionNotify, CoveredTemplatesWriteNullForMissingAttributes) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":{
      "httpCustom":{"url":"http://x","payload":"t ${temperature}, b ${brightness}, c ${co2}",
      "headers":{"X-B":"${brightness}"}},"covered":true,"attrs":["brightness","temperature"]}})");
  auto req = BuildNotification(sub, Update(Room("Room1", 1), Room("Room1", 3), {"temperature"}), 1,
                               std::chrono::milliseconds(5000));
  EXPECT_EQ(req.body, "t 3, b null, c null");
  EXPECT_TRUE(std::ranges::find(req.headers, std::pair<std::string, std::string>{"X-B", "null"}) !=
              req.headers.end());
  auto rendered = RenderSpec(*sub.spec);
  EXPECT_EQ(rendered.at("notification").at("covered"), true);
  EXPECT_TRUE(ParseSubscription(rendered).value().covered);  // round trip
}

TEST(SubscriptionNotify, QueryStringIsEscapedBeyondUnreserved) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":{
      "httpCustom":{"url":"http://x/n","qs":{"k y":"a+b&c d/中~_.-"}}}})");
  auto req = BuildNotification(sub, Update(Room("Room1", 1), Room("Room1", 2), {"temperature"}), 1,
                               std::chrono::milliseconds(5000));
  EXPECT_EQ(req.url, "http://x/n?k%20y=a%2Bb%26c%20d%2F%E4%B8%AD~_.-");
}

TEST(SubscriptionNotify, NgsiPatchRenamesAndAddsAttributesFirst) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":{
      "httpCustom":{"url":"http://x","ngsi":{"id":"gaoming:${id}","type":"Space",
        "origin":{"value":"${service}"},"t":{"value":"${temperature}","type":"Celsius"},
        "name":{"value":"room ${name}"},"gone":{"value":"${nothere}"}}},
      "attrs":["origin","t","name","gone","temperature"]}})");
  auto req = BuildNotification(sub, Update(Room("Room1", 1), Room("Room1", 21.5), {"temperature"}),
                               1, std::chrono::milliseconds(5000));
  const auto body = boost::json::parse(req.body);
  EXPECT_EQ(body.at("data").at(0), boost::json::parse(R"({"id":"gaoming:Room1","type":"Space",
      "origin":{"type":"Text","value":"","metadata":{}},
      "t":{"type":"Celsius","value":21.5,"metadata":{}},
      "name":{"type":"Text","value":"room kitchen","metadata":{}},
      "gone":{"type":"None","value":null,"metadata":{}},
      "temperature":{"type":"Number","value":21.5,"metadata":{}}})"));
  for (const auto& [k, v] : req.headers) {
    if (k == "Ngsiv2-AttrsFormat") {
      EXPECT_EQ(v, "normalized");
    }
  }
  // Rendered back as given; metadata in the fragment is refused.
  EXPECT_TRUE(
      RenderSubscription(sub, 0).at("notification").at("httpCustom").as_object().contains("ngsi"));
  EXPECT_EQ(ErrorOf(R"({"subject":{"entities":[{"id":"R"}]},"notification":{"httpCustom":{
      "url":"http://x","ngsi":{"a":{"value":1,"metadata":{}}}}}})"),
            "metadata is not allowed in ngsi field attributes");
}

TEST(SubscriptionNotify, HeadersThatWouldBreakTheRequestAreLeftOut) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":{
      "httpCustom":{"url":"http://x","headers":{"X-A":"a%0D%0AX-Injected: 1","X-B":"${name}",
        "X-C":"nul%00byte","X-D":"ok %41"}}}})");
  auto room = std::make_shared<Entity>(*Room("Room1", 2));
  room->Find("name")->value = "kitchen\r\nX-Evil: 1";
  auto req = BuildNotification(sub, Update(Room("Room1", 1), room, {"temperature"}), 1,
                               std::chrono::milliseconds(5000));
  std::vector<std::string> names;
  for (const auto& [k, v] : req.headers) {
    names.push_back(k);
    EXPECT_EQ(v.find_first_of("\r\n"), std::string::npos) << k;
  }
  EXPECT_EQ(std::ranges::count(names, "X-A") + std::ranges::count(names, "X-B") +
                std::ranges::count(names, "X-C"),
            0);
  EXPECT_EQ(std::ranges::count(names, "X-D"), 1);
}

TEST(SubscriptionNotify, JsonTemplateKeepsTypes) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":{
      "httpCustom":{"url":"http://x","json":{"t":"${temperature}","label":"room ${id}"}}}})");
  auto req = BuildNotification(sub, Update(Room("Room1", 1), Room("Room1", 3), {"temperature"}), 1,
                               std::chrono::milliseconds(5000));
  EXPECT_EQ(req.body, R"({"t":3,"label":"room Room1"})");
}

TEST(SubscriptionNotify, PayloadAndHeaderValuesAreUrlDecoded) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":{
      "httpCustom":{"url":"http://x","payload":"%22${name}%22 %3D a+b %zz 100%",
      "headers":{"Authorization":"Basic QUJD%3D%3D","X-Name":"%28${name}%29"}}}})");
  auto req = BuildNotification(sub, Update(Room("Room1", 1), Room("Room1", 2), {"temperature"}), 1,
                               std::chrono::milliseconds(5000));
  EXPECT_EQ(req.body, R"("kitchen" = a+b %zz 100%)");
  std::map<std::string, std::string> headers(req.headers.begin(), req.headers.end());
  EXPECT_EQ(headers["Authorization"], "Basic QUJD==");
  EXPECT_EQ(headers["X-Name"], "(kitchen)");
}

TEST(SubscriptionNotify, EmptyPayloadSendsTheNgsiBody) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":{
      "httpCustom":{"url":"http://x","method":"PUT","payload":"","headers":{"X-A":"1"}},
      "attrs":["temperature"]}})");
  auto req = BuildNotification(sub, Update(Room("Room1", 1), Room("Room1", 2), {"temperature"}), 1,
                               std::chrono::milliseconds(5000));
  EXPECT_EQ(req.method, "PUT");
  EXPECT_EQ(req.body,
            R"({"subscriptionId":"5f0000000000000000000001","data":[{"id":"Room1",)"
            R"("type":"Room","temperature":{"type":"Number","value":2,"metadata":{}}}]})");
  std::map<std::string, std::string> headers(req.headers.begin(), req.headers.end());
  EXPECT_EQ(headers["Content-Type"], "application/json; charset=utf-8");
  EXPECT_EQ(headers["Ngsiv2-AttrsFormat"], "normalized");
  EXPECT_EQ(headers["X-A"], "1");
}

TEST(SubscriptionNotify, EmptyQsEntriesAndHeadersAfterSubstitution) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":{
      "httpCustom":{"url":"http://x/n","qs":{"a":"${missing}","${missing}":"1","t":"${temperature}"},
      "headers":{"${missing}":"v","Accept":"","X-Gone":"${missing}","X-Kept":"k"}}}})");
  auto req = BuildNotification(sub, Update(Room("Room1", 1), Room("Room1", 2), {"temperature"}), 1,
                               std::chrono::milliseconds(5000));
  EXPECT_EQ(req.url, "http://x/n?t=2");
  std::map<std::string, std::string> headers(req.headers.begin(), req.headers.end());
  EXPECT_FALSE(headers.contains("Accept"));  // an empty value removes a default header
  EXPECT_FALSE(headers.contains("X-Gone"));
  EXPECT_FALSE(headers.contains(""));
  EXPECT_EQ(headers["X-Kept"], "k");
  EXPECT_EQ(headers["Content-Type"], "application/json; charset=utf-8");
}

TEST(SubscriptionNotify, JsonTemplateMissingAttributeIsNull) {
  Subscription sub = Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":{
      "httpCustom":{"url":"http://x","json":{"m":"${missing}","i":"${id}","s":"x${missing}"}}}})");
  auto req = BuildNotification(sub, Update(Room("Room1", 1), Room("Room1", 3), {"temperature"}), 1,
                               std::chrono::milliseconds(5000));
  EXPECT_EQ(req.body, R"({"m":null,"i":"Room1","s":"x"})");
}

TEST(SubscriptionMacros, Substitution) {
  Entity e = *Room("R1", 7);
  e.attrs.emplace_back("obj", Attribute{"StructuredValue", J(R"({"a":[1,2]})"), {}});
  EXPECT_EQ(SubstituteMacros("${id}/${service}/${servicePath}/${obj}", e, "t1"),
            R"(R1/t1///{"a":[1,2]})");
  EXPECT_EQ(SubstituteMacros("a ${unterminated", e, ""), "a ${unterminated");
  EXPECT_EQ(SubstituteMacros("${nope}${authToken}", e, ""), "");
}

TEST(ReceiverOfTest, SchemeHostAndPortInLowerCaseWithTheDefaultPort) {
  EXPECT_EQ(ReceiverOf("http://Rx.Example/n?a=1"), "http://rx.example:80");
  EXPECT_EQ(ReceiverOf("https://rx.example/n"), "https://rx.example:443");
  EXPECT_EQ(ReceiverOf("http://user:pw@10.0.0.1:8080/x#f"), "http://10.0.0.1:8080");
  EXPECT_EQ(ReceiverOf("http://[::1]/n"), "http://[::1]:80");
  EXPECT_EQ(ReceiverOf("http://[::1]:9000"), "http://[::1]:9000");
  EXPECT_EQ(ReceiverOf("not a url"), "not a url");
}

// The receiver is worked out once, at parsing, unless a macro in the URL's host makes it
// depend on the entity; either way the notification names it.
TEST(ReceiverOfTest, ASubscriptionKnowsItsReceiverUnlessTheHostIsATemplate) {
  const auto subscription_with = [](std::string_view notification) {
    return Make(R"({"subject":{"entities":[{"id":"Room1"}]},"notification":)" +
                std::string(notification) + "}");
  };
  const EntityChange change = Update(Room("Room1", 1), Room("Room1", 2), {"temperature"});
  const auto built = [&](const Subscription& sub) {
    return BuildNotification(sub, change, 1, std::chrono::milliseconds(5000)).receiver;
  };
  Subscription plain = subscription_with(R"({"http":{"url":"http://Rx.example:9/n"}})");
  EXPECT_EQ(plain.spec->http.receiver, "http://rx.example:9");
  EXPECT_EQ(built(plain), "http://rx.example:9");
  Subscription path = subscription_with(R"({"httpCustom":{"url":"http://rx/${type}/${id}",
      "qs":{"t":"${temperature}"}}})");
  EXPECT_EQ(path.spec->http.receiver, "http://rx:80");
  EXPECT_EQ(built(path), "http://rx:80");
  Subscription host = subscription_with(R"({"httpCustom":{"url":"http://${name}.example:9/n"}})");
  EXPECT_EQ(host.spec->http.receiver, "");
  EXPECT_EQ(built(host), "http://kitchen.example:9");
}

}  // namespace
}  // namespace zc::context
