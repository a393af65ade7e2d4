// The NGSI-v2 `orderBy` parameter: a comma-separated list of sort keys, each an attribute
// name, `id`, `type`, `dateCreated`, `dateModified`, `dateExpires` or `geo:distance`; a
// leading `!` sorts that key in descending order (`orderBy=temperature,!name`). Results are
// ordered by the first key, ties by the second, and so on; the caller sorts with a STABLE
// sort so that entities equal on every key keep their incoming order.
//
// Order across value types follows Orion, which documents MongoDB's order; from lowest to
// highest:
//   1. missing attribute or null   2. numbers   3. strings   4. objects   5. arrays
//   6. booleans (false < true)
// Within a type: numbers numerically, strings byte-wise, arrays element by element (then
// the shorter first), objects member by member in stored order (key, then value). A
// DateTime attribute whose value is an ISO 8601 string sorts as a number (its time; Orion
// stores DateTime values as numbers), as do the built-in dates. `!` reverses the whole order,
// so missing attributes come last in a descending key.
//
// geo:distance: only meaningful with a `georel=near` query; the caller checks that with
// UsesGeoDistance() (and answers 400 otherwise), computes each entity's distance to the
// reference geometry while filtering, and sorts with the Less overload that takes
// distances. The overload without distances treats geo:distance keys as ties.
//
// Limits: kMaxOrderByLength characters and kMaxOrderByKeys keys.
// Thread-safety: immutable after Parse; Less may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "context/entity.h"

namespace zc::context {

inline constexpr size_t kMaxOrderByLength = 1024;
inline constexpr size_t kMaxOrderByKeys = 16;

class OrderBy {
 public:
  struct Key {
    enum class Field : uint8_t {
      kAttribute,
      kId,
      kType,
      kDateCreated,
      kDateModified,
      kDateExpires,
      kGeoDistance,
    };
    Field field = Field::kAttribute;
    std::string attribute;  // kAttribute only
    bool descending = false;
  };

  // Parses the (URL-decoded) value of orderBy.
  // Errors: BadRequest for an empty value or item, a name with characters that cannot be in
  // an attribute name, or a value over the limits.
  static Result<OrderBy> Parse(std::string_view text);

  bool Empty() const { return keys_.empty(); }
  const std::vector<Key>& keys() const { return keys_; }
  bool UsesGeoDistance() const;

  // Strict weak order: true when `a` sorts before `b`. geo:distance keys compare equal.
  bool Less(const Entity& a, const Entity& b) const;
  // The same, with each entity's distance (metres) to the near-query reference geometry.
  bool Less(const Entity& a, double distance_a, const Entity& b, double distance_b) const;

 private:
  std::vector<Key> keys_;
};

}  // namespace zc::context
