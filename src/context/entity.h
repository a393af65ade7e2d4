// The context data model (FIWARE NGSI-v2): an entity is an id, a type and a service path
// with named attributes; an attribute has a type, a JSON value and metadata. Entities held
// in memory are immutable snapshots (`std::shared_ptr<const Entity>`): a write builds a new
// snapshot, so readers never lock an entity while they serialize it.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace zc::context {

namespace bj = boost::json;

struct Metadata {
  std::string type;
  bj::value value;
  bool operator==(const Metadata&) const = default;
};

// Small ordered maps: entities have a handful of attributes, attributes a handful of
// metadata; a vector in insertion order is faster than a tree and keeps the client's order.
template <typename V>
using NamedList = std::vector<std::pair<std::string, V>>;

template <typename V>
const V* FindNamed(const NamedList<V>& list, std::string_view name) {
  for (const auto& [k, v] : list) {
    if (k == name) return &v;
  }
  return nullptr;
}
template <typename V>
V* FindNamed(NamedList<V>& list, std::string_view name) {
  for (auto& [k, v] : list) {
    if (k == name) return &v;
  }
  return nullptr;
}

struct Attribute {
  std::string type;
  bj::value value;
  NamedList<Metadata> metadata;
  TimeMs created = 0;   // dateCreated (built-in metadata)
  TimeMs modified = 0;  // dateModified (built-in metadata)
};

// Attribute types with a meaning to the broker.
inline constexpr std::string_view kTypeNumber = "Number";
inline constexpr std::string_view kTypeText = "Text";
inline constexpr std::string_view kTypeBoolean = "Boolean";
inline constexpr std::string_view kTypeDateTime = "DateTime";
inline constexpr std::string_view kTypeStructured = "StructuredValue";
inline constexpr std::string_view kTypeNone = "None";
inline constexpr std::string_view kTypeGeoPoint = "geo:point";
inline constexpr std::string_view kTypeGeoJson = "geo:json";
inline constexpr std::string_view kDefaultEntityType = "Thing";

struct Entity {
  std::string id;
  std::string type;
  std::string service_path = "/";
  NamedList<Attribute> attrs;
  TimeMs created = 0;
  TimeMs modified = 0;
  std::optional<TimeMs> expires;  // dateExpires, when set

  const Attribute* Find(std::string_view name) const { return FindNamed(attrs, name); }
  Attribute* Find(std::string_view name) { return FindNamed(attrs, name); }
};

using EntityPtr = std::shared_ptr<const Entity>;

// Identity of an entity inside one tenant: Orion keys entities on (id, type, servicePath).
struct EntityKey {
  std::string id;
  std::string type;
  std::string service_path;
  bool operator==(const EntityKey&) const = default;
};

struct EntityKeyHash {
  size_t operator()(const EntityKey& k) const noexcept;
};

inline EntityKey KeyOf(const Entity& e) {
  return {e.id, e.type, e.service_path};
}

// About the length of `value` as JSON: strings, names and punctuation count as written
// (before escaping), a number as 8 bytes. Cheap enough for every write.
size_t ApproxJsonBytes(const bj::value& value);

// About the length of `entity` in the normalized format, without the built-in attributes:
// what [context] max_entity_bytes limits.
size_t ApproxEntityBytes(const Entity& entity);

}  // namespace zc::context
