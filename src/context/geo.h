// Geography of context data (NGSI-v2 "Geospatial properties of entities" and "Geographical
// Queries"): the location of an entity, the geo-query of GET /v2/entities and subscriptions
// (`georel`, `geometry`, `coords`), and the test of a location against a query.
//
// Model. Locations and query shapes are Boost.Geometry values on a sphere
// (spherical_equatorial, degrees): coordinates are (longitude, latitude) as in GeoJSON, and
// the edges of lines and polygons are great-circle arcs, as in MongoDB's 2dsphere index
// that Orion queries. Distances are metres on a sphere of radius kEarthRadiusMetres.
//
// Limits (documented, tested where it matters):
// - A polygon is the smaller of the two regions its rings bound (MongoDB's rule too), so a
//   polygon larger than a hemisphere cannot be expressed.
// - `geometry=box` is a polygon through its four corners (as Orion builds it), so its
//   east-west edges are great circles, not parallels: over a few kilometres the difference
//   is under a metre; over hundreds of kilometres it bulges poleward.
// - The antimeridian and the poles need no special input: rings may cross longitude 180.
// - Altitude (a third GeoJSON coordinate) is accepted and ignored.
#pragma once

#include <boost/geometry/core/cs.hpp>
#include <boost/geometry/geometries/linestring.hpp>
#include <boost/geometry/geometries/multi_linestring.hpp>
#include <boost/geometry/geometries/multi_point.hpp>
#include <boost/geometry/geometries/multi_polygon.hpp>
#include <boost/geometry/geometries/point.hpp>
#include <boost/geometry/geometries/polygon.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/result.h"
#include "context/entity.h"

namespace zc::context {

namespace bgm = boost::geometry::model;
using GeoCs = boost::geometry::cs::spherical_equatorial<boost::geometry::degree>;

// get<0>() is the longitude, get<1>() the latitude, both in degrees.
using GeoPoint = bgm::point<double, 2, GeoCs>;
using GeoMultiPoint = bgm::multi_point<GeoPoint>;
using GeoLine = bgm::linestring<GeoPoint>;
using GeoMultiLine = bgm::multi_linestring<GeoLine>;
using GeoPolygon = bgm::polygon<GeoPoint>;  // closed rings, outer ring clockwise (corrected)
using GeoMultiPolygon = bgm::multi_polygon<GeoPolygon>;

// A validated location or query shape: ranges checked, rings closed and oriented, polygons
// valid (Boost.Geometry's is_valid), so the relational algorithms get sound input.
using Geometry =
    std::variant<GeoPoint, GeoMultiPoint, GeoLine, GeoMultiLine, GeoPolygon, GeoMultiPolygon>;

inline constexpr double kEarthRadiusMetres = 6371008.8;  // IUGG mean radius

// Legacy NGSI-v2 geo types; kTypeGeoPoint and kTypeGeoJson are in entity.h.
inline constexpr std::string_view kTypeGeoLine = "geo:line";
inline constexpr std::string_view kTypeGeoBox = "geo:box";
inline constexpr std::string_view kTypeGeoPolygon = "geo:polygon";

// Orion's text for a second location attribute (HTTP 413, NGSI error NoResourcesAvailable).
inline constexpr std::string_view kTooManyLocationsMessage =
    "You cannot use more than one geo location attribute when creating an entity [see Orion "
    "user manual]";

// True for geo:point, geo:line, geo:box, geo:polygon and geo:json.
bool IsGeoType(std::string_view attribute_type);

// The geometry of a geo-typed attribute:
// - geo:point: the string "lat, lon";
// - geo:line / geo:box / geo:polygon: an array of "lat, lon" strings (line: at least 2;
//   box: exactly 2 opposite corners, becomes a polygon; polygon: at least 4, closed);
// - geo:json: a GeoJSON Point, MultiPoint, LineString, MultiLineString, Polygon or
//   MultiPolygon, or a Feature (its geometry) or a FeatureCollection of exactly one Feature.
// Errors: BadRequest with a message for the client (Orion's wording where Orion has one),
// e.g. an out-of-range latitude, an unclosed ring, a GeometryCollection, a non-geo type.
Result<Geometry> LocationFromAttribute(const Attribute& attr);

// The entity's location attribute, as Orion chooses it: the first attribute with a geo type,
// a non-null value and no metadata `ignoreType` = true. nullptr when there is none. (Orion
// has no `defaultLocation` metadata; NGSI-v2 allows one location per entity, and
// `ignoreType` marks extra, informative geo attributes.)
const std::pair<std::string, Attribute>* FindLocationAttribute(const Entity& entity);

// The entity's location, validated: nullopt when the entity has no location attribute.
// Errors: NoResources with kTooManyLocationsMessage when more than one attribute counts
// as a location (api/ maps it to 413 NoResourcesAvailable); BadRequest when the location
// attribute is malformed (the message is prefixed with the attribute name).
Result<std::optional<Geometry>> EntityLocation(const Entity& entity);

// ---- Geo-queries ---------------------------------------------------------------------------

enum class GeoRel : uint8_t { kNear, kCoveredBy, kIntersects, kEquals, kDisjoint };
enum class GeoShapeKind : uint8_t { kPoint, kLine, kPolygon, kBox };

struct GeoQuery {
  GeoRel rel = GeoRel::kIntersects;
  GeoShapeKind kind = GeoShapeKind::kPoint;  // the `geometry` parameter as given
  Geometry shape = GeoPoint(0, 0);           // GeoPoint, GeoLine or GeoPolygon (box: its polygon)
  std::optional<double> max_distance;        // metres, `near` only
  std::optional<double> min_distance;        // metres, `near` only
};

// How errors read: GET /v2/entities ("Invalid query: ...", one message per missing
// parameter) or a subscription's condition expression ("error parsing geo-query fields: ...",
// "partial geo expression: ...").
enum class GeoErrorStyle : uint8_t { kUriParams, kSubscription };

// Parses the three geo-query parameters; all three are required together (pass the empty
// string for a missing one). Rules (NGSI-v2 spec with Orion's checks and messages):
// georel `near;maxDistance:M`, `near;minDistance:M` (both may be given, in any order; near
// only with geometry=point), `coveredBy` (only with polygon or box), `intersects`,
// `equals`, `disjoint`; geometry `point|line|polygon|box`; coords `lat,lon;lat,lon;...`
// (point: 1 point; line: >= 2; polygon: >= 4 and closed; box: 2 opposite corners).
// Errors: BadRequest.
Result<GeoQuery> ParseGeoQuery(std::string_view georel, std::string_view geometry,
                               std::string_view coords,
                               GeoErrorStyle style = GeoErrorStyle::kUriParams);

// Whether `location` satisfies the query:
// - near: min/max distance in metres from the query point to the nearest point of the
//   location (0 inside a polygon); bounds are inclusive;
// - coveredBy: the location lies inside the query polygon (its boundary included);
// - intersects: they share at least one point; disjoint: the opposite;
// - equals: the same point set (same dimension; vertex order does not matter).
bool Matches(const GeoQuery& query, const Geometry& location);

// Metres from the query point of a near query (or the first vertex of another query shape)
// to the nearest point of `location`; for orderBy=geo:distance.
double DistanceMetres(const GeoQuery& query, const Geometry& location);

// A latitude/longitude rectangle in degrees. min_lon > max_lon means that it crosses the
// antimeridian (it spans [min_lon, 180] and [-180, max_lon]).
struct LatLonBox {
  double min_lat = 0;
  double max_lat = 0;
  double min_lon = 0;
  double max_lon = 0;
};

// The smallest rectangle holding the geometry, great-circle bulges and poles included.
LatLonBox BoundsOf(const Geometry& geometry);

// A rectangle holding every location that can match the query, or nullopt when matches
// can lie anywhere (disjoint; near with only minDistance).
std::optional<LatLonBox> SearchBounds(const GeoQuery& query);

}  // namespace zc::context
