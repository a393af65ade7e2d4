// libFuzzer target for the NGSI-v2 query parameters: the Simple Query Language (`q`, `mq`,
// context/query.h), `orderBy` (context/order_by.h) and the geo-query (`georel`, `geometry`,
// `coords`, context/geo.h), plus the GeoJSON / legacy location parser.
//
// Input: up to seven lines separated by '\n', each the (URL-decoded) value of one piece:
//   1 q   2 mq   3 orderBy   4 georel   5 geometry   6 coords
//   7 an entity location as JSON: a string is a geo:point ("lat, lon"), an object geo:json,
//     an array is tried as geo:line, geo:box and geo:polygon
// Missing lines are empty. Whatever parses is then used as the API uses it, on a few fixed
// entities whose attributes cover every value kind, and these properties are checked
// (abort() with a message when one breaks):
// - OrderBy::Less is a strict weak order on the fixed entities (irreflexive, asymmetric,
//   transitive), with and without distances, as std::stable_sort requires;
// - SearchBounds(query) holds every location that Matches(query) (the spatial index relies
//   on it to pick candidates), with a 1e-7 degree tolerance (about 1 cm).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "context/geo.h"
#include "context/order_by.h"
#include "context/query.h"

namespace {

namespace bj = boost::json;
using namespace zc::context;

[[noreturn]] void Fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "fuzz_ngsi_query: %s\n  input: %.*s\n", what, static_cast<int>(input.size()),
               input.data());
  std::abort();
}

Attribute Attr(std::string type, bj::value v, NamedList<Metadata> md = {}) {
  Attribute a;
  a.type = std::move(type);
  a.value = std::move(v);
  a.metadata = std::move(md);
  a.created = 5000;
  a.modified = 6000;
  return a;
}

// Three entities sharing attribute names with values of different kinds, so that q, mq and
// orderBy compare numbers, strings, dates, booleans, null, arrays, objects and missing ones.
std::vector<Entity> MakeEntities() {
  std::vector<Entity> out(3);
  out[0].id = "Room1";
  out[0].type = "Room";
  out[0].created = 1000;
  out[0].modified = 2000;
  out[0].attrs = {
      {"temperature",
       Attr("Number", 23.5,
            {{"accuracy", {"Number", 0.5}},
             {"unit", {"Text", "C"}},
             {"ts", {"DateTime", "2020-01-01T00:00:00.000Z"}},
             {"source", {"StructuredValue", bj::parse(R"({"name":"s1","level":3})")}}})},
      {"status", Attr("Text", "ok")},
      {"name", Attr("Text", "Room one")},
      {"active", Attr("Boolean", true)},
      {"nothing", Attr("None", nullptr)},
      {"tags", Attr("StructuredValue", bj::parse(R"(["a","b","c"])"))},
      {"address",
       Attr("StructuredValue", bj::parse(R"({"street":"Main","n":7,"geo":{"zip":"5"}})"))},
      {"observed", Attr("DateTime", "2017-06-17T07:21:24.238Z")},
      {"location", Attr("geo:point", "22.89, 112.89")},
  };
  out[1].id = "Room2";
  out[1].type = "Room";
  out[1].created = 3000;
  out[1].modified = 3000;
  out[1].expires = 900000;
  out[1].attrs = {
      {"temperature", Attr("Text", "warm", {{"accuracy", {"Text", "high"}}})},
      {"status", Attr("Number", 3)},
      {"tags", Attr("StructuredValue", bj::parse(R"([1,[2],{"a":null}])"))},
      {"address", Attr("StructuredValue", bj::parse(R"({"street":"Main","n":"7"})"))},
      {"observed", Attr("DateTime", "not a date")},
      {"active", Attr("Boolean", false)},
      {"name", Attr("Text", "")},
  };
  out[2].id = "Car1";
  out[2].type = "Car";
  out[2].attrs = {
      {"temperature", Attr("Number", -40, {{"accuracy", {"Number", 2}}})},
      {"status", Attr("None", nullptr)},
      {"tags", Attr("StructuredValue", bj::array())},
      {"address", Attr("Text", "Main")},
      {"observed", Attr("DateTime", "2017-06-17T07:21:24Z")},
      {"location", Attr("geo:json", bj::parse(R"({"type":"LineString",
          "coordinates":[[112.8,22.8],[112.9,22.9]]})"))},
  };
  return out;
}

const std::vector<Entity>& Entities() {
  static const std::vector<Entity> entities = MakeEntities();
  return entities;
}

void RunFilter(const zc::Result<Filter>& f) {
  if (!f) return;
  (void)f->Attributes();
  (void)f->Empty();
  for (const Entity& e : Entities()) (void)f->Matches(e);
}

void RunQueryLanguage(std::string_view q, std::string_view mq) {
  auto fq = Filter::ParseQ(q);
  auto fmq = Filter::ParseMq(mq);
  RunFilter(fq);
  RunFilter(fmq);
  if (fq && fmq) {
    Filter both = *fq;
    both.AndWith(*fmq);
    RunFilter(both);
  }
  // Both parsers on both strings: q strings are often valid mq strings and vice versa.
  RunFilter(Filter::ParseQ(mq));
  RunFilter(Filter::ParseMq(q));
}

template <typename Less>
void CheckStrictWeakOrder(const Less& less, std::string_view input) {
  const auto& es = Entities();
  const size_t n = es.size();
  for (size_t a = 0; a < n; ++a) {
    if (less(a, a)) Fail("orderBy: Less(a, a) is true", input);
    for (size_t b = 0; b < n; ++b) {
      if (less(a, b) && less(b, a)) Fail("orderBy: Less(a, b) and Less(b, a)", input);
      for (size_t c = 0; c < n; ++c) {
        if (less(a, b) && less(b, c) && !less(a, c)) Fail("orderBy: Less is not transitive", input);
        const bool ab = !less(a, b) && !less(b, a);
        const bool bc = !less(b, c) && !less(c, b);
        const bool ac = !less(a, c) && !less(c, a);
        if (ab && bc && !ac) Fail("orderBy: equivalence is not transitive", input);
      }
    }
  }
}

void RunOrderBy(std::string_view text) {
  auto order = OrderBy::Parse(text);
  if (!order) return;
  (void)order->UsesGeoDistance();
  const auto& es = Entities();
  CheckStrictWeakOrder([&](size_t a, size_t b) { return order->Less(es[a], es[b]); }, text);
  static constexpr std::array<double, 3> kDistances = {120.5, 0, 120.5};
  CheckStrictWeakOrder(
      [&](size_t a, size_t b) { return order->Less(es[a], kDistances[a], es[b], kDistances[b]); },
      text);
}

// Closed intervals [a1, a2] and [b1, b2] of longitude overlap, modulo 360.
bool LonOverlap(double a1, double a2, double b1, double b2, double eps) {
  for (double shift : {-360.0, 0.0, 360.0}) {
    if (a1 + shift <= b2 + eps && b1 <= a2 + shift + eps) return true;
  }
  return false;
}

bool BoxesOverlap(const LatLonBox& a, const LatLonBox& b, double eps) {
  if (a.min_lat > b.max_lat + eps || b.min_lat > a.max_lat + eps) return false;
  // A box with min_lon > max_lon crosses the antimeridian: two intervals.
  auto parts = [](const LatLonBox& x) {
    std::vector<std::pair<double, double>> p;
    if (x.min_lon <= x.max_lon) {
      p.emplace_back(x.min_lon, x.max_lon);
    } else {
      p.emplace_back(x.min_lon, 180.0);
      p.emplace_back(-180.0, x.max_lon);
    }
    return p;
  };
  for (const auto& [a1, a2] : parts(a)) {
    for (const auto& [b1, b2] : parts(b)) {
      if (LonOverlap(a1, a2, b1, b2, eps)) return true;
    }
  }
  return false;
}

// The locations a query is tried against: the fixed entities' and the one in the input.
std::vector<Geometry> Locations(std::string_view location_json) {
  std::vector<Geometry> out;
  for (const Entity& e : Entities()) {
    auto loc = EntityLocation(e);
    if (loc && *loc) out.push_back(**loc);
  }
  out.push_back(GeoPoint(-179.5, 89.5));
  out.push_back(GeoPoint(180, 0));
  auto v = zc::json::Parse(location_json);
  if (!v) return out;
  std::vector<std::string_view> types;
  if (v->is_string()) types = {kTypeGeoPoint};
  if (v->is_object()) types = {kTypeGeoJson};
  if (v->is_array()) types = {kTypeGeoLine, kTypeGeoBox, kTypeGeoPolygon};
  for (std::string_view type : types) {
    Attribute a;
    a.type = std::string(type);
    a.value = *v;
    auto g = LocationFromAttribute(a);
    if (g) {
      (void)BoundsOf(*g);
      out.push_back(*g);
    }
  }
  return out;
}

void RunGeo(std::string_view georel, std::string_view geometry, std::string_view coords,
            std::string_view location_json, std::string_view input) {
  (void)ParseGeoQuery(georel, geometry, coords, GeoErrorStyle::kSubscription);
  auto q = ParseGeoQuery(georel, geometry, coords);
  const std::vector<Geometry> locations = Locations(location_json);
  if (!q) return;
  const std::optional<LatLonBox> bounds = SearchBounds(*q);
  for (const Geometry& loc : locations) {
    const bool match = Matches(*q, loc);
    (void)DistanceMetres(*q, loc);
    if (match && bounds && !BoxesOverlap(*bounds, BoundsOf(loc), 1e-7)) {
      Fail("geo: a matching location lies outside SearchBounds(query)", input);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::array<std::string_view, 7> parts{};
  std::string_view rest = input;
  for (size_t i = 0; i < parts.size() && !rest.empty(); ++i) {
    const size_t nl = i + 1 < parts.size() ? rest.find('\n') : std::string_view::npos;
    parts[i] = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }
  RunQueryLanguage(parts[0], parts[1]);
  RunOrderBy(parts[2]);
  RunGeo(parts[3], parts[4], parts[5], parts[6], input);
  return 0;
}
