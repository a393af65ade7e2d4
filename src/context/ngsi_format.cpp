// NGSI-v2 JSON <-> context model, following FIWARE Orion's behaviour so that existing
// clients (ngsijs, IoT agents) see the same results and the same error texts.
//
// Parsing works in two passes per attribute, mirroring Orion (jsonParseV2/
// parseContextAttribute.cpp, then ContextAttribute::check): first the JSON shape is read
// (value/type/metadata, structural errors, DateTime syntax, default types), then the
// identifiers and string values are checked against Orion's forbidden characters. Values
// are copied with their numbers normalized (integral within ±2^53 → int64, else double;
// non-finite → error) so that rendering prints 21 rather than 21.0 or 2.1E1. DateTime
// values are stored in Orion's output form "YYYY-MM-DDThh:mm:ss.sssZ". "dateExpires" is
// moved out of the attribute list into Entity::expires (Orion's transient entities).
//
// Rendering selects attributes once (user attributes, then synthesized builtins such as
// dateCreated that exist only while rendering) and writes the representation asked for.
// Geo validation here is deliberately light (geo:point "lat, lon" in range; geo:json an
// object with a string "type"); full GeoJSON checking belongs to context/geo.
#include "context/ngsi_format.h"

#include "common/json.h"
#include "context/update_operators.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace zc::context {
namespace {

constexpr std::string_view kParseError = "Errors found in incoming JSON buffer";
constexpr std::string_view kTypeTextUnrestricted = "TextUnrestricted";
constexpr std::string_view kTypeDateTimeAlt = "ISO8601";  // Orion's DATE_TYPE_ALT
constexpr std::string_view kDateCreated = "dateCreated";
constexpr std::string_view kDateModified = "dateModified";
constexpr std::string_view kServicePath = "servicePath";
constexpr std::string_view kAllNames = "*";
constexpr int64_t kMaxExactInt = int64_t{1} << 53;

Error Bad(std::string_view message) {
  return Error::BadRequest(std::string(message));
}

// A byte → bool table built at compile time: the checks below run on every character of
// every name and string value of a write, where a search of the set per character showed
// up in profiles.
using CharTable = std::array<bool, 256>;

constexpr CharTable TableOf(std::string_view chars) {
  CharTable t{};
  for (const char c : chars) t[static_cast<unsigned char>(c)] = true;
  return t;
}

// Orion's commonForbidden set (parse/forbiddenChars.cpp), applied to string values.
constexpr CharTable kGeneralForbidden = TableOf("<>\"'=;()");

// Orion's forbiddenIdCharsV2 (control chars, space, URL delimiters, the general set), except
// that UTF-8 (bytes >= 0x80) is allowed: Chinese plates and place names are natural ids
// (a deliberate difference, docs/api/ngsi-v2.md).
constexpr CharTable kForbiddenInName = [] {
  CharTable t = TableOf("<>\"'=;()?/#&");
  for (int c = 0; c <= 32; ++c) t[c] = true;
  t[127] = true;
  return t;
}();

bool IsGeneralForbidden(char c) {
  return kGeneralForbidden[static_cast<unsigned char>(c)];
}

bool IsForbiddenInName(char c) {
  return kForbiddenInName[static_cast<unsigned char>(c)];
}

// True when a string anywhere in `v` has a general forbidden character (Orion checks the
// leaves of compound values, not their keys).
bool ValueHasForbiddenChars(const bj::value& v) {
  if (const auto* s = v.if_string()) return std::ranges::any_of(*s, IsGeneralForbidden);
  if (const auto* a = v.if_array()) return std::ranges::any_of(*a, ValueHasForbiddenChars);
  if (const auto* o = v.if_object()) {
    return std::ranges::any_of(*o,
                               [](const auto& kv) { return ValueHasForbiddenChars(kv.value()); });
  }
  return false;
}

// Rewrites numbers in place (see the file comment). False when a number is not finite.
bool NormalizeNumbers(bj::value& v) {
  switch (v.kind()) {
    case bj::kind::int64: {
      const int64_t i = v.get_int64();
      if (i > kMaxExactInt || i < -kMaxExactInt) v = static_cast<double>(i);
      return true;
    }
    case bj::kind::uint64: {
      const uint64_t u = v.get_uint64();
      if (u <= static_cast<uint64_t>(kMaxExactInt)) {
        v = static_cast<int64_t>(u);
      } else {
        v = static_cast<double>(u);
      }
      return true;
    }
    case bj::kind::double_: {
      const double d = v.get_double();
      if (!std::isfinite(d)) return false;
      if (std::trunc(d) == d && std::fabs(d) <= static_cast<double>(kMaxExactInt)) {
        v = static_cast<int64_t>(d);
      }
      return true;
    }
    case bj::kind::array:
      return std::ranges::all_of(v.get_array(), NormalizeNumbers);
    case bj::kind::object:
      return std::ranges::all_of(v.get_object(),
                                 [](auto& kv) { return NormalizeNumbers(kv.value()); });
    default:
      return true;
  }
}

Result<bj::value> NormalizedCopy(const bj::value& v) {
  bj::value out = v;
  if (!NormalizeNumbers(out)) return Fail(Error::ParseError(std::string(kParseError)));
  return out;
}

// A non-null DateTime value must be an ISO 8601 string; it is rewritten in Orion's form.
Status NormalizeDateTime(std::string_view type, bj::value& value) {
  if (!IsDateTimeType(type) || value.is_null()) return Ok();
  const auto* s = value.if_string();
  const auto t = s ? ParseIso8601(std::string_view(*s)) : std::nullopt;
  if (!t) return Fail(Bad("date has invalid format"));
  value = bj::string(FormatIso8601(*t));
  return Ok();
}

// ---- metadata ---------------------------------------------------------------------------

Result<Metadata> ParseMetadataItem(const bj::value& body) {
  const auto* obj = body.if_object();
  if (!obj) return Fail(Bad("metadata must be a JSON object"));
  Metadata md;
  bool type_given = false;
  for (const auto& kv : *obj) {
    if (kv.key() == "type") {
      if (!kv.value().is_string()) {
        return Fail(Bad("invalid JSON type for attribute metadata type"));
      }
      md.type = std::string(kv.value().get_string());
      type_given = true;
    } else if (kv.key() == "value") {
      auto v = NormalizedCopy(kv.value());
      if (!v) return Fail(v.error());
      md.value = std::move(*v);
    } else {
      return Fail(Bad("invalid JSON field for attribute metadata"));
    }
  }
  if (auto s = NormalizeDateTime(md.type, md.value); !s) return Fail(s.error());
  if (!type_given) md.type = std::string(InferType(md.value));
  return md;
}

Result<NamedList<Metadata>> ParseMetadataObject(const bj::value& body) {
  const auto* obj = body.if_object();
  if (!obj) return Fail(Bad("metadata not a JSON object"));
  NamedList<Metadata> out;
  out.reserve(obj->size());
  for (const auto& kv : *obj) {
    auto md = ParseMetadataItem(kv.value());
    if (!md) return Fail(md.error());
    out.emplace_back(std::string(kv.key()), std::move(*md));
  }
  return out;
}

// Orion's Metadata::check.
Status CheckMetadata(const NamedList<Metadata>& metadata) {
  for (const auto& [name, md] : metadata) {
    if (auto s = ValidateName(name, "metadata name"); !s) return s;
    if (auto s = ValidateName(md.type, "metadata type"); !s) return s;
    const auto* str = md.value.if_string();
    if (str && std::ranges::any_of(*str, IsGeneralForbidden)) {
      return Fail(Bad("Invalid characters in metadata value"));
    }
  }
  return Ok();
}

// ---- attributes -------------------------------------------------------------------------

// Reads {"value","type","metadata"}; anything else is Orion's "unrecognized property".
Result<Attribute> ParseAttributeObject(const bj::object& obj) {
  Attribute attr;
  bool type_given = false;
  for (const auto& kv : obj) {
    if (kv.key() == "type") {
      if (!kv.value().is_string()) return Fail(Bad("invalid JSON type for attribute type"));
      attr.type = std::string(kv.value().get_string());
      type_given = true;
    } else if (kv.key() == "value") {
      auto v = NormalizedCopy(kv.value());
      if (!v) return Fail(v.error());
      attr.value = std::move(*v);
    } else if (kv.key() == "metadata") {
      auto md = ParseMetadataObject(kv.value());
      if (!md) return Fail(md.error());
      attr.metadata = std::move(*md);
    } else {
      return Fail(Bad("unrecognized property for context attribute"));
    }
  }
  if (IsUpdateOperator(attr.value)) {
    if (!type_given) attr.type.clear();  // the writer takes it from the current or new value
    return attr;
  }
  if (auto s = NormalizeDateTime(attr.type, attr.value); !s) return Fail(s.error());
  if (!type_given) attr.type = std::string(InferType(attr.value));
  return attr;
}

bool IgnoreTypeSet(const Attribute& attr) {
  const Metadata* md = FindNamed(attr.metadata, "ignoreType");
  return md && md->value.is_bool() && md->value.get_bool();
}

bool ParseCoordinate(std::string_view text, double limit, double& out) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && std::fabs(out) <= limit;
}

// Light location checks (see the file comment); null values are not locations (Orion).
Status CheckLocation(const Attribute& attr) {
  if (attr.value.is_null() || IgnoreTypeSet(attr)) return Ok();
  if (attr.type == kTypeGeoPoint) {
    const auto* s = attr.value.if_string();
    const std::string_view text = s ? std::string_view(*s) : std::string_view();
    const size_t comma = text.find(',');
    double lat = 0, lon = 0;
    if (!s || comma == std::string_view::npos || !ParseCoordinate(text.substr(0, comma), 90, lat) ||
        !ParseCoordinate(text.substr(comma + 1), 180, lon)) {
      return Fail(Bad("geo:point: invalid coordinates, expected \"lat, lon\""));
    }
  } else if (attr.type == kTypeGeoJson) {
    const auto* o = attr.value.if_object();
    const auto* type = o ? o->if_contains("type") : nullptr;
    if (!type || !type->is_string()) {
      return Fail(Bad("geo:json: value must be a GeoJSON object with a \"type\""));
    }
  }
  return Ok();
}

// Orion's ContextAttribute::check, minus the name (checked by the caller, URL or body).
Status CheckAttribute(const Attribute& attr) {
  const bool type_deferred = attr.type.empty() && IsUpdateOperator(attr.value);
  if (auto s = ValidateName(attr.type, "attribute type"); !s && !type_deferred) return s;
  if (attr.type != kTypeTextUnrestricted && ValueHasForbiddenChars(attr.value)) {
    return Fail(Bad("Invalid characters in attribute value"));
  }
  if (auto s = CheckMetadata(attr.metadata); !s) return s;
  return CheckLocation(attr);
}

// One member of an entity or attributes body: "name": {..} (or a plain value in keyValues).
Result<Attribute> ParseMember(std::string_view name, const bj::value& body, bool key_values) {
  Attribute attr;
  if (key_values) {
    auto v = NormalizedCopy(body);
    if (!v) return Fail(v.error());
    attr.value = std::move(*v);
    if (!IsUpdateOperator(attr.value)) attr.type = std::string(InferType(attr.value));
  } else {
    const auto* obj = body.if_object();
    if (!obj) return Fail(Bad("attribute must be a JSON object, unless keyValues option is used"));
    auto parsed = ParseAttributeObject(*obj);
    if (!parsed) return parsed;
    attr = std::move(*parsed);
  }
  if (auto s = ValidateName(name, "attribute name"); !s) return Fail(s.error());
  if (auto s = CheckAttribute(attr); !s) return Fail(s.error());
  return attr;
}

// Parses the attribute members of `obj` (skipping "id"/"type" when `skip_id_type`) into
// `out`, moving "dateExpires" into has_expires/expires.
Status ParseMembers(const bj::object& obj, bool key_values, bool skip_id_type,
                    ParsedAttributes& out) {
  out.attrs.reserve(obj.size());
  for (const auto& kv : obj) {
    const std::string_view name = kv.key();
    if (skip_id_type && (name == "id" || name == "type")) continue;
    auto attr = ParseMember(name, kv.value(), key_values);
    if (!attr) return Fail(attr.error());
    if (name == kDateExpires) {
      auto expires = DateExpiresOf(*attr);
      if (!expires) return Fail(expires.error());
      out.has_expires = true;
      out.expires = *expires;
      continue;
    }
    out.attrs.emplace_back(std::string(name), std::move(*attr));
  }
  return Ok();
}

// "id" and "type" of an entity body (Orion jsonParseV2/parseEntity.cpp).
Status ParseEntityIdentity(const bj::object& obj, Entity& entity) {
  const auto* id = obj.if_contains("id");
  if (!id) return Fail(Bad("entity id length: 0, min length supported: 1"));
  if (!id->is_string()) return Fail(Bad("Invalid JSON type for entity id"));
  entity.id = std::string(id->get_string());
  if (const auto* type = obj.if_contains("type")) {
    if (!type->is_string()) return Fail(Bad("Invalid JSON type for entity type"));
    entity.type = std::string(type->get_string());
  } else {
    entity.type = std::string(kDefaultEntityType);
  }
  if (auto s = ValidateName(entity.id, "entity id"); !s) return s;
  return ValidateName(entity.type, "entity type");
}

// ---- rendering --------------------------------------------------------------------------

bool Contains(const std::vector<std::string>& names, std::string_view name) {
  return std::ranges::find(names, name) != names.end();
}

// Builtin attributes exist only while rendering; user attributes of the same name win.
constexpr std::array<std::string_view, 4> kBuiltinAttrs = {kDateCreated, kDateModified,
                                                           kDateExpires, kServicePath};

std::optional<Attribute> BuiltinAttr(const Entity& e, std::string_view name) {
  auto date = [](TimeMs t) {
    return Attribute{std::string(kTypeDateTime), bj::string(FormatIso8601(t)), {}};
  };
  if (name == kDateCreated && e.created != 0) return date(e.created);
  if (name == kDateModified && e.modified != 0) return date(e.modified);
  if (name == kDateExpires && e.expires) return date(*e.expires);
  if (name == kServicePath) {
    return Attribute{std::string(kTypeText), bj::string(e.service_path), {}};
  }
  return std::nullopt;
}

// The attributes to render, in order. Builtins are synthesized into `storage` (sized for
// all of them up front, so the pointers stay valid).
std::vector<std::pair<std::string_view, const Attribute*>> SelectAttributes(
    const Entity& e, const RenderOptions& opt, std::vector<Attribute>& storage) {
  std::vector<std::pair<std::string_view, const Attribute*>> out;
  storage.reserve(kBuiltinAttrs.size());
  auto add_builtin = [&](std::string_view name) {
    if (e.Find(name)) return;
    if (std::ranges::any_of(out, [&](const auto& p) { return p.first == name; })) return;
    if (auto b = BuiltinAttr(e, name)) {
      storage.push_back(std::move(*b));
      out.emplace_back(name, &storage.back());
    }
  };
  const bool all = opt.attrs.empty() || Contains(opt.attrs, kAllNames);
  if (!opt.except_attrs.empty() || all) {
    for (const auto& [name, attr] : e.attrs) {
      if (!Contains(opt.except_attrs, name)) out.emplace_back(name, &attr);
    }
    // Orion keeps dateExpires as a regular attribute: it is shown like one.
    if (!Contains(opt.except_attrs, kDateExpires)) add_builtin(kDateExpires);
    if (!opt.except_attrs.empty() || opt.attrs.empty()) return out;
    for (std::string_view name : kBuiltinAttrs) {
      if (Contains(opt.attrs, name)) add_builtin(name);
    }
    return out;
  }
  for (const auto& name : opt.attrs) {
    if (std::ranges::any_of(out, [&](const auto& p) { return p.first == name; })) continue;
    if (const Attribute* a = e.Find(name)) {
      out.emplace_back(name, a);
    } else if (std::ranges::find(kBuiltinAttrs, name) != kBuiltinAttrs.end()) {
      add_builtin(name);
    }
  }
  return out;
}

bj::object RenderMetadataItem(std::string_view type, const bj::value& value) {
  bj::object o;
  o.emplace("type", bj::string(type));
  o.emplace("value", value);
  return o;
}

// Orion's metadata filter: same rules as attrs, with builtins dateCreated/dateModified.
bj::object RenderMetadata(const Attribute& attr, const std::vector<std::string>& filter) {
  bj::object out;
  const bool all = filter.empty() || Contains(filter, kAllNames);
  auto add_builtin = [&](std::string_view name) {
    const TimeMs t = name == kDateCreated ? attr.created : attr.modified;
    if (FindNamed(attr.metadata, name) || t == 0 || out.contains(name)) return;
    out.emplace(name, RenderMetadataItem(kTypeDateTime, bj::string(FormatIso8601(t))));
  };
  if (all) {
    for (const auto& [name, md] : attr.metadata) {
      out.emplace(name, RenderMetadataItem(md.type, md.value));
    }
    for (std::string_view name : {kDateCreated, kDateModified}) {
      if (Contains(filter, name)) add_builtin(name);
    }
    return out;
  }
  for (const auto& name : filter) {
    if (const Metadata* md = FindNamed(attr.metadata, name)) {
      if (!out.contains(name)) out.emplace(name, RenderMetadataItem(md->type, md->value));
    } else if (name == kDateCreated || name == kDateModified) {
      add_builtin(name);
    }
  }
  return out;
}

bj::array RenderValues(const std::vector<std::pair<std::string_view, const Attribute*>>& attrs,
                       bool unique) {
  bj::array out;
  out.reserve(attrs.size());
  for (const auto& [name, attr] : attrs) {
    if (unique && std::ranges::find(out, attr->value) != out.end()) continue;
    out.push_back(attr->value);
  }
  return out;
}

}  // namespace

Status NormalizeOperatorDates(std::string_view type, bj::value& op) {
  if (!IsDateTimeType(type)) return Ok();
  for (auto& kv : op.get_object()) {
    if (!kv.value().is_string()) continue;
    if (auto s = NormalizeDateTime(type, kv.value()); !s) return s;
  }
  return Ok();
}

// ---- public -----------------------------------------------------------------------------

bool IsDateTimeType(std::string_view type) {
  return type == kTypeDateTime || type == kTypeDateTimeAlt;
}

Status ValidateName(std::string_view name, std::string_view what) {
  if (name.empty()) return Fail(Bad(fmt::format("{} length: 0, min length supported: 1", what)));
  if (name.size() > kMaxNameLength) {
    return Fail(Bad(
        fmt::format("{} length: {}, max length supported: {}", what, name.size(), kMaxNameLength)));
  }
  if (std::ranges::any_of(name, IsForbiddenInName)) {
    return Fail(Bad(fmt::format("Invalid characters in {}", what)));
  }
  return Ok();
}

std::string_view InferType(const bj::value& value) {
  switch (value.kind()) {
    case bj::kind::null:
      return kTypeNone;
    case bj::kind::bool_:
      return kTypeBoolean;
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_:
      return kTypeNumber;
    case bj::kind::string:
      return kTypeText;
    case bj::kind::array:
    case bj::kind::object:
      return kTypeStructured;
  }
  return kTypeNone;
}

Result<Entity> ParseEntity(const bj::value& body, bool key_values) {
  const auto* obj = body.if_object();
  if (!obj) return Fail(Error::ParseError(std::string(kParseError)));
  if (obj->empty()) return Fail(Bad("empty payload"));
  Entity entity;
  if (auto s = ParseEntityIdentity(*obj, entity); !s) return Fail(s.error());
  ParsedAttributes parsed;
  if (auto s = ParseMembers(*obj, key_values, /*skip_id_type=*/true, parsed); !s) {
    return Fail(s.error());
  }
  entity.attrs = std::move(parsed.attrs);
  entity.expires = parsed.expires;
  return entity;
}

Result<ParsedAttributes> ParseAttributes(const bj::value& body, bool key_values) {
  const auto* obj = body.if_object();
  if (!obj) return Fail(Error::ParseError(std::string(kParseError)));
  if (obj->contains("id")) return Fail(Bad("entity id specified in payload"));
  if (obj->contains("type")) return Fail(Bad("entity type specified in payload"));
  if (obj->empty()) return Fail(Bad("empty payload"));
  ParsedAttributes out;
  if (auto s = ParseMembers(*obj, key_values, /*skip_id_type=*/false, out); !s) {
    return Fail(s.error());
  }
  return out;
}

Result<Attribute> ParseAttribute(const bj::value& body) {
  const auto* obj = body.if_object();
  if (!obj) return Fail(Error::ParseError(std::string(kParseError)));
  auto attr = ParseAttributeObject(*obj);
  if (!attr) return attr;
  if (auto s = CheckAttribute(*attr); !s) return Fail(s.error());
  return attr;
}

Result<std::optional<TimeMs>> DateExpiresOf(const Attribute& attr) {
  if (!IsDateTimeType(attr.type)) {
    return Fail(Bad("error processing date expiration attribute, see log traces"));
  }
  if (attr.value.is_null()) return std::optional<TimeMs>();
  // The value was validated and normalized by the parser; re-parse to get the time.
  const auto* s = attr.value.if_string();
  const auto t = s ? ParseIso8601(std::string_view(*s)) : std::nullopt;
  if (!t) return Fail(Bad("date has invalid format"));
  return std::optional<TimeMs>(*t);
}

bj::value RenderAttribute(const Attribute& attr, const RenderOptions& options) {
  bj::object o;
  o.emplace("type", attr.type.empty() ? bj::string(InferType(attr.value)) : bj::string(attr.type));
  o.emplace("value", attr.value);
  o.emplace("metadata", RenderMetadata(attr, options.metadata));
  return o;
}

bj::value RenderEntity(const Entity& entity, const RenderOptions& options) {
  std::vector<Attribute> builtins;
  const auto attrs = SelectAttributes(entity, options, builtins);
  switch (options.representation) {
    case Representation::kValues:
      return RenderValues(attrs, /*unique=*/false);
    case Representation::kUnique:
      return RenderValues(attrs, /*unique=*/true);
    case Representation::kKeyValues:
    case Representation::kNormalized:
      break;
  }
  bj::object o;
  o.reserve(attrs.size() + 2);
  o.emplace("id", bj::string(entity.id));
  o.emplace("type", entity.type.empty() ? bj::string(kDefaultEntityType) : bj::string(entity.type));
  for (const auto& [name, attr] : attrs) {
    if (options.representation == Representation::kKeyValues) {
      o.emplace(name, attr->value);
    } else {
      o.emplace(name, RenderAttribute(*attr, options));
    }
  }
  return o;
}

Result<std::string> RenderEntitiesJson(const std::vector<EntityPtr>& entities,
                                       const RenderOptions& options, size_t max_bytes) {
  json::BoundedArrayWriter out(max_bytes, "entities (limit) or attributes (attrs)");
  bj::array rows;  // unique: the rows already in the page
  const bool unique = options.representation == Representation::kUnique;
  for (const auto& e : entities) {
    bj::value v = RenderEntity(*e, options);
    if (unique) {
      if (std::ranges::find(rows, v) != rows.end()) continue;
      rows.push_back(v);
    }
    if (auto s = out.Append(DumpJson(v)); !s) return Fail(s.error());
  }
  return std::move(out).Finish();
}

std::string DumpJson(const bj::value& value) {
  return json::Dump(value);
}

}  // namespace zc::context
