// NGSI-v2 subscriptions as values: the model, the JSON a client sends and reads
// (POST/PATCH/GET /v2/subscriptions), the stored document, the test of an EntityChange
// against a subscription, and the notification a match produces. Pure functions over
// immutable values: SubscriptionManager (subscription_manager.h) owns the registry, the
// counters and the sending.
//
// Behaviour follows the NGSI-v2 specification with Orion's choices (Orion 3.x/4.x,
// src/lib/jsonParseV2/parseSubscription.cpp, parseExpression.cpp, parseEntitiesVector.cpp):
// error descriptions are Orion's wording; `idPattern`/`typePattern` are searched (not
// anchored) like Orion's regexec; the default alteration types are entityCreate and
// entityChange; httpCustom templates substitute `${...}` macros.
//
// Limits (input limits; exceeding one is a BadRequest): see the constants below.
#pragma once

#include <boost/json.hpp>
#include <boost/regex.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "context/change.h"
#include "context/entity.h"
#include "context/geo.h"
#include "context/query.h"
#include "context/scope.h"

namespace zc::context {

inline constexpr size_t kMaxSubscriptionDescription = 1024;     // Orion's MAX_DESCRIPTION_LENGTH
inline constexpr size_t kMaxSubjectEntities = 100;              // items of subject.entities
inline constexpr size_t kMaxSubscriptionAttrs = 1000;           // items of each attribute list
inline constexpr size_t kMaxTemplateBytes = size_t{16} * 1024;  // httpCustom payload/json/url
inline constexpr size_t kMaxCustomEntries = 50;                 // httpCustom headers and qs
inline constexpr int64_t kMaxNotificationTimeoutMs = 1800000;   // Orion's http.timeout range

// Orion's description for an unknown subscription id (404 NotFound).
inline constexpr std::string_view kSubscriptionNotFound =
    "The requested subscription has not been found. Check id";

enum class SubscriptionStatus : uint8_t { kActive, kInactive, kOneshot };
enum class AttrsFormat : uint8_t { kNormalized, kKeyValues, kValues };

// Bits of subject.condition.alterationTypes.
inline constexpr uint8_t kAlterationCreate = 1;  // entityCreate
inline constexpr uint8_t kAlterationChange = 2;  // entityChange: an update that changed something
inline constexpr uint8_t kAlterationUpdate = 4;  // entityUpdate: any update, changed or not
inline constexpr uint8_t kAlterationDelete = 8;  // entityDelete
inline constexpr uint8_t kDefaultAlterations = kAlterationCreate | kAlterationChange;

// One item of subject.entities. Patterns are compiled once (ECMAScript syntax, Boost.Regex
// like query.cpp: its matcher does not recurse per input character).
struct EntitySubject {
  std::optional<std::string> id;
  std::optional<std::string> id_pattern;
  std::optional<std::string> type;
  std::optional<std::string> type_pattern;
  std::shared_ptr<const boost::regex> id_re;    // set with id_pattern
  std::shared_ptr<const boost::regex> type_re;  // set with type_pattern

  bool Matches(const Entity& entity) const;
};

// Where notifications go. `http` is a plain URL; `httpCustom` adds a method, headers,
// query parameters and a payload template, all with ${...} macros.
struct HttpTarget {
  enum class Payload : uint8_t {
    kDefault,  // the NGSI notification JSON
    kText,     // `payload`: a text template
    kJson,     // `json`: a JSON template (string leaves are templates)
    kNone,     // `payload: null`: no body
    kNgsi,     // `ngsi`: an entity fragment patched into the NGSI notification
  };
  std::string url;
  // ReceiverOf(url) when that names no ${...} macro, so that every notification goes to the
  // same receiver; "" when it depends on the entity (known once a notification is built).
  std::string receiver;
  bool custom = false;
  std::string method;  // custom only; "" = POST
  NamedList<std::string> headers;
  NamedList<std::string> qs;
  Payload payload_kind = Payload::kDefault;
  std::string payload;                // kText
  boost::json::value json;            // kJson
  boost::json::object ngsi;           // kNgsi: {"id"?, "type"?, "<attr>": {"value", "type"?}}
  std::optional<int64_t> timeout_ms;  // `timeout` (ms); nullopt = the manager's default
};

// What the client controls. Immutable once parsed (shared between threads).
struct SubscriptionSpec {
  std::string description;
  std::vector<EntitySubject> entities;
  std::vector<std::string> condition_attrs;
  // subject.condition.expression as given, and its parsed form.
  std::string q, mq, georel, geometry, coords;
  Filter filter;  // q AND mq
  std::optional<GeoQuery> geo;
  uint8_t alterations = kDefaultAlterations;
  // alterationTypes as given, in the client's order (rendered back as given; empty when
  // absent or [], which Orion does not render).
  std::vector<std::string> alteration_names;
  bool notify_on_metadata_change = true;  // false: a change of metadata alone is no change
  HttpTarget http;
  std::vector<std::string> attrs;  // notification.attrs, or exceptAttrs when except_attrs
  bool except_attrs = false;
  std::vector<std::string> metadata;
  AttrsFormat attrs_format = AttrsFormat::kNormalized;
  bool only_changed_attrs = false;
  // notification.covered: every attribute named in `attrs` is notified, null (type None)
  // where the entity lacks it, and ${...} of a missing attribute becomes "null".
  bool covered = false;
  std::optional<int64_t> max_fails_limit;
  std::optional<TimeMs> expires;
  int64_t throttling_s = 0;
  SubscriptionStatus status = SubscriptionStatus::kActive;
};

// What happened to the notifications (Orion's notification.* statistics).
struct SubscriptionCounters {
  int64_t times_sent = 0;
  TimeMs last_notification = 0;  // 0 = never
  TimeMs last_success = 0;
  TimeMs last_failure = 0;
  unsigned last_success_code = 0;
  std::string last_failure_reason;
  int64_t fails_counter = 0;  // consecutive failures (reset by a success)
};

struct Subscription {
  std::string id;
  std::string service_path = "/#";  // Fiware-ServicePath at creation (one scope)
  std::shared_ptr<const SubscriptionSpec> spec;
  SubscriptionCounters counters;
};

// Parses a POST /v2/subscriptions body. Errors: BadRequest with Orion's description.
Result<SubscriptionSpec> ParseSubscription(const boost::json::value& body);

// Applies a PATCH body: the top-level fields given replace the current ones (a new
// `notification` replaces the whole notification, as in Orion), then the result is
// validated as a creation. `expires: ""` removes the expiration. Errors: BadRequest.
Result<SubscriptionSpec> PatchSubscription(const SubscriptionSpec& current,
                                           const boost::json::value& patch);

// The client's fields, as ParseSubscription accepts them (round trip).
boost::json::object RenderSpec(const SubscriptionSpec& spec);

// The status Orion reports: "expired" past `expires`, "failed" when active and the last
// notification failed, else the stored status.
std::string_view ReportedStatus(const Subscription& sub, TimeMs now);

// GET /v2/subscriptions/{id}: id, the spec, status as reported, notification statistics.
boost::json::object RenderSubscription(const Subscription& sub, TimeMs now);

// The stored form: RenderSpec plus id, servicePath and the counters. Layout:
//   {"id":..,"servicePath":"/#", <RenderSpec fields>, "counters":{"timesSent":..,
//    "lastNotification":ms,"lastSuccess":ms,"lastFailure":ms,"lastSuccessCode":..,
//    "lastFailureReason":"..","failsCounter":..}}
std::string StoredDocument(const Subscription& sub);
// Parses a stored document (start-up). Errors: BadRequest (a corrupt document).
Result<Subscription> ParseStoredDocument(std::string_view id, std::string_view doc);

// Whether `change` triggers `sub`, ignoring status, expiry and throttling (the manager's
// state): alteration type, subject entities, service path, condition attrs (against the
// changed attributes, or the written ones for forced updates and entityUpdate), and the
// q/mq/geo expression on the entity after the change (before it, for a delete).
bool Triggers(const Subscription& sub, const PathScope& scope, const EntityChange& change);

// An outbound notification, protocol-neutral enough for context/: the sender maps it to HTTP.
struct NotificationRequest {
  std::string tenant;
  std::string subscription_id;
  std::string method = "POST";
  std::string url;  // with the custom query parameters appended
  // ReceiverOf(url): notifications with the same receiver share its limits (in progress,
  // on the wire).
  std::string receiver;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{5000};
};

// Builds the notification for a change that Triggers(): Orion's headers Accept and
// Content-Type ("application/json; charset=utf-8"), Fiware-Service (non-default tenant),
// Fiware-ServicePath, Fiware-Correlator ("<correlator>; cbnotif=<n>") and
// Ngsiv2-AttrsFormat; the body {"subscriptionId":..,"data":[entity]} per attrsFormat,
// attrs/exceptAttrs (which may name the builtin alterationType), onlyChangedAttrs, covered and
// metadata (previousValue/actionType on the attributes the request wrote), or the custom
// template (payload and header values URL-decoded after substitution, as Orion does).
NotificationRequest BuildNotification(const Subscription& sub, const EntityChange& change,
                                      int cbnotif, std::chrono::milliseconds default_timeout);

// Orion's ${...} macros over an entity: ${id}, ${type}, ${service}, ${servicePath},
// ${authToken} (always empty here) and ${<attribute>} (a string value as is, any other
// value as JSON); an unknown name becomes "". Unterminated "${" is kept as text.
std::string SubstituteMacros(std::string_view text, const Entity& entity, std::string_view tenant);

// The receiver a notification URL names, for sharing limits fairly between receivers:
// "scheme://host:port" in lower case, without user information, with the scheme's default
// port when none is given ("http://Rx.example/n?a" -> "http://rx.example:80"). A URL
// without "://" is its own receiver.
std::string ReceiverOf(std::string_view url);

}  // namespace zc::context
