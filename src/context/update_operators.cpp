// Update operators for attribute values (see update_operators.h). The semantics are
// MongoDB's, since Orion hands the operators to MongoDB; error texts name the operator and
// what was wrong, in place of MongoDB's own.
#include "context/update_operators.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <compare>
#include <cstdint>
#include <string>

namespace zc::context {
namespace {

namespace bj = boost::json;

constexpr std::array<std::string_view, 10> kOperators = {
    "$inc", "$mul", "$min", "$max", "$push", "$addToSet", "$pull", "$pullAll", "$set", "$unset"};

constexpr std::string_view kEpoch = "1970-01-01T00:00:00.000Z";

// Repeated $push/$addToSet could grow a value past any request's size; this bounds it.
constexpr size_t kMaxArrayItems = 10000;

using NewValue = Result<std::optional<bj::value>>;

Error Bad(std::string_view op, std::string_view what) {
  return Error::BadRequest(fmt::format("update operator {}: {}", op, what));
}

// MongoDB's order between kinds (null < numbers < strings < objects < arrays < booleans).
int KindRank(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null:
      return 0;
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_:
      return 1;
    case bj::kind::string:
      return 2;
    case bj::kind::object:
      return 3;
    case bj::kind::array:
      return 4;
    case bj::kind::bool_:
      return 5;
  }
  return 0;
}

// Numbers by value, strings (and so normalized DateTime values) bytewise, booleans
// false < true; two objects or two arrays count as equal, so $min/$max keep the current one.
std::partial_ordering Compare(const bj::value& a, const bj::value& b) {
  if (KindRank(a) != KindRank(b)) return KindRank(a) <=> KindRank(b);
  if (a.is_number()) return a.to_number<double>() <=> b.to_number<double>();
  if (a.is_string()) return std::string_view(a.get_string()) <=> std::string_view(b.get_string());
  if (a.is_bool()) return a.get_bool() <=> b.get_bool();
  return std::partial_ordering::equivalent;
}

// a + b or a * b, as integers while both are integers and the result fits.
bj::value Arithmetic(const bj::value& a, const bj::value& b, bool multiply) {
  if (a.is_int64() && b.is_int64()) {
    int64_t out = 0;
    const bool overflow = multiply ? __builtin_mul_overflow(a.get_int64(), b.get_int64(), &out)
                                   : __builtin_add_overflow(a.get_int64(), b.get_int64(), &out);
    if (!overflow) return out;
  }
  const double x = a.to_number<double>(), y = b.to_number<double>();
  return multiply ? x * y : x + y;
}

NewValue Numeric(std::string_view op, const bj::value* current, const bj::value& arg) {
  if (!arg.is_number()) return Fail(Bad(op, "the argument must be a number"));
  const bj::value zero = int64_t{0};
  const bj::value& base = current ? *current : zero;
  if (!base.is_number()) return Fail(Bad(op, "the attribute value is not a number"));
  bj::value out = Arithmetic(base, arg, op == "$mul");
  if (out.is_double() && !std::isfinite(out.get_double())) {
    return Fail(Bad(op, "the result is too large for a number"));
  }
  return out;
}

NewValue MinMax(std::string_view op, const bj::value* current, const bj::value& arg,
                bool date_time) {
  bj::value reference = arg;
  if (arg.is_number()) reference = int64_t{0};
  if (date_time && arg.is_string()) reference = bj::string(kEpoch);
  const bj::value& base = current ? *current : reference;
  const auto order = Compare(arg, base);
  const bool take = op == "$min" ? order < 0 : order > 0;
  return bj::value(take ? arg : base);
}

Result<bj::array> ArrayOf(std::string_view op, const bj::value* current) {
  if (!current) return bj::array();
  if (!current->is_array()) return Fail(Bad(op, "the attribute value is not an array"));
  return current->get_array();
}

// The items of a $push/$addToSet argument and where they go: {"$each": [..], "$position": n}
// or a single item at the end.
struct Insertion {
  bj::array items;
  std::optional<int64_t> position;
};

Result<Insertion> InsertionOf(std::string_view op, const bj::value& arg) {
  const auto* o = arg.if_object();
  if (!o || !o->contains("$each")) return Insertion{.items = bj::array{arg}};
  Insertion out;
  for (const auto& [key, value] : *o) {
    if (key == "$each") {
      if (!value.is_array()) return Fail(Bad(op, "$each must be an array"));
      out.items = value.get_array();
    } else if (key == "$position" && op == "$push") {
      if (!value.is_int64()) return Fail(Bad(op, "$position must be an integer"));
      out.position = value.get_int64();
    } else {
      return Fail(Bad(op, fmt::format("unsupported modifier {}", std::string_view(key))));
    }
  }
  return out;
}

NewValue Insert(std::string_view op, const bj::value* current, const bj::value& arg) {
  auto array = ArrayOf(op, current);
  if (!array) return Fail(array.error());
  auto insertion = InsertionOf(op, arg);
  if (!insertion) return Fail(insertion.error());
  const auto size = static_cast<int64_t>(array->size());
  int64_t at = insertion->position.value_or(size);
  at = std::clamp(at < 0 ? size + at : at, int64_t{0}, size);
  for (auto& item : insertion->items) {
    if (op == "$addToSet" && std::ranges::find(*array, item) != array->end()) continue;
    if (array->size() == kMaxArrayItems) {
      return Fail(Error::PayloadTooLarge(fmt::format(
          "update operator {}: an array value holds at most {} items", op, kMaxArrayItems)));
    }
    array->insert(array->begin() + at++, std::move(item));
  }
  return bj::value(std::move(*array));
}

NewValue Remove(std::string_view op, const bj::value* current, const bj::value& arg) {
  if (!current) return std::optional<bj::value>();
  if (op == "$pullAll" && !arg.is_array()) return Fail(Bad(op, "the argument must be an array"));
  auto array = ArrayOf(op, current);
  if (!array) return Fail(array.error());
  const auto removed = [&](const bj::value& item) {
    if (op == "$pull") return item == arg;
    return std::ranges::find(arg.get_array(), item) != arg.get_array().end();
  };
  array->erase(std::remove_if(array->begin(), array->end(), removed), array->end());
  return bj::value(std::move(*array));
}

// $set and/or $unset of keys of an object value.
NewValue SetUnset(const bj::value* current, const bj::object& op) {
  const bj::value* set = op.if_contains("$set");
  const bj::value* unset = op.if_contains("$unset");
  if (set && !set->is_object() && !unset) return bj::value(*set);  // a plain replacement
  if (!current && !set) return std::optional<bj::value>();         // $unset of nothing
  const bj::object empty;
  if (current && !current->is_object()) {
    if (!set) return bj::value(*current);  // MongoDB ignores $unset below a non-object
    return Fail(Bad("$set", "the attribute value is not an object"));
  }
  bj::object out = current ? current->get_object() : empty;
  const auto* unset_keys = unset ? unset->if_object() : nullptr;
  if (unset_keys) {
    for (const auto& kv : *unset_keys) {
      if (set && set->is_object() && set->get_object().contains(kv.key())) {
        return Fail(
            Bad("$set", fmt::format("key {} is also in $unset", std::string_view(kv.key()))));
      }
      out.erase(kv.key());
    }
  }
  if (set && set->is_object()) {
    for (const auto& kv : set->get_object()) out[kv.key()] = kv.value();
  }
  return bj::value(std::move(out));
}

}  // namespace

bool IsUpdateOperator(const bj::value& value) {
  const auto* o = value.if_object();
  if (!o) return false;
  if (o->size() == 2) return o->contains("$set") && o->contains("$unset");
  const std::string_view key = o->size() == 1 ? std::string_view(o->begin()->key()) : "";
  return std::ranges::find(kOperators, key) != kOperators.end();
}

NewValue ApplyUpdateOperator(const bj::value* current, const bj::value& op, bool date_time) {
  const bj::object& o = op.get_object();
  if (o.size() == 2) return SetUnset(current, o);
  const std::string_view name = o.begin()->key();
  const bj::value& arg = o.begin()->value();
  if (name == "$inc" || name == "$mul") return Numeric(name, current, arg);
  if (name == "$min" || name == "$max") return MinMax(name, current, arg, date_time);
  if (name == "$push" || name == "$addToSet") return Insert(name, current, arg);
  if (name == "$pull" || name == "$pullAll") return Remove(name, current, arg);
  return SetUnset(current, o);
}

}  // namespace zc::context
