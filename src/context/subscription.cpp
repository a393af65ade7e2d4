// NGSI-v2 subscriptions as values (see subscription.h): parsing and validating the
// client's JSON with Orion's error wording, rendering it back (GET, stored documents),
// matching an EntityChange, and building the notification a match sends.
//
// Design: the parsed SubscriptionSpec is the single source of truth; RenderSpec renders
// exactly what ParseSubscription accepts, so PATCH is "render, overlay the given top-level
// fields, parse again" and a stored document is "render plus id, path and counters". The
// parser walks the body once in Orion's order (description, subject, notification,
// expires, status, throttling) so that the first error reported is Orion's first error.
#include "context/subscription.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#include <fmt/format.h>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "common/ascii.h"
#include "common/json.h"
#include "context/ngsi_format.h"
#include "context/pattern_search.h"

namespace zc::context {
namespace {

namespace bj = boost::json;

constexpr std::string_view kForbidden = "<>\"'=;()";  // Orion's general forbidden characters

Error Bad(std::string message) {
  return Error::BadRequest(std::move(message));
}

bool HasForbidden(std::string_view s) {
  return s.find_first_of(kForbidden) != s.npos;
}

// Orion's forbiddenIdCharsV2: whitespace/control/non-ASCII, URL delimiters, general set.
bool HasForbiddenIdChars(std::string_view s) {
  return std::ranges::any_of(s, [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 32 || u == 127 || std::string_view("?/#&").find(c) != std::string_view::npos ||
           kForbidden.find(c) != std::string_view::npos;
  });
}

// Orion's getStringOpt: absent → nullopt; present and not a string → "<what> is not a string".
Result<std::optional<std::string>> OptString(const bj::object& o, std::string_view key,
                                             std::string_view what = {}) {
  const bj::value* v = o.if_contains(key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) {
    return Fail(Bad(std::string(what.empty() ? key : what) + " is not a string"));
  }
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<std::optional<int64_t>> OptInt(const bj::object& o, std::string_view key) {
  const bj::value* v = o.if_contains(key);
  if (v == nullptr) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->get_int64());
  if (v->is_uint64() && v->get_uint64() <= uint64_t(INT64_MAX)) {
    return std::optional<int64_t>(static_cast<int64_t>(v->get_uint64()));
  }
  return Fail(Bad(std::string(key) + " is not an int"));
}

Result<std::optional<bool>> OptBool(const bj::object& o, std::string_view key) {
  const bj::value* v = o.if_contains(key);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_bool()) return Fail(Bad(std::string(key) + " is not a bool"));
  return std::optional<bool>(v->get_bool());
}

// Orion's parseStringVector (non-empty strings, duplicates dropped).
Result<std::vector<std::string>> StringVector(const bj::value& v, std::string_view field) {
  if (!v.is_array()) {
    return Fail(Bad("the field /" + std::string(field) + "/ must be a JSON array"));
  }
  std::vector<std::string> out;
  for (const auto& item : v.get_array()) {
    if (!item.is_string()) {
      return Fail(Bad("only JSON Strings allowed in string vector /" + std::string(field) + "/"));
    }
    std::string s(item.get_string());
    if (s.empty()) {
      return Fail(Bad("empty string found in string vector /" + std::string(field) + "/"));
    }
    if (std::ranges::find(out, s) == out.end()) out.push_back(std::move(s));
    if (out.size() > kMaxSubscriptionAttrs) {
      return Fail(Bad("too many items in string vector /" + std::string(field) + "/"));
    }
  }
  return out;
}

Result<std::shared_ptr<const boost::regex>> CompilePattern(const std::string& pattern,
                                                           std::string_view message) {
  auto re =
      std::make_shared<boost::regex>(pattern, boost::regex::ECMAScript | boost::regex::no_except);
  if (re->status() != 0) return Fail(Bad(std::string(message)));
  return std::shared_ptr<const boost::regex>(std::move(re));
}

// The id/idPattern half of one subject.entities item (Orion's parseEntitiesVector).
Status ParseSubjectId(const bj::object& item, EntitySubject& out) {
  auto id = OptString(item, "id", "/entities/ vector item /id/");
  if (!id) return Fail(id.error());
  if (*id) {
    if ((*id)->empty()) return Fail(Bad("/entities/ element id is empty"));
    if (HasForbiddenIdChars(**id)) {
      return Fail(Bad("forbidden characters in /entities/ vector item /id/"));
    }
    if ((*id)->size() > kMaxNameLength) {
      return Fail(Bad("max id length exceeded in /entities/ vector item /id/"));
    }
    out.id = std::move(**id);
  }
  auto pattern = OptString(item, "idPattern", "/entities/ vector item /idPattern/");
  if (!pattern) return Fail(pattern.error());
  if (*pattern) {
    if ((*pattern)->empty()) return Fail(Bad("/entities/ vector item /idPattern/ is empty"));
    auto re = CompilePattern(**pattern, "Invalid regex for entity idPattern");
    if (!re) return Fail(re.error());
    out.id_pattern = std::move(**pattern);
    out.id_re = std::move(*re);
  }
  return Ok();
}

Status ParseSubjectType(const bj::object& item, EntitySubject& out) {
  auto type = OptString(item, "type", "/entities/ vector item type");
  if (!type) return Fail(type.error());
  if (*type) {
    if (HasForbiddenIdChars(**type)) {
      return Fail(Bad("forbidden characters in /entities/ vector item /type/"));
    }
    if ((*type)->size() > kMaxNameLength) {
      return Fail(Bad("max type length exceeded in /entities/ vector item /type/"));
    }
    if ((*type)->empty()) return Fail(Bad("entity type length: 0, min length supported: 1"));
    out.type = std::move(**type);
  }
  auto pattern = OptString(item, "typePattern", "/entities/ vector item /typePattern/");
  if (!pattern) return Fail(pattern.error());
  if (*pattern) {
    if ((*pattern)->empty()) return Fail(Bad("/entities/ vector item /typePattern/ is empty"));
    auto re = CompilePattern(**pattern, "Invalid regex for entity typePattern");
    if (!re) return Fail(re.error());
    out.type_pattern = std::move(**pattern);
    out.type_re = std::move(*re);
  }
  return Ok();
}

Result<std::vector<EntitySubject>> ParseSubjectEntities(const bj::value& v) {
  if (!v.is_array()) return Fail(Bad("/entities/ is not an array"));
  std::vector<EntitySubject> out;
  for (const auto& item : v.get_array()) {
    if (!item.is_object()) return Fail(Bad("/entities/ vector item is not an object"));
    const auto& o = item.get_object();
    if (!o.contains("id") && !o.contains("idPattern")) {
      return Fail(Bad("/entities/ vector item does not have /id/ nor /idPattern/"));
    }
    if (o.contains("id") && o.contains("idPattern")) {
      return Fail(Bad("/entities/ vector item has both /id/ and /idPattern/"));
    }
    if (o.contains("type") && o.contains("typePattern")) {
      return Fail(Bad("/entities/ element has both /type/ and /typePattern/"));
    }
    EntitySubject subject;
    if (auto s = ParseSubjectId(o, subject); !s) return Fail(s.error());
    if (auto s = ParseSubjectType(o, subject); !s) return Fail(s.error());
    if (out.size() == kMaxSubjectEntities) return Fail(Bad("too many items in /entities/"));
    out.push_back(std::move(subject));
  }
  if (out.empty()) return Fail(Bad("subject entities is empty"));
  return out;
}

// One non-empty string field of condition.expression ("q is not a string", "q is empty").
Result<std::string> ExpressionField(const bj::object& e, std::string_view key) {
  auto v = OptString(e, key);
  if (!v) return Fail(v.error());
  if (!*v) return std::string();
  if ((*v)->empty()) return Fail(Bad(std::string(key) + " is empty"));
  if ((*v)->size() > kMaxQueryLength) return Fail(Bad(std::string(key) + " is too long"));
  return std::move(**v);
}

// Orion's parseExpression: q, mq and the three geo fields (all or none).
Status ParseExpression(const bj::value& v, SubscriptionSpec& spec) {
  if (!v.is_object()) return Fail(Bad("expression is not an object"));
  const auto& e = v.get_object();
  if (e.empty()) return Fail(Bad("expression is empty"));
  std::array<std::string*, 5> targets = {&spec.q, &spec.mq, &spec.geometry, &spec.coords,
                                         &spec.georel};
  std::array<std::string_view, 5> keys = {"q", "mq", "geometry", "coords", "georel"};
  for (size_t i = 0; i < keys.size(); ++i) {
    auto field = ExpressionField(e, keys[i]);
    if (!field) return Fail(field.error());
    *targets[i] = std::move(*field);
    if (i == 0 && !spec.q.empty()) {
      auto q = Filter::ParseQ(spec.q);
      if (!q) return Fail(q.error());
      spec.filter.AndWith(*q);
    }
    if (i == 1 && !spec.mq.empty()) {
      auto mq = Filter::ParseMq(spec.mq);
      if (!mq) return Fail(mq.error());
      spec.filter.AndWith(*mq);
    }
  }
  if (spec.georel.empty() && spec.geometry.empty() && spec.coords.empty()) return Ok();
  auto geo = ParseGeoQuery(spec.georel, spec.geometry, spec.coords, GeoErrorStyle::kSubscription);
  if (!geo) return Fail(geo.error());
  spec.geo = std::move(*geo);
  return Ok();
}

Status ParseAlterations(const bj::value& v, SubscriptionSpec& spec) {
  auto names = StringVector(v, "alterationTypes");
  if (!names) return Fail(names.error());
  static constexpr std::array<std::pair<std::string_view, uint8_t>, 4> kNames = {{
      {"entityCreate", kAlterationCreate},
      {"entityChange", kAlterationChange},
      {"entityUpdate", kAlterationUpdate},
      {"entityDelete", kAlterationDelete},
  }};
  uint8_t bits = 0;
  for (const auto& name : *names) {
    auto it = std::ranges::find(kNames, name, &std::pair<std::string_view, uint8_t>::first);
    if (it == kNames.end()) return Fail(Bad("unknown subscription alterationType: " + name));
    bits |= it->second;
  }
  spec.alterations = bits != 0 ? bits : kDefaultAlterations;  // [] means the default, as in Orion
  spec.alteration_names = std::move(*names);
  return Ok();
}

Status ParseCondition(const bj::value& v, SubscriptionSpec& spec) {
  if (!v.is_object()) return Fail(Bad("condition is not an object"));
  const auto& c = v.get_object();
  if (c.empty()) return Fail(Bad("condition is empty"));
  if (const auto* attrs = c.if_contains("attrs")) {
    auto list = StringVector(*attrs, "attrs");
    if (!list) return Fail(list.error());
    spec.condition_attrs = std::move(*list);
  }
  if (const auto* expr = c.if_contains("expression")) {
    if (auto s = ParseExpression(*expr, spec); !s) return s;
  }
  if (const auto* alt = c.if_contains("alterationTypes")) {
    if (auto s = ParseAlterations(*alt, spec); !s) return s;
  }
  auto on_metadata = OptBool(c, "notifyOnMetadataChange");
  if (!on_metadata) return Fail(on_metadata.error());
  spec.notify_on_metadata_change = on_metadata->value_or(true);
  return Ok();
}

Status ParseSubject(const bj::value& v, SubscriptionSpec& spec) {
  if (!v.is_object()) return Fail(Bad("subject is not an object"));
  const auto& s = v.get_object();
  const auto* entities = s.if_contains("entities");
  if (entities == nullptr) return Fail(Bad("no subject entities specified"));
  auto parsed = ParseSubjectEntities(*entities);
  if (!parsed) return Fail(parsed.error());
  spec.entities = std::move(*parsed);
  if (const auto* condition = s.if_contains("condition")) return ParseCondition(*condition, spec);
  return Ok();
}

// Orion's parseUrl as far as notifications need it: http:// or https://, a host, an
// optional numeric port.
bool ValidHttpUrl(std::string_view url) {
  size_t scheme = 0;
  if (url.starts_with("http://")) {
    scheme = 7;
  } else if (url.starts_with("https://")) {
    scheme = 8;
  } else {
    return false;
  }
  std::string_view rest = url.substr(scheme);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.starts_with(':')) return false;
  size_t colon = authority.rfind(':');
  if (colon != authority.npos && authority.find(']', colon) == authority.npos) {
    std::string_view port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::ranges::all_of(port, ::isdigit)) return false;
  }
  return true;
}

// Orion's parseTimeout: "timeout is not an int" (getInt64Opt), then the range.
Status ParseTimeout(const bj::object& o, HttpTarget& http) {
  auto timeout = OptInt(o, "timeout");
  if (!timeout) return Fail(timeout.error());
  if (!*timeout) return Ok();
  const int64_t ms = **timeout;
  if (ms < 0 || ms > kMaxNotificationTimeoutMs) {
    return Fail(Bad("timeout field must be an integer between 0 and " +
                    std::to_string(kMaxNotificationTimeoutMs)));
  }
  if (ms > 0) http.timeout_ms = ms;
  return Ok();
}

// An mqtt:// URL that Orion's parseUrl accepts, which http notifications refuse.
bool IsMqttUrl(std::string_view url) {
  return url.starts_with("mqtt://") && ValidHttpUrl("http://" + std::string(url.substr(7)));
}

Status ParsePlainHttp(const bj::value& v, HttpTarget& http) {
  if (!v.is_object()) return Fail(Bad("http notification is not an object"));
  const auto& o = v.get_object();
  auto url = OptString(o, "url", "url http notification");
  if (!url) return Fail(url.error());
  if (!*url) return Fail(Bad("url http notification is missing"));
  if (HasForbidden(**url)) return Fail(Bad("forbidden characters in http field /url/"));
  if (auto s = ParseTimeout(o, http); !s) return s;  // before the URL, as in Orion
  if (IsMqttUrl(**url)) return Fail(Bad("mqtt URL cannot be used in http notifications"));
  if ((*url)->size() > kMaxTemplateBytes || !ValidHttpUrl(**url)) {
    return Fail(Bad("Invalid URL parsing notification url"));
  }
  http.url = std::move(**url);
  return Ok();
}

// Orion's parseDictionary for httpCustom headers and qs.
Result<NamedList<std::string>> ParseDictionary(const bj::value& v, const std::string& name) {
  if (!v.is_object()) return Fail(Bad(name + " is not an object"));
  if (v.get_object().empty()) return Fail(Bad(name + " is empty"));
  if (v.get_object().size() > kMaxCustomEntries) return Fail(Bad(name + " has too many entries"));
  NamedList<std::string> out;
  for (const auto& [key, value] : v.get_object()) {
    if (!value.is_string()) return Fail(Bad(name + " element is not a string"));
    if (HasForbidden(key) || HasForbidden(value.get_string())) {
      return Fail(Bad("forbidden characters in custom " + name));
    }
    out.emplace_back(std::string(key), std::string(value.get_string()));
  }
  return out;
}

// One attribute of an `ngsi` patch: {"value": ..., "type"?: "..."}, without metadata (not
// allowed, as in Orion; evalPriority only orders JEXL expressions, which are not supported).
Status CheckNgsiPatchAttribute(std::string_view name, const bj::value& v) {
  if (auto s = ValidateName(name, "attribute name"); !s) return s;
  const auto* attr = v.if_object();
  if (attr == nullptr) return Fail(Bad("attribute in ngsi field must be a JSON object"));
  for (const auto& [key, value] : *attr) {
    if (key == "type") {
      if (!value.is_string()) return Fail(Bad("invalid JSON type for attribute type"));
      if (auto s = ValidateName(value.get_string(), "attribute type"); !s) return s;
    } else if (key == "metadata") {
      return Fail(Bad("metadata is not allowed in ngsi field attributes"));
    } else if (key != "value") {
      return Fail(Bad("unrecognized property for context attribute"));
    }
  }
  return Ok();
}

// httpCustom.ngsi: an entity fragment whose id, type and attribute values may hold ${...}.
Status ParseNgsiPatch(const bj::value& v, HttpTarget& http) {
  const auto* o = v.if_object();
  if (o == nullptr) return Fail(Bad("ngsi field in httpCustom must be a JSON object"));
  if (json::Dump(v).size() > kMaxTemplateBytes) {
    return Fail(Bad("ngsi field in httpCustom is too long"));
  }
  for (const auto& [key, value] : *o) {
    if (key == "id" || key == "type") {
      if (!value.is_string()) {
        return Fail(Bad(fmt::format("invalid JSON type for entity {}", std::string_view(key))));
      }
      if (HasForbidden(value.get_string())) {
        return Fail(Bad(fmt::format("Invalid characters in entity {}", std::string_view(key))));
      }
    } else if (auto s = CheckNgsiPatchAttribute(key, value); !s) {
      return s;
    }
  }
  http.payload_kind = HttpTarget::Payload::kNgsi;
  http.ngsi = *o;
  return Ok();
}

Status ParseCustomPayload(const bj::object& o, HttpTarget& http) {
  if (o.contains("payload") + o.contains("json") + o.contains("ngsi") > 1) {
    return Fail(
        Bad("only one of payload, json or ngsi fields accepted at the same time in "
            "httpCustom or mqttCustom"));
  }
  if (const auto* ngsi = o.if_contains("ngsi")) return ParseNgsiPatch(*ngsi, http);
  if (const auto* json = o.if_contains("json")) {
    if (!json->is_object() && !json->is_array()) {
      return Fail(Bad("json fields in httpCustom or mqttCustom must be object or array"));
    }
    if (json::Dump(*json).size() > kMaxTemplateBytes) {
      return Fail(Bad("json httpCustom notification is too long"));
    }
    http.payload_kind = HttpTarget::Payload::kJson;
    http.json = *json;
    return Ok();
  }
  const bj::value* payload = o.if_contains("payload");
  if (payload == nullptr) return Ok();
  if (payload->is_null()) {
    http.payload_kind = HttpTarget::Payload::kNone;
    return Ok();
  }
  if (!payload->is_string()) return Fail(Bad("payload custom notification is not a string"));
  if (HasForbidden(payload->get_string())) {
    return Fail(Bad("forbidden characters in custom /payload/"));
  }
  if (payload->get_string().size() > kMaxTemplateBytes) {
    return Fail(Bad("payload custom notification is too long"));
  }
  http.payload_kind = HttpTarget::Payload::kText;
  http.payload = std::string(payload->get_string());
  return Ok();
}

Status ParseMethod(const bj::object& o, HttpTarget& http) {
  auto method = OptString(o, "method", "method httpCustom notification");
  if (!method) return Fail(method.error());
  if (!*method) return Ok();
  static constexpr std::array<std::string_view, 9> kVerbs = {
      "POST", "PUT", "PATCH", "GET", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"};
  if (std::ranges::find(kVerbs, **method) == kVerbs.end()) {
    return Fail(Bad("unknown method httpCustom notification"));
  }
  http.method = std::move(**method);
  return Ok();
}

Status ParseCustomHttp(const bj::value& v, HttpTarget& http) {
  if (!v.is_object()) return Fail(Bad("httpCustom notification is not an object"));
  const auto& o = v.get_object();
  auto url = OptString(o, "url", "url httpCustom notification");
  if (!url) return Fail(url.error());
  if (!*url) return Fail(Bad("url httpCustom notification is missing"));
  if (HasForbidden(**url)) return Fail(Bad("forbidden characters in custom /url/"));
  if ((*url)->size() > kMaxTemplateBytes) return Fail(Bad("invalid custom /url/"));
  if ((*url)->find("${") == std::string::npos && IsMqttUrl(**url)) {
    return Fail(Bad("mqtt URL cannot be used in http notifications"));
  }
  if ((*url)->find("${") == std::string::npos && !ValidHttpUrl(**url)) {
    return Fail(Bad("invalid custom /url/"));
  }
  http.url = std::move(**url);
  http.custom = true;
  if (auto s = ParseMethod(o, http); !s) return s;
  if (auto s = ParseCustomPayload(o, http); !s) return s;
  if (const auto* qs = o.if_contains("qs")) {
    auto dict = ParseDictionary(*qs, "notification httpCustom qs");
    if (!dict) return Fail(dict.error());
    http.qs = std::move(*dict);
  }
  if (const auto* headers = o.if_contains("headers")) {
    auto dict = ParseDictionary(*headers, "notification httpCustom headers");
    if (!dict) return Fail(dict.error());
    http.headers = std::move(*dict);
  }
  return ParseTimeout(o, http);
}

Status ParseTarget(const bj::object& n, HttpTarget& http) {
  const int given =
      n.contains("http") + n.contains("httpCustom") + n.contains("mqtt") + n.contains("mqttCustom");
  if (given > 1) return Fail(Bad("only one of http, httpCustom, mqtt or mqttCustom is allowed"));
  if (given == 0) return Fail(Bad("http, httpCustom, mqtt or mqttCustom is missing"));
  const auto* plain = n.if_contains("http");
  const auto* custom = n.if_contains("httpCustom");
  if (plain == nullptr && custom == nullptr) {
    return Fail(Bad("mqtt notifications are not supported"));
  }
  if (auto s = plain ? ParsePlainHttp(*plain, http) : ParseCustomHttp(*custom, http); !s) return s;
  if (std::string receiver = ReceiverOf(http.url); receiver.find("${") == std::string::npos) {
    http.receiver = std::move(receiver);
  }
  return Ok();
}

Status ParseNotificationAttrs(const bj::object& n, SubscriptionSpec& spec) {
  if (n.contains("attrs") && n.contains("exceptAttrs")) {
    return Fail(Bad("http notification has attrs and exceptAttrs"));
  }
  if (const auto* attrs = n.if_contains("attrs")) {
    auto list = StringVector(*attrs, "attrs");
    if (!list) return Fail(list.error());
    spec.attrs = std::move(*list);
  } else if (const auto* except = n.if_contains("exceptAttrs")) {
    auto list = StringVector(*except, "exceptAttrs");
    if (!list) return Fail(list.error());
    if (list->empty()) return Fail(Bad("http notification has exceptAttrs is empty"));
    spec.attrs = std::move(*list);
    spec.except_attrs = true;
  }
  if (const auto* metadata = n.if_contains("metadata")) {
    auto list = StringVector(*metadata, "metadata");
    if (!list) return Fail(list.error());
    spec.metadata = std::move(*list);
  }
  return Ok();
}

Status ParseNotificationOptions(const bj::object& n, SubscriptionSpec& spec) {
  auto only_changed = OptBool(n, "onlyChangedAttrs");
  if (!only_changed) return Fail(only_changed.error());
  spec.only_changed_attrs = only_changed->value_or(false);
  auto covered = OptBool(n, "covered");
  if (!covered) return Fail(covered.error());
  spec.covered = covered->value_or(false);
  if (spec.covered && (spec.attrs.empty() || spec.except_attrs)) {
    return Fail(Bad("covered true cannot be used if notification attributes list is empty"));
  }
  auto format = OptString(n, "attrsFormat");
  if (!format) return Fail(format.error());
  const std::string f = format->value_or("normalized");
  if (f == "normalized" || f == "legacy") {
    spec.attrs_format = AttrsFormat::kNormalized;
  } else if (f == "keyValues") {
    spec.attrs_format = AttrsFormat::kKeyValues;
  } else if (f == "values") {
    spec.attrs_format = AttrsFormat::kValues;
  } else {
    return Fail(Bad("invalid attrsFormat, accepted values: legacy, normalized, keyValues, values"));
  }
  auto max_fails = OptInt(n, "maxFailsLimit");
  if (!max_fails) return Fail(max_fails.error());
  if (*max_fails && **max_fails <= 0) return Fail(Bad("maxFailsLimit must be greater than zero"));
  spec.max_fails_limit = *max_fails;
  return Ok();
}

Status ParseNotification(const bj::value& v, SubscriptionSpec& spec) {
  if (!v.is_object()) return Fail(Bad("notification is not an object"));
  const auto& n = v.get_object();
  if (auto s = ParseTarget(n, spec.http); !s) return s;
  if (auto s = ParseNotificationAttrs(n, spec); !s) return s;
  return ParseNotificationOptions(n, spec);
}

Status ParseDescription(const bj::object& body, SubscriptionSpec& spec) {
  auto description = OptString(body, "description");
  if (!description) return Fail(description.error());
  if (!*description) return Ok();
  if ((*description)->size() > kMaxSubscriptionDescription) {
    return Fail(Bad("max description length exceeded"));
  }
  if (HasForbidden(**description)) return Fail(Bad("forbidden characters in description"));
  spec.description = std::move(**description);
  return Ok();
}

Status ParseTopLevelScalars(const bj::object& body, SubscriptionSpec& spec) {
  auto expires = OptString(body, "expires");
  if (!expires) return Fail(expires.error());
  if (*expires && !(*expires)->empty()) {
    auto t = ParseIso8601(**expires);
    if (!t) return Fail(Bad("expires has an invalid format"));
    spec.expires = *t;
  }
  auto status = OptString(body, "status");
  if (!status) return Fail(status.error());
  const std::string st = status->value_or("active");
  if (st == "active") {
    spec.status = SubscriptionStatus::kActive;
  } else if (st == "inactive") {
    spec.status = SubscriptionStatus::kInactive;
  } else if (st == "oneshot") {
    spec.status = SubscriptionStatus::kOneshot;
  } else {
    return Fail(Bad("status is not valid: it has to be either active, inactive or oneshot"));
  }
  auto throttling = OptInt(body, "throttling");
  if (!throttling) return Fail(throttling.error());
  // Orion takes any integer; a negative one throttles nothing and is not rendered.
  spec.throttling_s = std::max<int64_t>(throttling->value_or(0), 0);
  return Ok();
}

}  // namespace

Result<SubscriptionSpec> ParseSubscription(const bj::value& body) {
  if (!body.is_object()) return Fail(Bad("Errors found in incoming JSON buffer"));
  const auto& o = body.get_object();
  if (o.empty()) return Fail(Bad("empty payload"));
  SubscriptionSpec spec;
  if (auto s = ParseDescription(o, spec); !s) return Fail(s.error());
  const auto* subject = o.if_contains("subject");
  if (subject == nullptr) return Fail(Bad("no subject for subscription specified"));
  if (auto s = ParseSubject(*subject, spec); !s) return Fail(s.error());
  const auto* notification = o.if_contains("notification");
  if (notification == nullptr) return Fail(Bad("no notification for subscription specified"));
  if (auto s = ParseNotification(*notification, spec); !s) return Fail(s.error());
  if (auto s = ParseTopLevelScalars(o, spec); !s) return Fail(s.error());
  return spec;
}

Result<SubscriptionSpec> PatchSubscription(const SubscriptionSpec& current,
                                           const bj::value& patch) {
  if (!patch.is_object()) return Fail(Bad("Errors found in incoming JSON buffer"));
  if (patch.get_object().empty()) return Fail(Bad("empty payload"));
  bj::object merged = RenderSpec(current);
  for (const auto& [key, value] : patch.get_object()) merged[key] = value;
  return ParseSubscription(merged);
}

// ---- rendering ----------------------------------------------------------------------------

namespace {

bj::array StringArray(const std::vector<std::string>& items) {
  bj::array out;
  out.reserve(items.size());
  for (const auto& s : items) out.emplace_back(s);
  return out;
}

bj::object Dictionary(const NamedList<std::string>& items) {
  bj::object out;
  for (const auto& [k, v] : items) out[k] = v;
  return out;
}

bj::object RenderSubject(const SubscriptionSpec& spec) {
  bj::array entities;
  for (const auto& e : spec.entities) {
    bj::object item;
    if (e.id) item["id"] = *e.id;
    if (e.id_pattern) item["idPattern"] = *e.id_pattern;
    if (e.type) item["type"] = *e.type;
    if (e.type_pattern) item["typePattern"] = *e.type_pattern;
    entities.emplace_back(std::move(item));
  }
  bj::object condition{{"attrs", StringArray(spec.condition_attrs)}};
  bj::object expression;
  if (!spec.q.empty()) expression["q"] = spec.q;
  if (!spec.mq.empty()) expression["mq"] = spec.mq;
  if (!spec.georel.empty()) expression["georel"] = spec.georel;
  if (!spec.geometry.empty()) expression["geometry"] = spec.geometry;
  if (!spec.coords.empty()) expression["coords"] = spec.coords;
  if (!expression.empty()) condition["expression"] = std::move(expression);
  if (!spec.alteration_names.empty()) {
    condition["alterationTypes"] = StringArray(spec.alteration_names);
  }
  condition["notifyOnMetadataChange"] = spec.notify_on_metadata_change;
  return {{"entities", std::move(entities)}, {"condition", std::move(condition)}};
}

bj::object RenderTarget(const HttpTarget& http) {
  bj::object out{{"url", http.url}};
  if (http.custom) {
    if (!http.method.empty()) out["method"] = http.method;
    if (!http.headers.empty()) out["headers"] = Dictionary(http.headers);
    if (!http.qs.empty()) out["qs"] = Dictionary(http.qs);
    if (http.payload_kind == HttpTarget::Payload::kText) out["payload"] = http.payload;
    if (http.payload_kind == HttpTarget::Payload::kNone) out["payload"] = nullptr;
    if (http.payload_kind == HttpTarget::Payload::kJson) out["json"] = http.json;
    if (http.payload_kind == HttpTarget::Payload::kNgsi) out["ngsi"] = http.ngsi;
  }
  if (http.timeout_ms) out["timeout"] = *http.timeout_ms;
  return out;
}

std::string_view FormatName(AttrsFormat f) {
  switch (f) {
    case AttrsFormat::kNormalized:
      return "normalized";
    case AttrsFormat::kKeyValues:
      return "keyValues";
    case AttrsFormat::kValues:
      return "values";
  }
  return "normalized";
}

bj::object RenderNotification(const SubscriptionSpec& spec) {
  bj::object n;
  n[spec.except_attrs ? "exceptAttrs" : "attrs"] = StringArray(spec.attrs);
  n["onlyChangedAttrs"] = spec.only_changed_attrs;
  n["attrsFormat"] = FormatName(spec.attrs_format);
  n["covered"] = spec.covered;
  n[spec.http.custom ? "httpCustom" : "http"] = RenderTarget(spec.http);
  if (!spec.metadata.empty()) n["metadata"] = StringArray(spec.metadata);
  if (spec.max_fails_limit) n["maxFailsLimit"] = *spec.max_fails_limit;
  return n;
}

std::string_view StatusName(SubscriptionStatus s) {
  switch (s) {
    case SubscriptionStatus::kActive:
      return "active";
    case SubscriptionStatus::kInactive:
      return "inactive";
    case SubscriptionStatus::kOneshot:
      return "oneshot";
  }
  return "active";
}

void AddStatistics(const SubscriptionCounters& c, bj::object& n) {
  if (c.times_sent > 0) n["timesSent"] = c.times_sent;
  if (c.last_notification > 0) n["lastNotification"] = FormatIso8601(c.last_notification);
  if (c.last_failure > 0) {
    n["lastFailure"] = FormatIso8601(c.last_failure);
    n["lastFailureReason"] = c.last_failure_reason;
  }
  if (c.last_success > 0) {
    n["lastSuccess"] = FormatIso8601(c.last_success);
    n["lastSuccessCode"] = c.last_success_code;
  }
  if (c.fails_counter > 0) n["failsCounter"] = c.fails_counter;
}

bj::object RenderCounters(const SubscriptionCounters& c) {
  return {{"timesSent", c.times_sent},
          {"lastNotification", c.last_notification},
          {"lastSuccess", c.last_success},
          {"lastFailure", c.last_failure},
          {"lastSuccessCode", c.last_success_code},
          {"lastFailureReason", c.last_failure_reason},
          {"failsCounter", c.fails_counter}};
}

int64_t IntOr(const bj::object& o, std::string_view key) {
  const bj::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return 0;
}

SubscriptionCounters ParseCounters(const bj::object& c) {
  SubscriptionCounters out;
  out.times_sent = IntOr(c, "timesSent");
  out.last_notification = IntOr(c, "lastNotification");
  out.last_success = IntOr(c, "lastSuccess");
  out.last_failure = IntOr(c, "lastFailure");
  out.last_success_code = static_cast<unsigned>(IntOr(c, "lastSuccessCode"));
  out.fails_counter = IntOr(c, "failsCounter");
  if (const auto* r = c.if_contains("lastFailureReason"); r && r->is_string()) {
    out.last_failure_reason = std::string(r->get_string());
  }
  return out;
}

}  // namespace

bj::object RenderSpec(const SubscriptionSpec& spec) {
  bj::object out;
  if (!spec.description.empty()) out["description"] = spec.description;
  out["subject"] = RenderSubject(spec);
  out["notification"] = RenderNotification(spec);
  if (spec.expires) out["expires"] = FormatIso8601(*spec.expires);
  out["status"] = StatusName(spec.status);
  if (spec.throttling_s > 0) out["throttling"] = spec.throttling_s;
  return out;
}

std::string_view ReportedStatus(const Subscription& sub, TimeMs now) {
  if (sub.spec->expires && *sub.spec->expires <= now) return "expired";
  const auto& c = sub.counters;
  if (sub.spec->status == SubscriptionStatus::kActive && c.last_failure > 0 &&
      c.last_failure >= c.last_success) {
    return "failed";
  }
  return StatusName(sub.spec->status);
}

bj::object RenderSubscription(const Subscription& sub, TimeMs now) {
  bj::object out{{"id", sub.id}};
  for (auto& [k, v] : RenderSpec(*sub.spec)) out[k] = std::move(v);
  out["status"] = ReportedStatus(sub, now);
  AddStatistics(sub.counters, out["notification"].as_object());
  return out;
}

std::string StoredDocument(const Subscription& sub) {
  bj::object out{{"id", sub.id}, {"servicePath", sub.service_path}};
  for (auto& [k, v] : RenderSpec(*sub.spec)) out[k] = std::move(v);
  out["counters"] = RenderCounters(sub.counters);
  return json::Dump(out);
}

Result<Subscription> ParseStoredDocument(std::string_view id, std::string_view doc) {
  auto parsed = json::Parse(doc);
  if (!parsed) return Fail(parsed.error());
  if (!parsed->is_object()) return Fail(Bad("stored subscription is not an object"));
  bj::object body = std::move(parsed->as_object());
  Subscription sub;
  sub.id = std::string(id);
  if (const auto* p = body.if_contains("servicePath"); p && p->is_string()) {
    sub.service_path = std::string(p->get_string());
  }
  if (const auto* c = body.if_contains("counters"); c && c->is_object()) {
    sub.counters = ParseCounters(c->get_object());
  }
  body.erase("id");
  body.erase("servicePath");
  body.erase("counters");
  auto spec = ParseSubscription(body);
  if (!spec) return Fail(spec.error());
  sub.spec = std::make_shared<const SubscriptionSpec>(std::move(*spec));
  return sub;
}

// ---- matching -----------------------------------------------------------------------------

bool EntitySubject::Matches(const Entity& entity) const {
  // The comparisons before the patterns: they are cheaper and decide most subjects.
  if (id && *id != entity.id) return false;
  if (type && *type != entity.type) return false;
  if (type_re && !SearchPattern(*type_re, entity.type)) return false;
  if (id_re && !SearchPattern(*id_re, entity.id)) return false;
  return true;
}

namespace {

const Entity* SubjectEntity(const EntityChange& change) {
  if (change.after) return change.after.get();
  return change.before.get();
}

// The attributes that changed as `spec` sees a change: with notifyOnMetadataChange false,
// an attribute whose metadata alone changed did not change (Orion). `storage` holds the
// filtered list when one is needed.
const std::vector<std::string>& ChangedFor(const SubscriptionSpec& spec, const EntityChange& change,
                                           std::vector<std::string>& storage) {
  if (spec.notify_on_metadata_change || change.metadata_changed_attrs.empty()) {
    return change.changed_attrs;
  }
  storage.clear();
  for (const auto& name : change.changed_attrs) {
    if (std::ranges::find(change.metadata_changed_attrs, name) ==
        change.metadata_changed_attrs.end()) {
      storage.push_back(name);
    }
  }
  return storage;
}

uint8_t AlterationOf(const EntityChange& change, const std::vector<std::string>& changed) {
  switch (change.kind) {
    case ChangeKind::kCreate:
      return kAlterationCreate;
    case ChangeKind::kDelete:
      return kAlterationDelete;
    case ChangeKind::kUpdate:
      break;
  }
  const bool any = change.forced || !changed.empty();
  return any ? (kAlterationChange | kAlterationUpdate) : kAlterationUpdate;
}

std::vector<std::string> AttrNames(const Entity& e) {
  std::vector<std::string> out;
  out.reserve(e.attrs.size());
  for (const auto& [name, attr] : e.attrs) out.push_back(name);
  return out;
}

// The attributes a change is "about": compared with condition.attrs and kept by
// onlyChangedAttrs. Creates and deletes are about every attribute; a forced update, or one
// that changed nothing (entityUpdate), is about what it wrote; other updates about what
// changed.
std::vector<std::string> RelevantAttrs(const EntityChange& change,
                                       const std::vector<std::string>& changed) {
  switch (change.kind) {
    case ChangeKind::kCreate:
      return change.after ? AttrNames(*change.after) : std::vector<std::string>{};
    case ChangeKind::kDelete:
      return change.before ? AttrNames(*change.before) : std::vector<std::string>{};
    case ChangeKind::kUpdate:
      break;
  }
  if (change.forced || changed.empty()) return change.updated_attrs;
  return changed;
}

bool Contains(const std::vector<std::string>& list, std::string_view name) {
  return std::ranges::find(list, name) != list.end();
}

}  // namespace

bool Triggers(const Subscription& sub, const PathScope& scope, const EntityChange& change) {
  const SubscriptionSpec& spec = *sub.spec;
  const Entity* entity = SubjectEntity(change);
  std::vector<std::string> storage;
  const auto& changed = ChangedFor(spec, change, storage);
  if (entity == nullptr || (AlterationOf(change, changed) & spec.alterations) == 0) return false;
  if (!scope.Matches(entity->service_path)) return false;
  if (!std::ranges::any_of(spec.entities, [&](const auto& s) { return s.Matches(*entity); })) {
    return false;
  }
  if (!spec.condition_attrs.empty()) {
    const auto relevant = RelevantAttrs(change, changed);
    if (!std::ranges::any_of(spec.condition_attrs,
                             [&](const auto& a) { return Contains(relevant, a); })) {
      return false;
    }
  }
  if (!spec.filter.Matches(*entity)) return false;
  if (spec.geo) {
    auto location = EntityLocation(*entity);
    if (!location || !location->has_value()) return false;
    return Matches(*spec.geo, **location);
  }
  return true;
}

// ---- notifications ------------------------------------------------------------------------

namespace {

// The macros that are not attributes.
bool IsEntityMacro(std::string_view name) {
  return name == "id" || name == "type" || name == "service" || name == "servicePath" ||
         name == "authToken";
}

// What ${...} macros are substituted from: the notified entity, its tenant, and what an
// attribute the entity lacks becomes ("", or "null" for a covered subscription, as Orion).
struct MacroSource {
  const Entity& entity;
  std::string_view tenant;
  std::string_view absent;
};

// The macro value of `name` (see SubstituteMacros).
std::string MacroValue(std::string_view name, const MacroSource& src) {
  if (name == "id") return src.entity.id;
  if (name == "type") return src.entity.type;
  if (name == "service") return std::string(src.tenant);
  if (name == "servicePath") return src.entity.service_path;
  if (name == "authToken") return {};
  const Attribute* attr = src.entity.Find(name);
  if (attr == nullptr) return std::string(src.absent);
  if (const auto* s = attr->value.if_string()) return std::string(*s);
  return DumpJson(attr->value);
}

std::string Substitute(std::string_view text, const MacroSource& src) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("${", pos);
    size_t close = open == text.npos ? text.npos : text.find('}', open + 2);
    if (close == text.npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, open - pos));
    out.append(MacroValue(text.substr(open + 2, close - open - 2), src));
    pos = close + 1;
  }
  return out;
}

// A JSON template: a string leaf that is exactly "${name}" becomes the attribute's JSON
// value (so numbers stay numbers, as Orion's `json` does), or null when the entity lacks
// the attribute; other strings are substituted.
bj::value SubstituteJson(const bj::value& tmpl, const MacroSource& src) {
  if (const auto* s = tmpl.if_string()) {
    std::string_view text = *s;
    if (text.starts_with("${") && text.ends_with("}") && text.find('}') == text.size() - 1) {
      std::string_view name = text.substr(2, text.size() - 3);
      if (const Attribute* attr = src.entity.Find(name)) return attr->value;
      if (!IsEntityMacro(name)) return nullptr;  // Orion: a missing attribute is null
    }
    return bj::string(Substitute(text, src));
  }
  if (const auto* a = tmpl.if_array()) {
    bj::array out;
    for (const auto& item : *a) out.push_back(SubstituteJson(item, src));
    return out;
  }
  if (const auto* o = tmpl.if_object()) {
    bj::object out;
    for (const auto& [k, v] : *o) out[k] = SubstituteJson(v, src);
    return out;
  }
  return tmpl;
}

// A query-string key or value: every byte outside RFC 3986's unreserved set is escaped, so
// '+', '&', '=' and spaces reach the receiver as written in the subscription.
std::string PercentEncode(std::string_view text) {
  return boost::urls::encode(text, boost::urls::unreserved_chars);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Orion's curl_unescape of payloads and header values: "%XX" (two hex digits) becomes that
// byte, anything else (a lone '%', '+') stays as written.
std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const int hi = text[i] == '%' && i + 2 < text.size() ? HexDigit(text[i + 1]) : -1;
    const int lo = hi >= 0 ? HexDigit(text[i + 2]) : -1;
    if (lo >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

constexpr std::string_view kAlterationTypeAttr = "alterationType";
constexpr std::string_view kJsonContentType = "application/json; charset=utf-8";  // Orion's

std::string_view AlterationName(const EntityChange& change,
                                const std::vector<std::string>& changed) {
  const uint8_t alteration = AlterationOf(change, changed);
  if (alteration & kAlterationCreate) return "entityCreate";
  if (alteration & kAlterationDelete) return "entityDelete";
  return alteration & kAlterationChange ? "entityChange" : "entityUpdate";
}

// The attributes the triggering request wrote, as Orion's notification metadata sees them:
// every attribute of a creation, the written ones of an update, none of a deletion (an
// attribute deleted by the request is no longer in the entity).
std::vector<std::string> TouchedAttrs(const EntityChange& change) {
  switch (change.kind) {
    case ChangeKind::kCreate:
      return change.after ? AttrNames(*change.after) : std::vector<std::string>{};
    case ChangeKind::kDelete:
      return {};
    case ChangeKind::kUpdate:
      break;
  }
  return change.updated_attrs;
}

// Orion's notification metadata previousValue (the value before an update) and actionType
// ("append" for a new attribute, "update" for an existing one), on touched attributes only.
void AddNotificationMetadata(const SubscriptionSpec& spec, const EntityChange& change, Entity& e) {
  const bool previous = Contains(spec.metadata, "previousValue");
  const bool action = Contains(spec.metadata, "actionType");
  if (!previous && !action) return;
  const auto touched = TouchedAttrs(change);
  for (auto& [name, attr] : e.attrs) {
    if (!Contains(touched, name)) continue;
    const Attribute* before = change.before ? change.before->Find(name) : nullptr;
    if (previous && before != nullptr && change.kind == ChangeKind::kUpdate) {
      attr.metadata.emplace_back("previousValue", Metadata{before->type, before->value});
    }
    if (action) {
      std::string_view kind = before != nullptr ? "update" : "append";
      attr.metadata.emplace_back("actionType", Metadata{std::string(kTypeText), bj::string(kind)});
    }
  }
}

// Names in notification.attrs that are not attributes: "*" and the builtins.
bool IsNotifiedBuiltin(std::string_view name) {
  return name == "*" || name == "dateCreated" || name == "dateModified" || name == "dateExpires" ||
         name == "servicePath" || name == kAlterationTypeAttr;
}

// covered: each attribute named in notification.attrs that the entity lacks, as null of
// type None (Orion), so that every notification carries the same attributes; with
// onlyChangedAttrs only those the change is about (an attribute the request deleted).
void AddCoveredAttrs(const SubscriptionSpec& spec, const std::vector<std::string>* relevant,
                     Entity& e) {
  for (const auto& name : spec.attrs) {
    if (IsNotifiedBuiltin(name) || e.Find(name) != nullptr) continue;
    if (relevant != nullptr && !Contains(*relevant, name)) continue;
    e.attrs.emplace_back(name, Attribute{std::string(kTypeNone), nullptr, {}});
  }
}

// The entity as notified: with onlyChangedAttrs only the relevant attributes; Orion's
// notification metadata; covered attributes; the builtin attribute alterationType when
// notification.attrs names it (kept by onlyChangedAttrs, never added by "*" alone, a user
// attribute wins).
Entity NotifiedEntity(const SubscriptionSpec& spec, const EntityChange& change) {
  Entity e = *SubjectEntity(change);
  std::vector<std::string> storage;
  const auto& changed = ChangedFor(spec, change, storage);
  std::optional<std::vector<std::string>> relevant;
  if (spec.only_changed_attrs) {
    relevant = RelevantAttrs(change, changed);
    std::erase_if(e.attrs, [&](const auto& a) { return !Contains(*relevant, a.first); });
  }
  AddNotificationMetadata(spec, change, e);
  if (spec.covered) AddCoveredAttrs(spec, relevant ? &*relevant : nullptr, e);
  if (!spec.except_attrs && Contains(spec.attrs, kAlterationTypeAttr) &&
      SubjectEntity(change)->Find(kAlterationTypeAttr) == nullptr) {
    e.attrs.emplace_back(
        std::string(kAlterationTypeAttr),
        Attribute{std::string(kTypeText), bj::string(AlterationName(change, changed)), {}});
  }
  return e;
}

std::string DefaultBody(const Subscription& sub, const Entity& entity) {
  const SubscriptionSpec& spec = *sub.spec;
  RenderOptions options;
  options.representation = spec.attrs_format == AttrsFormat::kKeyValues ? Representation::kKeyValues
                           : spec.attrs_format == AttrsFormat::kValues
                               ? Representation::kValues
                               : Representation::kNormalized;
  (spec.except_attrs ? options.except_attrs : options.attrs) = spec.attrs;
  options.metadata = spec.metadata;
  bj::object body{{"subscriptionId", sub.id}, {"data", bj::array{RenderEntity(entity, options)}}};
  return DumpJson(body);
}

// Sets a header, replacing one of the same name (case-insensitive).
void SetHeader(NotificationRequest& req, std::string name, std::string value) {
  auto same = [&](const auto& h) { return IEquals(h.first, name); };
  if (auto it = std::ranges::find_if(req.headers, same); it != req.headers.end()) {
    it->second = std::move(value);
  } else {
    req.headers.emplace_back(std::move(name), std::move(value));
  }
}

// Whether the notification carries the NGSI body: `http`, or `httpCustom` without a
// template or with `"payload": ""` (Orion: the same as omitting it).
bool UsesDefaultBody(const HttpTarget& http) {
  return !http.custom || http.payload_kind == HttpTarget::Payload::kDefault ||
         (http.payload_kind == HttpTarget::Payload::kText && http.payload.empty());
}

// The notified entity patched with httpCustom.ngsi (Orion's "NGSI payload patching"): id and
// type substituted as text, the fragment's attributes first (added or replaced, values
// substituted as `json` templates are, the default type of the value when none is given),
// then the entity's other attributes. Macros see the entity as it was notified.
Entity PatchedEntity(const HttpTarget& http, const MacroSource& src) {
  const Entity& e = src.entity;
  Entity out;
  out.service_path = e.service_path;
  out.created = e.created;
  out.modified = e.modified;
  out.expires = e.expires;
  const auto* id = http.ngsi.if_contains("id");
  const auto* type = http.ngsi.if_contains("type");
  out.id = id ? Substitute(id->get_string(), src) : e.id;
  out.type = type ? Substitute(type->get_string(), src) : e.type;
  for (const auto& [key, value] : http.ngsi) {
    if (key == "id" || key == "type") continue;
    const auto& fragment = value.get_object();
    Attribute attr;
    if (const auto* v = fragment.if_contains("value")) attr.value = SubstituteJson(*v, src);
    const auto* t = fragment.if_contains("type");
    attr.type = t ? std::string(t->get_string()) : std::string(InferType(attr.value));
    out.attrs.emplace_back(std::string(key), std::move(attr));
  }
  for (const auto& [name, attr] : e.attrs) {
    if (out.Find(name) == nullptr) out.attrs.emplace_back(name, attr);
  }
  return out;
}

void ApplyCustomPayload(const HttpTarget& http, const MacroSource& src, NotificationRequest& req) {
  if (UsesDefaultBody(http) || http.payload_kind == HttpTarget::Payload::kNgsi) return;
  if (http.payload_kind == HttpTarget::Payload::kText) {
    req.body = PercentDecode(Substitute(http.payload, src));
    SetHeader(req, "Content-Type", "text/plain; charset=utf-8");
  } else if (http.payload_kind == HttpTarget::Payload::kJson) {
    req.body = DumpJson(SubstituteJson(http.json, src));
  } else if (http.payload_kind == HttpTarget::Payload::kNone) {
    req.body.clear();
    std::erase_if(req.headers, [](const auto& h) { return IEquals(h.first, "Content-Type"); });
  }
  SetHeader(req, "Ngsiv2-AttrsFormat", "custom");
}

// Custom headers after substitution: an empty name is skipped, an empty value removes the
// header (defaults such as Accept included), any other value is URL-decoded. Never
// Fiware-Correlator or Ngsiv2-AttrsFormat, as in Orion. A header that is not valid HTTP
// once substituted and decoded ("a%0D%0AX-Injected: 1", or an attribute holding a line
// break) is left out: entity data must not add headers or split the request.
void ApplyCustomHeaders(const HttpTarget& http, const MacroSource& src, NotificationRequest& req) {
  for (const auto& [k, v] : http.headers) {
    std::string name = Substitute(k, src);
    if (name.empty() || IEquals(name, "Fiware-Correlator") || IEquals(name, "Ngsiv2-AttrsFormat")) {
      continue;
    }
    std::string value = Substitute(v, src);
    if (value.empty()) {
      std::erase_if(req.headers, [&](const auto& h) { return IEquals(h.first, name); });
      continue;
    }
    value = PercentDecode(value);
    if (!IsHttpToken(name) || !IsHttpFieldValue(value)) continue;
    SetHeader(req, std::move(name), std::move(value));
  }
}

// httpCustom: method, url with qs (an entry empty after substitution is left out, as in
// Orion), the payload template and the custom headers.
void ApplyCustom(const HttpTarget& http, const MacroSource& src, NotificationRequest& req) {
  if (!http.method.empty()) req.method = http.method;
  req.url = Substitute(http.url, src);
  char sep = req.url.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : http.qs) {
    std::string key = Substitute(k, src);
    std::string value = Substitute(v, src);
    if (key.empty() || value.empty()) continue;
    req.url += sep + PercentEncode(key) + "=" + PercentEncode(value);
    sep = '&';
  }
  ApplyCustomPayload(http, src, req);
  ApplyCustomHeaders(http, src, req);
}

}  // namespace

std::string SubstituteMacros(std::string_view text, const Entity& entity, std::string_view tenant) {
  return Substitute(text, {entity, tenant, ""});
}

NotificationRequest BuildNotification(const Subscription& sub, const EntityChange& change,
                                      int cbnotif, std::chrono::milliseconds default_timeout) {
  const SubscriptionSpec& spec = *sub.spec;
  const Entity entity = NotifiedEntity(spec, change);
  NotificationRequest req;
  req.tenant = change.tenant;
  req.subscription_id = sub.id;
  req.url = spec.http.url;
  req.timeout =
      spec.http.timeout_ms ? std::chrono::milliseconds(*spec.http.timeout_ms) : default_timeout;
  req.headers.emplace_back("Accept", "application/json");
  req.headers.emplace_back("Content-Type", std::string(kJsonContentType));
  if (!change.tenant.empty()) req.headers.emplace_back("Fiware-Service", change.tenant);
  req.headers.emplace_back("Fiware-ServicePath", entity.service_path);
  req.headers.emplace_back("Fiware-Correlator",
                           change.correlator + "; cbnotif=" + std::to_string(cbnotif));
  req.headers.emplace_back("Ngsiv2-AttrsFormat", std::string(FormatName(spec.attrs_format)));
  const MacroSource macros{entity, change.tenant, spec.covered ? "null" : ""};
  if (spec.http.custom) ApplyCustom(spec.http, macros, req);
  req.receiver = spec.http.receiver.empty() ? ReceiverOf(req.url) : spec.http.receiver;
  if (spec.http.payload_kind == HttpTarget::Payload::kNgsi) {
    req.body = DefaultBody(sub, PatchedEntity(spec.http, macros));
  } else if (UsesDefaultBody(spec.http)) {
    req.body = DefaultBody(sub, entity);
  }
  return req;
}

std::string ReceiverOf(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  std::string_view authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string out;
  for (char c : url.substr(0, scheme_end + 3)) out += AsciiLower(c);
  for (char c : authority) out += AsciiLower(c);
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  const bool has_port =
      colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket);
  if (!has_port) out += out.starts_with("https://") ? ":443" : ":80";
  return out;
}

}  // namespace zc::context
