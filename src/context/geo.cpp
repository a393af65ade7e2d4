// Locations and geo-queries (contracts in geo.h).
//
// Design. Everything is parsed and validated once into Boost.Geometry values on a sphere;
// matching then dispatches on the (location, query shape) pair with std::visit and calls
// Boost's spherical algorithms: covered_by, intersects, equals, and distance with the
// haversine (point to point) or cross-track (point to line or area) strategy. Parsing
// checks ranges, ring closure and then Boost's is_valid after correct() (orientation), so
// the relational algorithms never see the degenerate input on which they could throw; a
// boost::geometry::exception that still escapes is caught at the one dispatch point and
// read as "no match", never passed on.
//
// Error messages are Orion's where Orion has one (its Scope::fill, Georel::parse,
// Geometry::parse and location.cpp), so that clients that compare them keep working.
#include "context/geo.h"

#include <boost/geometry.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "common/ascii.h"

namespace zc::context {
namespace {

namespace bg = boost::geometry;
using GeoRing = GeoPolygon::ring_type;
using GeoEnvelope = bg::model::box<GeoPoint>;

constexpr std::string_view kNeedsStrings =
    "geo:line, geo:box and geo:polygon needs array of strings as value";
constexpr std::string_view kCoordFormat = "geo coordinates format error [see Orion user manual]: ";
constexpr std::string_view kCoordRange =
    "geo coordinates out of range (latitude must be within [-90, 90] and longitude within "
    "[-180, 180]): ";
constexpr std::string_view kPartial =
    "partial geo expression: geometry, georel and coords have to be provided together";

// ---- Text ------------------------------------------------------------------------------

// Orion's stringSplit: leading separators are skipped, empty items are kept.
std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = std::min(s.find_first_not_of(sep), s.size());
  while (true) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

// A finite decimal number, surrounding blanks allowed (as strtod-based str2double).
std::optional<double> ParseNumber(std::string_view s) {
  s = TrimOws(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

bool InRange(double lat, double lon) {
  return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180;
}

enum class CoordError : uint8_t { kFormat, kRange };

// "lat, lon" (the geo:point form and one point of the `coords` parameter).
std::expected<GeoPoint, CoordError> ParseLatLon(std::string_view text) {
  const auto parts = Split(text, ',');
  if (parts.size() != 2) return std::unexpected(CoordError::kFormat);
  const auto lat = ParseNumber(parts[0]);
  const auto lon = ParseNumber(parts[1]);
  if (!lat || !lon) return std::unexpected(CoordError::kFormat);
  if (!InRange(*lat, *lon)) return std::unexpected(CoordError::kRange);
  return GeoPoint(*lon, *lat);
}

Error CoordFailure(CoordError e, std::string_view text) {
  const std::string_view head = e == CoordError::kFormat ? kCoordFormat : kCoordRange;
  return Error::BadRequest(std::string(head) + std::string(text));
}

// ---- Validation --------------------------------------------------------------------------

// Orients rings (a polygon is the smaller region its rings bound) and checks validity.
template <typename G>
Status Validate(G& g, std::string_view what) {
  std::string reason;
  try {
    bg::correct(g);
    if (bg::is_valid(g, reason)) return Ok();
  } catch (const bg::exception& e) {
    reason = e.what();
  }
  return Fail(Error::BadRequest(std::string(what) + " is invalid: " + reason));
}

// A ring from vertices; REQUIRES: at least 4, closed (checked by the callers' own messages).
GeoRing RingOf(const std::vector<GeoPoint>& points) {
  return GeoRing(points.begin(), points.end());
}

bool SameVertex(const GeoPoint& a, const GeoPoint& b) {
  return bg::get<0>(a) == bg::get<0>(b) && bg::get<1>(a) == bg::get<1>(b);
}

// The polygon through the corners of a lat/lon box, in Orion's vertex order.
std::optional<GeoPolygon> BoxPolygon(const GeoPoint& a, const GeoPoint& b) {
  const double min_lon = std::min(bg::get<0>(a), bg::get<0>(b));
  const double max_lon = std::max(bg::get<0>(a), bg::get<0>(b));
  const double min_lat = std::min(bg::get<1>(a), bg::get<1>(b));
  const double max_lat = std::max(bg::get<1>(a), bg::get<1>(b));
  if (min_lon == max_lon || min_lat == max_lat) return std::nullopt;
  GeoPolygon p;
  p.outer() = {GeoPoint(min_lon, min_lat), GeoPoint(min_lon, max_lat), GeoPoint(max_lon, max_lat),
               GeoPoint(max_lon, min_lat), GeoPoint(min_lon, min_lat)};
  return p;
}

// ---- GeoJSON ------------------------------------------------------------------------------

Result<GeoPoint> PositionFromJson(const bj::value& v) {
  const bj::array* a = v.if_array();
  if (a == nullptr || a->size() < 2 || a->size() > 3) {
    return Fail(Error::BadRequest(
        "geo:json position must be an array of 2 or 3 numbers [longitude, latitude]"));
  }
  double c[2] = {0, 0};
  for (size_t i = 0; i < 2; ++i) {
    boost::system::error_code ec;
    c[i] = (*a)[i].to_number<double>(ec);
    if (ec || !(*a)[i].is_number() || !std::isfinite(c[i])) {
      return Fail(Error::BadRequest("geo:json coordinates must be numbers"));
    }
  }
  if (!InRange(c[1], c[0])) {
    return Fail(Error::BadRequest(
        "geo:json coordinates out of range (longitude must be within [-180, 180] and "
        "latitude within [-90, 90])"));
  }
  return GeoPoint(c[0], c[1]);
}

// An array of at least `min` positions.
Result<std::vector<GeoPoint>> PositionsFromJson(const bj::value& v, size_t min,
                                                std::string_view what) {
  const bj::array* a = v.if_array();
  if (a == nullptr || a->size() < min) {
    return Fail(Error::BadRequest(std::string(what) + " needs an array of at least " +
                                  std::to_string(min) + " positions"));
  }
  std::vector<GeoPoint> out;
  out.reserve(a->size());
  for (const bj::value& p : *a) {
    auto point = PositionFromJson(p);
    if (!point) return Fail(std::move(point.error()));
    out.push_back(*point);
  }
  return out;
}

Result<GeoLine> LineFromJson(const bj::value& v) {
  auto points = PositionsFromJson(v, 2, "geo:json LineString");
  if (!points) return Fail(std::move(points.error()));
  return GeoLine(points->begin(), points->end());
}

Result<GeoPolygon> PolygonFromJson(const bj::value& v) {
  const bj::array* rings = v.if_array();
  if (rings == nullptr || rings->empty()) {
    return Fail(Error::BadRequest("geo:json Polygon needs an array of linear rings"));
  }
  GeoPolygon polygon;
  for (size_t i = 0; i < rings->size(); ++i) {
    auto points = PositionsFromJson((*rings)[i], 4, "geo:json Polygon ring");
    if (!points) return Fail(std::move(points.error()));
    if (!SameVertex(points->front(), points->back())) {
      return Fail(Error::BadRequest(
          "geo:json Polygon ring is not closed (its first and last positions differ)"));
    }
    if (i == 0) {
      polygon.outer() = RingOf(*points);
    } else {
      polygon.inners().push_back(RingOf(*points));
    }
  }
  return polygon;
}

// Parses each element of an array with `parse` into a multi-geometry.
template <typename Multi, typename Parse>
Result<Multi> MultiFromJson(const bj::value& v, Parse parse, std::string_view what) {
  const bj::array* a = v.if_array();
  if (a == nullptr || a->empty()) {
    return Fail(Error::BadRequest(std::string(what) + " needs a non-empty array"));
  }
  Multi multi;
  for (const bj::value& item : *a) {
    auto part = parse(item);
    if (!part) return Fail(std::move(part.error()));
    multi.push_back(std::move(*part));
  }
  return multi;
}

template <typename G>
Result<Geometry> Checked(Result<G> g, std::string_view what) {
  if (!g) return Fail(std::move(g.error()));
  if (auto ok = Validate(*g, what); !ok) return Fail(std::move(ok.error()));
  return Geometry(std::move(*g));
}

// One of the six GeoJSON geometry types, from its `type` and `coordinates`.
Result<Geometry> GeometryFromJson(std::string_view type, const bj::value& c) {
  if (type == "Point") {
    auto p = PositionFromJson(c);
    if (!p) return Fail(std::move(p.error()));
    return Geometry(*p);
  }
  if (type == "MultiPoint") {
    auto points = PositionsFromJson(c, 1, "geo:json MultiPoint");
    if (!points) return Fail(std::move(points.error()));
    return Geometry(GeoMultiPoint(points->begin(), points->end()));
  }
  if (type == "LineString") return Checked(LineFromJson(c), "geo:json LineString");
  if (type == "MultiLineString") {
    return Checked(MultiFromJson<GeoMultiLine>(c, LineFromJson, "geo:json MultiLineString"),
                   "geo:json MultiLineString");
  }
  if (type == "Polygon") return Checked(PolygonFromJson(c), "geo:json Polygon");
  if (type == "MultiPolygon") {
    return Checked(MultiFromJson<GeoMultiPolygon>(c, PolygonFromJson, "geo:json MultiPolygon"),
                   "geo:json MultiPolygon");
  }
  return Fail(Error::BadRequest("geo:json has an unknown GeoJSON type: " + std::string(type)));
}

// A GeoJSON object: a geometry, a Feature, or a FeatureCollection of one Feature.
Result<Geometry> GeoJsonObject(const bj::object& o, bool feature_allowed) {
  const bj::value* type = o.if_contains("type");
  if (type == nullptr || !type->is_string()) {
    return Fail(Error::BadRequest("geo:json needs a string field 'type'"));
  }
  const std::string_view t = type->get_string();
  if (feature_allowed && t == "Feature") {
    const bj::value* g = o.if_contains("geometry");
    if (g == nullptr || !g->is_object()) {
      return Fail(Error::BadRequest("geo:json Feature needs an object field 'geometry'"));
    }
    return GeoJsonObject(g->get_object(), false);
  }
  if (feature_allowed && t == "FeatureCollection") {
    const bj::value* f = o.if_contains("features");
    if (f == nullptr || !f->is_array() || f->get_array().size() != 1 ||
        !f->get_array()[0].is_object()) {
      return Fail(Error::BadRequest("geo:json FeatureCollection must hold exactly one Feature"));
    }
    const bj::object& feature = f->get_array()[0].get_object();
    const bj::value* ft = feature.if_contains("type");
    if (ft == nullptr || !ft->is_string() || ft->get_string() != "Feature") {
      return Fail(Error::BadRequest("geo:json FeatureCollection must hold exactly one Feature"));
    }
    return GeoJsonObject(feature, true);
  }
  if (t == "GeometryCollection") {
    return Fail(Error::BadRequest("geo:json GeometryCollection is not supported"));
  }
  const bj::value* coordinates = o.if_contains("coordinates");
  if (coordinates == nullptr) {
    return Fail(Error::BadRequest("geo:json needs a field 'coordinates'"));
  }
  return GeometryFromJson(t, *coordinates);
}

// ---- Legacy geo:line, geo:box, geo:polygon --------------------------------------------------

Result<std::vector<GeoPoint>> LegacyPoints(const bj::value& v) {
  const bj::array* a = v.if_array();
  if (a == nullptr) return Fail(Error::BadRequest(std::string(kNeedsStrings)));
  std::vector<GeoPoint> out;
  for (const bj::value& item : *a) {
    if (!item.is_string()) {
      return Fail(Error::BadRequest(
          "geo:line, geo:box and geo:polygon needs array of strings but some element is not a "
          "string"));
    }
    const std::string_view text = item.get_string();
    auto p = ParseLatLon(text);
    if (!p) return Fail(CoordFailure(p.error(), text));
    out.push_back(*p);
  }
  return out;
}

Result<Geometry> LegacyLocation(std::string_view type, const bj::value& value) {
  auto points = LegacyPoints(value);
  if (!points) return Fail(std::move(points.error()));
  if (type == kTypeGeoLine) {
    if (points->size() < 2) return Fail(Error::BadRequest("geo:line uses at least 2 coordinates"));
    return Checked(Result<GeoLine>(GeoLine(points->begin(), points->end())), "geo:line");
  }
  if (type == kTypeGeoBox) {
    if (points->size() != 2) return Fail(Error::BadRequest("geo:box uses exactly 2 coordinates"));
    auto box = BoxPolygon((*points)[0], (*points)[1]);
    if (!box) {
      return Fail(Error::BadRequest("geo:box coordinates are not defining an actual box"));
    }
    return Checked(Result<GeoPolygon>(std::move(*box)), "geo:box");
  }
  if (points->size() < 4) return Fail(Error::BadRequest("geo:polygon uses at least 4 coordinates"));
  if (!SameVertex(points->front(), points->back())) {
    return Fail(Error::BadRequest("geo:polygon first and last coordinates must match"));
  }
  GeoPolygon polygon;
  polygon.outer() = RingOf(*points);
  return Checked(Result<GeoPolygon>(std::move(polygon)), "geo:polygon");
}

bool IgnoredType(const Attribute& attr) {
  const Metadata* md = FindNamed(attr.metadata, "ignoreType");
  return md != nullptr && md->value.is_bool() && md->value.get_bool();
}

bool CountsAsLocation(const Attribute& attr) {
  return IsGeoType(attr.type) && !attr.value.is_null() && !IgnoredType(attr);
}

}  // namespace

bool IsGeoType(std::string_view t) {
  return t == kTypeGeoPoint || t == kTypeGeoJson || t == kTypeGeoLine || t == kTypeGeoBox ||
         t == kTypeGeoPolygon;
}

Result<Geometry> LocationFromAttribute(const Attribute& attr) {
  if (attr.type == kTypeGeoPoint) {
    const std::string_view text =
        attr.value.is_string() ? std::string_view(attr.value.get_string()) : std::string_view();
    auto p = ParseLatLon(text);
    if (!p) return Fail(CoordFailure(p.error(), text));
    return Geometry(*p);
  }
  if (attr.type == kTypeGeoJson) {
    if (!attr.value.is_object()) {
      return Fail(Error::BadRequest("geo:json needs an object as value"));
    }
    return GeoJsonObject(attr.value.get_object(), true);
  }
  if (attr.type == kTypeGeoLine || attr.type == kTypeGeoBox || attr.type == kTypeGeoPolygon) {
    return LegacyLocation(attr.type, attr.value);
  }
  return Fail(Error::BadRequest("attribute type " + attr.type + " is not a geo location type"));
}

const std::pair<std::string, Attribute>* FindLocationAttribute(const Entity& entity) {
  for (const auto& named : entity.attrs) {
    if (CountsAsLocation(named.second)) return &named;
  }
  return nullptr;
}

Result<std::optional<Geometry>> EntityLocation(const Entity& entity) {
  const auto* found = FindLocationAttribute(entity);
  if (found == nullptr) return std::optional<Geometry>();
  const size_t count = std::ranges::count_if(
      entity.attrs, [](const auto& named) { return CountsAsLocation(named.second); });
  if (count > 1) return Fail(Error::NoResources(std::string(kTooManyLocationsMessage)));
  auto location = LocationFromAttribute(found->second);
  if (!location) {
    return Fail(Error::BadRequest("error parsing location attribute " + found->first + ": " +
                                  location.error().message));
  }
  return std::optional<Geometry>(std::move(*location));
}

// ---- Geo-query parameters ---------------------------------------------------------------------

namespace {

// The missing-parameter checks, before anything is parsed (Orion's getEntities and
// parseExpression). Returns the message, or nullopt when all three are present.
std::optional<std::string> MissingParam(std::string_view georel, std::string_view geometry,
                                        std::string_view coords, GeoErrorStyle style) {
  if (!georel.empty() && !geometry.empty() && !coords.empty()) return std::nullopt;
  if (style == GeoErrorStyle::kSubscription) return std::string(kPartial);
  if (georel.empty() && geometry.empty() && coords.empty()) return std::string(kPartial);
  if (!coords.empty() && geometry.empty()) {
    return "Invalid query: URI param /coords/ used without /geometry/";
  }
  if (!geometry.empty() && coords.empty()) {
    return "Invalid query: URI param /geometry/ used without /coords/";
  }
  if (!georel.empty() && geometry.empty()) {
    return "Invalid query: URI param /georel/ used without /geometry/";
  }
  return "Invalid query: URI param /geometry/ used without /georel/";
}

Result<GeoShapeKind> ParseGeometryParam(std::string_view text) {
  std::optional<GeoShapeKind> kind;
  for (std::string_view item : Split(text, ';')) {
    std::optional<GeoShapeKind> k;
    if (item == "point") k = GeoShapeKind::kPoint;
    if (item == "line") k = GeoShapeKind::kLine;
    if (item == "polygon") k = GeoShapeKind::kPolygon;
    if (item == "box") k = GeoShapeKind::kBox;
    if (!k) {
      return Fail(
          Error::BadRequest("error parsing geometry: Invalid selector in geometry specification"));
    }
    if (kind) {
      return Fail(
          Error::BadRequest("error parsing geometry: geometry-type present more than once"));
    }
    kind = k;
  }
  return *kind;
}

// One `maxDistance:N` / `minDistance:N` modifier.
Status ParseDistance(std::string_view item, std::string_view name, std::optional<double>& out) {
  if (out) return Fail(Error::BadRequest(std::string(name) + " present more than once"));
  const auto v = ParseNumber(item.substr(name.size() + 1));
  if (!v || *v < 0) return Fail(Error::BadRequest("invalid number for " + std::string(name)));
  out = *v;
  return Ok();
}

Status ParseGeorelParam(std::string_view text, GeoQuery& q) {
  std::optional<GeoRel> rel;
  static constexpr std::pair<std::string_view, GeoRel> kRels[] = {
      {"near", GeoRel::kNear},
      {"coveredBy", GeoRel::kCoveredBy},
      {"intersects", GeoRel::kIntersects},
      {"equals", GeoRel::kEquals},
      {"disjoint", GeoRel::kDisjoint}};
  for (std::string_view item : Split(text, ';')) {
    const auto* r = std::ranges::find(kRels, item, &std::pair<std::string_view, GeoRel>::first);
    Status s = Ok();
    if (r != std::end(kRels)) {
      if (rel) return Fail(Error::BadRequest("georel type present more than once"));
      rel = r->second;
    } else if (item.starts_with("maxDistance:")) {
      s = ParseDistance(item, "maxDistance", q.max_distance);
    } else if (item.starts_with("minDistance:")) {
      s = ParseDistance(item, "minDistance", q.min_distance);
    } else {
      return Fail(Error::BadRequest("Invalid modifier in georel parameter"));
    }
    if (!s) return s;
  }
  const std::string_view name =
      rel ? std::ranges::find(kRels, *rel, &std::pair<std::string_view, GeoRel>::second)->first
          : std::string_view();
  for (const auto& [d, dname] : {std::pair{q.max_distance.has_value(), "maxDistance"},
                                 std::pair{q.min_distance.has_value(), "minDistance"}}) {
    if (d && rel != GeoRel::kNear) {
      return Fail(Error::BadRequest(std::string(dname) + " erroneously used with georel /" +
                                    std::string(name) + "/"));
    }
  }
  if (!rel) return Fail(Error::BadRequest("empty georel"));
  if (*rel == GeoRel::kNear && !q.max_distance && !q.min_distance) {
    return Fail(Error::BadRequest("georel /near/ without either minDistance nor maxDistance"));
  }
  q.rel = *rel;
  return Ok();
}

// Orion's checks of georel against geometry.
Status CheckCombination(const GeoQuery& q) {
  if (q.rel == GeoRel::kCoveredBy && q.kind == GeoShapeKind::kLine) {
    return Fail(Error::BadRequest("line geometry cannot be used with coveredBy georel"));
  }
  if (q.rel == GeoRel::kCoveredBy && q.kind == GeoShapeKind::kPoint) {
    return Fail(Error::BadRequest("point geometry cannot be used with coveredBy georel"));
  }
  if (q.rel == GeoRel::kNear && q.kind != GeoShapeKind::kPoint) {
    return Fail(Error::BadRequest("georel /near/ used with geometry different than point"));
  }
  return Ok();
}

Result<std::vector<GeoPoint>> ParseCoordsParam(std::string_view text) {
  std::vector<GeoPoint> points;
  for (std::string_view item : Split(text, ';')) {
    const auto parts = Split(item, ',');
    if (parts.size() != 2) {
      return Fail(Error::BadRequest("invalid point in URI param /coords/"));
    }
    const auto lat = ParseNumber(parts[0]);
    const auto lon = ParseNumber(parts[1]);
    if (!lat || !lon) return Fail(Error::BadRequest("invalid coordinates"));
    if (!InRange(*lat, *lon)) {
      return Fail(Error::BadRequest(
          "invalid coordinates: latitude must be within [-90, 90] and longitude within "
          "[-180, 180]"));
    }
    points.emplace_back(*lon, *lat);
  }
  return points;
}

Result<Geometry> BuildShape(GeoShapeKind kind, const std::vector<GeoPoint>& points) {
  switch (kind) {
    case GeoShapeKind::kPoint:
      if (points.size() != 1) {
        return Fail(Error::BadRequest("invalid number of coordinates for /point/"));
      }
      return Geometry(points[0]);
    case GeoShapeKind::kLine:
      if (points.size() < 2) {
        return Fail(Error::BadRequest("invalid number of coordinates for /line/"));
      }
      return Checked(Result<GeoLine>(GeoLine(points.begin(), points.end())), "line");
    case GeoShapeKind::kBox: {
      if (points.size() != 2) {
        return Fail(Error::BadRequest("invalid number of coordinates for /box/"));
      }
      auto box = BoxPolygon(points[0], points[1]);
      if (!box) return Fail(Error::BadRequest("box coordinates are not defining an actual box"));
      return Checked(Result<GeoPolygon>(std::move(*box)), "box");
    }
    case GeoShapeKind::kPolygon:
      break;
  }
  if (points.size() < 4) return Fail(Error::BadRequest("Too few coordinates for polygon"));
  if (!SameVertex(points.front(), points.back())) {
    return Fail(Error::BadRequest("First and last point in polygon not the same"));
  }
  GeoPolygon polygon;
  polygon.outer() = RingOf(points);
  return Checked(Result<GeoPolygon>(std::move(polygon)), "polygon");
}

Result<GeoQuery> ParseGeoQueryParts(std::string_view georel, std::string_view geometry,
                                    std::string_view coords) {
  GeoQuery q;
  auto kind = ParseGeometryParam(geometry);
  if (!kind) return Fail(std::move(kind.error()));
  q.kind = *kind;
  if (auto s = ParseGeorelParam(georel, q); !s) return Fail(std::move(s.error()));
  if (auto s = CheckCombination(q); !s) return Fail(std::move(s.error()));
  auto points = ParseCoordsParam(coords);
  if (!points) return Fail(std::move(points.error()));
  auto shape = BuildShape(q.kind, *points);
  if (!shape) return Fail(std::move(shape.error()));
  q.shape = std::move(*shape);
  return q;
}

}  // namespace

Result<GeoQuery> ParseGeoQuery(std::string_view georel, std::string_view geometry,
                               std::string_view coords, GeoErrorStyle style) {
  if (auto missing = MissingParam(georel, geometry, coords, style)) {
    return Fail(Error::BadRequest(std::move(*missing)));
  }
  auto q = ParseGeoQueryParts(georel, geometry, coords);
  if (!q) {
    const std::string_view prefix =
        style == GeoErrorStyle::kUriParams ? "Invalid query: " : "error parsing geo-query fields: ";
    return Fail(Error::BadRequest(std::string(prefix) + q.error().message));
  }
  return q;
}

// ---- Matching -------------------------------------------------------------------------------

namespace {

// The point distances are measured from.
GeoPoint Origin(const Geometry& shape) {
  if (const auto* p = std::get_if<GeoPoint>(&shape)) return *p;
  if (const auto* l = std::get_if<GeoLine>(&shape)) return l->front();
  if (const auto* a = std::get_if<GeoPolygon>(&shape)) return a->outer().front();
  return GeoPoint(0, 0);
}

// Great-circle distance by the haversine formula: the hot path of near queries over points,
// several times faster than going through Boost's strategy (no normalization).
double HaversineMetres(const GeoPoint& a, const GeoPoint& b) {
  constexpr double kRadians = std::numbers::pi / 180;
  const double lat1 = bg::get<1>(a) * kRadians;
  const double lat2 = bg::get<1>(b) * kRadians;
  const double sin_dlat = std::sin((lat2 - lat1) / 2);
  const double sin_dlon = std::sin((bg::get<0>(b) - bg::get<0>(a)) * kRadians / 2);
  const double h = sin_dlat * sin_dlat + std::cos(lat1) * std::cos(lat2) * sin_dlon * sin_dlon;
  return 2 * kEarthRadiusMetres * std::asin(std::min(1.0, std::sqrt(h)));
}

double Distance(const GeoPoint& from, const Geometry& location) {
  if (const auto* p = std::get_if<GeoPoint>(&location)) return HaversineMetres(from, *p);
  const bg::strategy::distance::cross_track<double> cross_track(kEarthRadiusMetres);
  return std::visit([&](const auto& g) { return bg::distance(from, g, cross_track); }, location);
}

bool Intersects(const Geometry& location, const Geometry& shape) {
  return std::visit(
      [&](const auto& loc) {
        if (const auto* p = std::get_if<GeoPoint>(&shape)) return bg::intersects(loc, *p);
        if (const auto* l = std::get_if<GeoLine>(&shape)) return bg::intersects(loc, *l);
        if (const auto* a = std::get_if<GeoPolygon>(&shape)) return bg::intersects(loc, *a);
        return false;
      },
      location);
}

bool CoveredBy(const Geometry& location, const Geometry& shape) {
  const auto* area = std::get_if<GeoPolygon>(&shape);
  if (area == nullptr) return false;  // Parse allows coveredBy with polygon and box only.
  return std::visit([&](const auto& loc) { return bg::covered_by(loc, *area); }, location);
}

// Same point set; only geometries of the query shape's dimension can be equal.
bool Equals(const Geometry& location, const Geometry& shape) {
  if (const auto* p = std::get_if<GeoPoint>(&shape)) {
    if (const auto* lp = std::get_if<GeoPoint>(&location)) return bg::equals(*lp, *p);
    if (const auto* mp = std::get_if<GeoMultiPoint>(&location)) {
      return std::ranges::all_of(*mp, [&](const GeoPoint& x) { return bg::equals(x, *p); });
    }
    return false;
  }
  if (const auto* l = std::get_if<GeoLine>(&shape)) {
    if (const auto* ll = std::get_if<GeoLine>(&location)) return bg::equals(*ll, *l);
    if (const auto* ml = std::get_if<GeoMultiLine>(&location)) return bg::equals(*ml, *l);
    return false;
  }
  if (const auto* a = std::get_if<GeoPolygon>(&shape)) {
    if (const auto* la = std::get_if<GeoPolygon>(&location)) return bg::equals(*la, *a);
    if (const auto* ma = std::get_if<GeoMultiPolygon>(&location)) return bg::equals(*ma, *a);
  }
  return false;
}

bool Near(const GeoQuery& q, const Geometry& location) {
  const double d = Distance(Origin(q.shape), location);
  return (!q.max_distance || d <= *q.max_distance) && (!q.min_distance || d >= *q.min_distance);
}

}  // namespace

bool Matches(const GeoQuery& query, const Geometry& location) {
  try {
    switch (query.rel) {
      case GeoRel::kNear:
        return Near(query, location);
      case GeoRel::kCoveredBy:
        return CoveredBy(location, query.shape);
      case GeoRel::kIntersects:
        return Intersects(location, query.shape);
      case GeoRel::kEquals:
        return Equals(location, query.shape);
      case GeoRel::kDisjoint:
        return !Intersects(location, query.shape);
    }
  } catch (const bg::exception&) {
    // Validated input should never get here; an undecidable case is not a match.
  }
  return false;
}

double DistanceMetres(const GeoQuery& query, const Geometry& location) {
  try {
    return Distance(Origin(query.shape), location);
  } catch (const bg::exception&) {
    return std::numeric_limits<double>::infinity();
  }
}

// ---- Bounds -------------------------------------------------------------------------------

namespace {

constexpr double kMarginDegrees = 1e-9;  // well above rounding, well below a millimetre

bool FullLongitude(const LatLonBox& b) {
  return b.min_lon <= -180 && b.max_lon >= 180;
}

// Sets the longitudes from a start (any value) and a width in degrees.
LatLonBox WithLongitudes(LatLonBox b, double start, double width) {
  if (width >= 360) {
    b.min_lon = -180;
    b.max_lon = 180;
    return b;
  }
  start = std::fmod(start + 180, 360.0);
  if (start < 0) start += 360;
  b.min_lon = start - 180;
  b.max_lon = b.min_lon + width;
  if (b.max_lon > 180) b.max_lon -= 360;
  return b;
}

LatLonBox Expand(LatLonBox b, double m) {
  b.min_lat = std::max(-90.0, b.min_lat - m);
  b.max_lat = std::min(90.0, b.max_lat + m);
  if (FullLongitude(b)) return b;
  double width = b.max_lon - b.min_lon;
  if (width < 0) width += 360;
  return WithLongitudes(b, b.min_lon - m, width + 2 * m);
}

bool ContainsPole(const Geometry& g, double lat) {
  const GeoPoint pole(0, lat);
  if (const auto* a = std::get_if<GeoPolygon>(&g)) return bg::covered_by(pole, *a);
  if (const auto* m = std::get_if<GeoMultiPolygon>(&g)) return bg::covered_by(pole, *m);
  return false;
}

LatLonBox EnvelopeOf(const Geometry& g) {
  GeoEnvelope e;
  std::visit([&](const auto& x) { bg::envelope(x, e); }, g);
  LatLonBox b;
  b.min_lat = bg::get<bg::min_corner, 1>(e);
  b.max_lat = bg::get<bg::max_corner, 1>(e);
  const double min_lon = bg::get<bg::min_corner, 0>(e);
  return WithLongitudes(b, min_lon, bg::get<bg::max_corner, 0>(e) - min_lon);
}

}  // namespace

LatLonBox BoundsOf(const Geometry& g) {
  if (const auto* p = std::get_if<GeoPoint>(&g)) {
    const double lat = bg::get<1>(*p);
    return WithLongitudes({lat, lat, 0, 0}, bg::get<0>(*p), 0);
  }
  LatLonBox b;
  try {
    b = EnvelopeOf(g);
    const bool north = ContainsPole(g, 90);
    const bool south = ContainsPole(g, -90);
    if (north) b.max_lat = 90;
    if (south) b.min_lat = -90;
    if (north || south) b = WithLongitudes(b, -180, 360);
  } catch (const bg::exception&) {
    b = WithLongitudes({-90, 90, 0, 0}, -180, 360);  // unknown: the whole sphere
  }
  return b;
}

std::optional<LatLonBox> SearchBounds(const GeoQuery& q) {
  if (q.rel == GeoRel::kDisjoint) return std::nullopt;
  if (q.rel != GeoRel::kNear) return Expand(BoundsOf(q.shape), kMarginDegrees);
  if (!q.max_distance) return std::nullopt;
  const GeoPoint o = Origin(q.shape);
  const double lat = bg::get<1>(o);
  const double angle = *q.max_distance / kEarthRadiusMetres;  // radians of arc
  const double dlat = angle * 180 / std::numbers::pi;
  LatLonBox b{lat - dlat, lat + dlat, 0, 0};
  if (angle >= std::numbers::pi / 2 || b.min_lat <= -90 || b.max_lat >= 90) {
    // The circle holds a pole (or is huge): every longitude.
    return Expand(WithLongitudes(b, -180, 360), kMarginDegrees);
  }
  // Widest longitude of a spherical cap that holds no pole.
  const double s = std::min(1.0, std::sin(angle) / std::cos(lat * std::numbers::pi / 180));
  const double dlon = std::asin(s) * 180 / std::numbers::pi;
  return Expand(WithLongitudes(b, bg::get<0>(o) - dlon, 2 * dlon), kMarginDegrees);
}

}  // namespace zc::context
