// NGSI-v2 JSON representations of the context model: parsing request bodies into
// entities/attributes (normalized and keyValues), validating names as Orion does, and
// rendering entities in the representations clients ask for (normalized, keyValues,
// values, unique) with attribute and metadata filters. Used by api/ngsi (responses) and
// by subscriptions (notification payloads); knows nothing about HTTP.
//
// Errors are BadRequest with Orion's `description` wording (Orion 3.x/4.x, src/lib/
// jsonParseV2 and ngsi/*::check). A body that is not a JSON object is a ParseError with
// Orion's text "Errors found in incoming JSON buffer", as common/json.h gives for syntax
// errors, so both reach the client as {"error":"ParseError"}.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "context/entity.h"

namespace zc::context {

// Limits (documented in docs/api/ngsi-v2.md).
inline constexpr size_t kMaxNameLength = 256;  // ids, types, attribute and metadata names

// The builtin attribute that carries an entity's expiration (Orion "transient entities").
// It is never stored as an attribute: parsing moves it into Entity::expires.
inline constexpr std::string_view kDateExpires = "dateExpires";

// Checks an entity id/type, attribute/metadata name or type as Orion does for NGSI-v2
// identifiers: 1..256 bytes without whitespace or control characters, none of `& ? / #`
// and none of Orion's general forbidden characters `< > " ' = ; ( )`. Unlike Orion, UTF-8
// is allowed ("粤E1234", "高明区"), a documented difference. `what` names the field in the message:
//   "<what> length: 0, min length supported: 1"
//   "<what> length: 300, max length supported: 256"
//   "Invalid characters in <what>"     (what = "entity id", "attribute name", ...)
Status ValidateName(std::string_view name, std::string_view what);

enum class Representation { kNormalized, kKeyValues, kValues, kUnique };

// Parses a POST /v2/entities body, or one entity of POST /v2/op/update. With `key_values`
// the attributes are plain values and types are inferred (Number, Text, Boolean,
// StructuredValue, None). Missing "type" → "Thing" (Orion). A "dateExpires" attribute
// (type DateTime) sets `expires` instead of becoming an attribute; null means none.
// Numbers are normalized (see DumpJson); DateTime values are stored in Orion's rendering
// form "YYYY-MM-DDThh:mm:ss.sssZ". Times (created/modified) are left 0 for the caller.
Result<Entity> ParseEntity(const boost::json::value& body, bool key_values);

// What an attributes body (/attrs with POST, PATCH, PUT) carried. "dateExpires" is not an
// attribute: when present, `has_expires` is set and `expires` is the new expiration
// (nullopt = remove the expiration, i.e. the attribute value was null).
struct ParsedAttributes {
  NamedList<Attribute> attrs;
  bool has_expires = false;
  std::optional<TimeMs> expires;
};

// Parses an attributes body ({"temperature": {"value": 1, "type": "Number"}, ...}) as sent
// to POST/PATCH/PUT /v2/entities/{id}/attrs. `key_values` as above. Orion rejects "id" and
// "type" keys here ("entity id specified in payload") and an empty object ("empty payload").
Result<ParsedAttributes> ParseAttributes(const boost::json::value& body, bool key_values);

// Parses one attribute body ({"value": .., "type": .., "metadata": {..}}) as sent to
// PUT /v2/entities/{id}/attrs/{name}. The name comes from the URL: check it with
// ValidateName(name, "attribute name"). For name == kDateExpires use DateExpiresOf.
Result<Attribute> ParseAttribute(const boost::json::value& body);

// The expiration a parsed "dateExpires" attribute sets: its type must be DateTime (Orion:
// "error processing date expiration attribute, see log traces"); null → nullopt (none).
Result<std::optional<TimeMs>> DateExpiresOf(const Attribute& attr);

// Infers the NGSI type of a plain JSON value (keyValues mode, /value updates).
std::string_view InferType(const boost::json::value& value);

// True for the types whose values are dates: DateTime and Orion's older ISO8601.
bool IsDateTimeType(std::string_view type);

// The string arguments of an update operator (context/update_operators.h) on an attribute of
// type DateTime rewritten in Orion's form, so that they compare with stored values:
// {"$max": "2026-06-01T08:00:00+08:00"} -> {"$max": "2026-06-01T00:00:00.000Z"}.
Status NormalizeOperatorDates(std::string_view type, boost::json::value& op);

// What to include when rendering.
struct RenderOptions {
  Representation representation = Representation::kNormalized;
  // Attributes to include, in this order; empty = all user attributes in entity order.
  // May name the builtins "dateCreated", "dateModified", "dateExpires", "servicePath"
  // (rendered only when asked, as Orion does) and "*" (all user attributes, in entity
  // order, followed by the builtins named). Names the entity lacks are skipped.
  std::vector<std::string> attrs;
  // Subscriptions' exceptAttrs: when non-empty, `attrs` is ignored and every user
  // attribute except these is rendered (never builtins), as in Orion.
  std::vector<std::string> except_attrs;
  // Metadata to include; empty = all user metadata. "dateCreated"/"dateModified" are
  // rendered only when named here; "*" = all user metadata (plus the builtins named).
  std::vector<std::string> metadata;
};

// An entity as JSON: {"id","type","attr":{"type","value","metadata"}} (normalized; Orion
// always renders "metadata", {} when empty), {"id","type","attr":value} (keyValues),
// [v1, v2, ...] (values) or the same without repeated values (unique: Orion removes
// duplicates within each entity's array, not across entities). A user attribute named like
// a builtin (e.g. "dateModified") takes precedence over the builtin, as in Orion.
boost::json::value RenderEntity(const Entity& entity, const RenderOptions& options);

// One attribute in normalized form ({"type","value","metadata"}), e.g. for GET .../attrs/x.
// Only `options.metadata` is used.
boost::json::value RenderAttribute(const Attribute& attr, const RenderOptions& options);

// A list of entities as JSON text, each as RenderEntity renders it (with kUnique a row
// equal to an earlier one is left out), built one entity at a time. NoResources as soon as
// the text would exceed `max_bytes`, so that a page of large entities (pictures, long arrays) fails
// before it takes the memory of its whole answer.
Result<std::string> RenderEntitiesJson(const std::vector<EntityPtr>& entities,
                                       const RenderOptions& options, size_t max_bytes);

// Serializes compactly like json::Dump, except that doubles are written in the shortest
// plain form that round-trips ("21.5", "0.1", "1e+21") instead of Boost.JSON 1.81's
// "2.15E1". Parsing stores integral numbers within ±2^53 as int64 (so 21 and 21.0 both
// render as 21, as Orion does) and every other number as a double. Use it for NGSI bodies.
std::string DumpJson(const boost::json::value& value);

}  // namespace zc::context
