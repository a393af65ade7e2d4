// orderBy: parsing the key list and comparing two entities on it.
//
// Design. Each key of each entity becomes a SortValue, a borrowed view (rank in Orion's
// cross-type order, number, text or JSON value) built without allocating; two SortValues
// compare by rank first and then within the rank. Objects and arrays fall back to a
// recursive comparison of the JSON values (CompareJson). The comparator is called
// O(n log n) times by the caller's stable sort, so it does no parsing beyond the ISO 8601
// text of DateTime attributes.
#include "context/order_by.h"

#include <algorithm>
#include <optional>

namespace zc::context {

namespace {

// Orion's (MongoDB's) order of value types, lowest first.
enum class Rank : uint8_t { kNull, kNumber, kString, kObject, kArray, kBoolean };

struct SortValue {
  Rank rank = Rank::kNull;
  double number = 0;  // numbers, times, booleans (0/1)
  std::string_view text;
  const bj::value* json = nullptr;  // objects and arrays
};

template <typename T>
int Sign(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

SortValue Number(double d) {
  return {Rank::kNumber, d, {}, nullptr};
}

SortValue FromJson(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::int64:
      return Number(static_cast<double>(v.get_int64()));
    case bj::kind::uint64:
      return Number(static_cast<double>(v.get_uint64()));
    case bj::kind::double_:
      return Number(v.get_double());
    case bj::kind::string: {
      const bj::string& s = v.get_string();
      return {Rank::kString, 0, std::string_view(s.data(), s.size()), nullptr};
    }
    case bj::kind::bool_:
      return {Rank::kBoolean, v.get_bool() ? 1.0 : 0.0, {}, nullptr};
    case bj::kind::object:
      return {Rank::kObject, 0, {}, &v};
    case bj::kind::array:
      return {Rank::kArray, 0, {}, &v};
    default:
      return {};
  }
}

int CompareJson(const bj::value& a, const bj::value& b);

int CompareValues(const SortValue& a, const SortValue& b) {
  if (a.rank != b.rank) return Sign(a.rank, b.rank);
  switch (a.rank) {
    case Rank::kNumber:
    case Rank::kBoolean:
      return Sign(a.number, b.number);
    case Rank::kString:
      return Sign(a.text, b.text);
    case Rank::kObject:
    case Rank::kArray:
      return CompareJson(*a.json, *b.json);
    default:
      return 0;
  }
}

int CompareArrays(const bj::array& a, const bj::array& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (const int c = CompareJson(a[i], b[i]); c != 0) return c;
  }
  return Sign(a.size(), b.size());
}

int CompareObjects(const bj::object& a, const bj::object& b) {
  auto ia = a.begin();
  auto ib = b.begin();
  for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
    const std::string_view ka(ia->key().data(), ia->key().size());
    const std::string_view kb(ib->key().data(), ib->key().size());
    if (const int c = Sign(ka, kb); c != 0) return c;
    if (const int c = CompareJson(ia->value(), ib->value()); c != 0) return c;
  }
  return Sign(a.size(), b.size());
}

int CompareJson(const bj::value& a, const bj::value& b) {
  const SortValue va = FromJson(a);
  const SortValue vb = FromJson(b);
  if (va.rank == vb.rank && va.rank == Rank::kArray) {
    return CompareArrays(a.get_array(), b.get_array());
  }
  if (va.rank == vb.rank && va.rank == Rank::kObject) {
    return CompareObjects(a.get_object(), b.get_object());
  }
  return CompareValues(va, vb);
}

SortValue AttributeValue(const Entity& e, const std::string& name) {
  const Attribute* attr = e.Find(name);
  if (attr == nullptr) return {};
  if (attr->type == kTypeDateTime && attr->value.is_string()) {
    const bj::string& s = attr->value.get_string();
    if (auto t = ParseIso8601(std::string_view(s.data(), s.size()))) {
      return Number(static_cast<double>(*t));
    }
  }
  return FromJson(attr->value);
}

SortValue KeyValue(const OrderBy::Key& key, const Entity& e, double distance) {
  using Field = OrderBy::Key::Field;
  switch (key.field) {
    case Field::kAttribute:
      return AttributeValue(e, key.attribute);
    case Field::kId:
      return {Rank::kString, 0, e.id, nullptr};
    case Field::kType:
      return {Rank::kString, 0, e.type, nullptr};
    case Field::kDateCreated:
      return Number(static_cast<double>(e.created));
    case Field::kDateModified:
      return Number(static_cast<double>(e.modified));
    case Field::kDateExpires:
      return e.expires ? Number(static_cast<double>(*e.expires)) : SortValue{};
    case Field::kGeoDistance:
      return Number(distance);
  }
  return {};
}

std::optional<OrderBy::Key::Field> BuiltinField(std::string_view name) {
  using Field = OrderBy::Key::Field;
  if (name == "id") return Field::kId;
  if (name == "type") return Field::kType;
  if (name == "dateCreated") return Field::kDateCreated;
  if (name == "dateModified") return Field::kDateModified;
  if (name == "dateExpires") return Field::kDateExpires;
  if (name == "geo:distance") return Field::kGeoDistance;
  return std::nullopt;
}

bool ValidName(std::string_view name) {
  constexpr std::string_view kForbidden = "<>\"'=;()!,&?/#";
  return std::all_of(name.begin(), name.end(), [&](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f && kForbidden.find(c) == std::string_view::npos;
  });
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

Result<OrderBy::Key> ParseKey(std::string_view item) {
  OrderBy::Key key;
  item = Trim(item);
  if (!item.empty() && item.front() == '!') {
    key.descending = true;
    item = Trim(item.substr(1));
  }
  if (item.empty()) return Fail(Error::BadRequest("Invalid orderBy: empty item"));
  if (!ValidName(item)) {
    return Fail(Error::BadRequest("Invalid orderBy: invalid attribute name '" +
                                  std::string(item.substr(0, 80)) + "'"));
  }
  if (auto field = BuiltinField(item)) {
    key.field = *field;
  } else {
    key.attribute = std::string(item);
  }
  return key;
}

}  // namespace

Result<OrderBy> OrderBy::Parse(std::string_view text) {
  if (text.size() > kMaxOrderByLength) {
    return Fail(Error::BadRequest("Invalid orderBy: longer than " +
                                  std::to_string(kMaxOrderByLength) + " characters"));
  }
  if (Trim(text).empty()) return Fail(Error::BadRequest("Invalid orderBy: empty"));
  OrderBy out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    auto key = ParseKey(text.substr(start, comma - start));
    if (!key) return Fail(std::move(key.error()));
    out.keys_.push_back(std::move(*key));
    if (out.keys_.size() > kMaxOrderByKeys) {
      return Fail(Error::BadRequest("Invalid orderBy: more than " +
                                    std::to_string(kMaxOrderByKeys) + " keys"));
    }
    start = comma + 1;
  }
  return out;
}

bool OrderBy::UsesGeoDistance() const {
  return std::any_of(keys_.begin(), keys_.end(),
                     [](const Key& k) { return k.field == Key::Field::kGeoDistance; });
}

bool OrderBy::Less(const Entity& a, const Entity& b) const {
  return Less(a, 0, b, 0);
}

bool OrderBy::Less(const Entity& a, double distance_a, const Entity& b, double distance_b) const {
  for (const Key& key : keys_) {
    const int c = CompareValues(KeyValue(key, a, distance_a), KeyValue(key, b, distance_b));
    if (c != 0) return key.descending ? c > 0 : c < 0;
  }
  return false;
}

}  // namespace zc::context
