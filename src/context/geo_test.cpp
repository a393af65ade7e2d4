// Tests of geo.h: locations from attributes, geo-query parsing (each malformed combination
// with Orion's message), matching of every georel against points, lines and polygons,
// distances checked against an independent great-circle formula, and search bounds.
#include "context/geo.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

namespace zc::context {
namespace {

Attribute Attr(std::string type, std::string_view json) {
  Attribute a;
  a.type = std::move(type);
  a.value = boost::json::parse(json);
  return a;
}

Geometry Loc(std::string type, std::string_view json) {
  auto g = LocationFromAttribute(Attr(std::move(type), json));
  EXPECT_TRUE(g.has_value()) << (g ? "" : g.error().message);
  return g ? *g : Geometry();
}

std::string LocError(std::string type, std::string_view json) {
  auto g = LocationFromAttribute(Attr(std::move(type), json));
  EXPECT_FALSE(g.has_value());
  if (g) return "";
  EXPECT_EQ(g.error().code, ErrorCode::kBadRequest);
  return g.error().message;
}

GeoQuery Query(std::string_view georel, std::string_view geometry, std::string_view coords) {
  auto q = ParseGeoQuery(georel, geometry, coords);
  EXPECT_TRUE(q.has_value()) << (q ? "" : q.error().message);
  return q ? *q : GeoQuery();
}

Geometry Pt(double lat, double lon) {
  return GeoPoint(lon, lat);
}

// Great-circle distance by the Vincenty formula for a sphere (atan2 form): independent of
// the haversine form the code uses.
double SphereMetres(double lat1, double lon1, double lat2, double lon2) {
  const double r = std::numbers::pi / 180;
  const double p1 = lat1 * r, p2 = lat2 * r, dl = (lon2 - lon1) * r;
  const double y =
      std::hypot(std::cos(p2) * std::sin(dl),
                 std::cos(p1) * std::sin(p2) - std::sin(p1) * std::cos(p2) * std::cos(dl));
  const double x = std::sin(p1) * std::sin(p2) + std::cos(p1) * std::cos(p2) * std::cos(dl);
  return 6371008.8 * std::atan2(y, x);
}

// ---- Locations ------------------------------------------------------------------------------

TEST(GeoLocationTest, GeoPointIsLatThenLon) {
  const Geometry g = Loc("geo:point", R"("22.8933, 112.8925")");
  const auto* p = std::get_if<GeoPoint>(&g);
  ASSERT_NE(p, nullptr);
  EXPECT_DOUBLE_EQ(boost::geometry::get<0>(*p), 112.8925);
  EXPECT_DOUBLE_EQ(boost::geometry::get<1>(*p), 22.8933);
}

TEST(GeoLocationTest, GeoPointErrors) {
  EXPECT_EQ(LocError("geo:point", R"("abc")"),
            "geo coordinates format error [see Orion user manual]: abc");
  EXPECT_EQ(LocError("geo:point", R"("1, 2, 3")"),
            "geo coordinates format error [see Orion user manual]: 1, 2, 3");
  EXPECT_NE(LocError("geo:point", R"("95, 10")").find("out of range"), std::string::npos);
  EXPECT_NE(LocError("geo:point", R"("10, -180.5")").find("out of range"), std::string::npos);
  EXPECT_EQ(LocError("geo:point", "12"), "geo coordinates format error [see Orion user manual]: ");
  EXPECT_NE(LocError("Text", R"("1, 2")").find("not a geo location type"), std::string::npos);
}

TEST(GeoLocationTest, GeoJsonGeometryTypes) {
  EXPECT_TRUE(std::holds_alternative<GeoPoint>(
      Loc("geo:json", R"({"type":"Point","coordinates":[112.9,22.9]})")));
  EXPECT_TRUE(std::holds_alternative<GeoPoint>(
      Loc("geo:json", R"({"type":"Point","coordinates":[112.9,22.9,15.5]})")));
  EXPECT_TRUE(std::holds_alternative<GeoMultiPoint>(
      Loc("geo:json", R"({"type":"MultiPoint","coordinates":[[1,2],[3,4]]})")));
  EXPECT_TRUE(std::holds_alternative<GeoLine>(
      Loc("geo:json", R"({"type":"LineString","coordinates":[[1,2],[3,4]]})")));
  EXPECT_TRUE(std::holds_alternative<GeoMultiLine>(Loc(
      "geo:json", R"({"type":"MultiLineString","coordinates":[[[1,2],[3,4]],[[5,6],[7,8]]]})")));
  EXPECT_TRUE(std::holds_alternative<GeoPolygon>(
      Loc("geo:json", R"({"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]})")));
  EXPECT_TRUE(std::holds_alternative<GeoMultiPolygon>(Loc(
      "geo:json",
      R"({"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,5]]]]})")));
}

TEST(GeoLocationTest, GeoJsonPolygonWithHoleAndEitherOrientation) {
  // Outer ring clockwise, hole counter-clockwise: both are accepted and corrected.
  const Geometry g = Loc("geo:json", R"({"type":"Polygon","coordinates":[
      [[0,0],[0,10],[10,10],[10,0],[0,0]], [[4,4],[6,4],[6,6],[4,6],[4,4]]]})");
  GeoQuery q = Query("intersects", "point", "5,5");  // lat 5, lon 5: in the hole
  EXPECT_FALSE(Matches(q, g));
  q = Query("intersects", "point", "2,2");
  EXPECT_TRUE(Matches(q, g));
}

TEST(GeoLocationTest, GeoJsonFeatureAndFeatureCollection) {
  EXPECT_TRUE(std::holds_alternative<GeoPoint>(Loc(
      "geo:json",
      R"({"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,2]}})")));
  EXPECT_TRUE(std::holds_alternative<GeoLine>(Loc("geo:json", R"({"type":"FeatureCollection",
      "features":[{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2],[3,4]]}}]})")));
  EXPECT_EQ(LocError("geo:json", R"({"type":"FeatureCollection","features":[
      {"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}},
      {"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}}]})"),
            "geo:json FeatureCollection must hold exactly one Feature");
  EXPECT_EQ(LocError("geo:json", R"({"type":"Feature","geometry":null})"),
            "geo:json Feature needs an object field 'geometry'");
}

TEST(GeoLocationTest, GeoJsonErrors) {
  EXPECT_EQ(LocError("geo:json", R"("1, 2")"), "geo:json needs an object as value");
  EXPECT_EQ(LocError("geo:json", R"({"coordinates":[1,2]})"),
            "geo:json needs a string field 'type'");
  EXPECT_EQ(LocError("geo:json", R"({"type":"Circle","coordinates":[1,2]})"),
            "geo:json has an unknown GeoJSON type: Circle");
  EXPECT_EQ(LocError("geo:json", R"({"type":"GeometryCollection","geometries":[]})"),
            "geo:json GeometryCollection is not supported");
  EXPECT_EQ(LocError("geo:json", R"({"type":"Point"})"), "geo:json needs a field 'coordinates'");
  EXPECT_NE(LocError("geo:json", R"({"type":"Point","coordinates":[200,0]})").find("out of range"),
            std::string::npos);
  EXPECT_NE(LocError("geo:json", R"({"type":"Point","coordinates":[0,-91]})").find("out of range"),
            std::string::npos);
  EXPECT_EQ(LocError("geo:json", R"({"type":"Point","coordinates":["1","2"]})"),
            "geo:json coordinates must be numbers");
  EXPECT_EQ(LocError("geo:json", R"({"type":"Point","coordinates":[1]})"),
            "geo:json position must be an array of 2 or 3 numbers [longitude, latitude]");
  EXPECT_EQ(LocError("geo:json", R"({"type":"LineString","coordinates":[[1,2]]})"),
            "geo:json LineString needs an array of at least 2 positions");
  EXPECT_NE(LocError("geo:json", R"({"type":"LineString","coordinates":[[1,2],[1,2]]})")
                .find("geo:json LineString is invalid"),
            std::string::npos);
}

TEST(GeoLocationTest, GeoJsonPolygonErrors) {
  EXPECT_EQ(LocError("geo:json", R"({"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]})"),
            "geo:json Polygon ring is not closed (its first and last positions differ)");
  EXPECT_EQ(LocError("geo:json", R"({"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]})"),
            "geo:json Polygon ring needs an array of at least 4 positions");
  EXPECT_EQ(LocError("geo:json", R"({"type":"Polygon","coordinates":[]})"),
            "geo:json Polygon needs an array of linear rings");
  // A bow tie crosses itself.
  EXPECT_NE(LocError("geo:json",
                     R"({"type":"Polygon","coordinates":[[[0,0],[10,10],[10,0],[0,10],[0,0]]]})")
                .find("geo:json Polygon is invalid: "),
            std::string::npos);
}

TEST(GeoLocationTest, LegacyTypes) {
  EXPECT_TRUE(std::holds_alternative<GeoLine>(Loc("geo:line", R"(["1, 2", "3, 4"])")));
  EXPECT_TRUE(std::holds_alternative<GeoPolygon>(Loc("geo:box", R"(["3, 4", "1, 2"])")));
  EXPECT_TRUE(std::holds_alternative<GeoPolygon>(
      Loc("geo:polygon", R"(["0, 0", "0, 1", "1, 1", "0, 0"])")));
  EXPECT_EQ(LocError("geo:line", R"(["1, 2"])"), "geo:line uses at least 2 coordinates");
  EXPECT_EQ(LocError("geo:box", R"(["1, 2"])"), "geo:box uses exactly 2 coordinates");
  EXPECT_EQ(LocError("geo:box", R"(["1, 2", "1, 5"])"),
            "geo:box coordinates are not defining an actual box");
  EXPECT_EQ(LocError("geo:polygon", R"(["0, 0", "0, 1", "0, 0"])"),
            "geo:polygon uses at least 4 coordinates");
  EXPECT_EQ(LocError("geo:polygon", R"(["0, 0", "0, 1", "1, 1", "1, 0"])"),
            "geo:polygon first and last coordinates must match");
  EXPECT_EQ(LocError("geo:line", R"("1, 2")"),
            "geo:line, geo:box and geo:polygon needs array of strings as value");
  EXPECT_EQ(LocError("geo:line", R"(["1, 2", 3])"),
            "geo:line, geo:box and geo:polygon needs array of strings but some element is not a "
            "string");
  EXPECT_EQ(LocError("geo:line", R"(["1, 2", "x"])"),
            "geo coordinates format error [see Orion user manual]: x");
}

TEST(GeoLocationTest, FindLocationAttributeFollowsOrion) {
  Entity e;
  e.attrs.emplace_back("temperature", Attr("Number", "21"));
  e.attrs.emplace_back("empty", Attr("geo:point", "null"));
  Attribute area = Attr("geo:json", R"({"type":"Point","coordinates":[1,2]})");
  area.metadata.emplace_back("ignoreType", Metadata{"Boolean", true});
  e.attrs.emplace_back("serviceArea", area);
  EXPECT_EQ(FindLocationAttribute(e), nullptr);
  auto none = EntityLocation(e);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());

  e.attrs.emplace_back("location", Attr("geo:point", R"("22.9, 112.9")"));
  const auto* found = FindLocationAttribute(e);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->first, "location");
  auto one = EntityLocation(e);
  ASSERT_TRUE(one.has_value());
  EXPECT_TRUE(one->has_value());

  e.attrs.emplace_back("position", Attr("geo:point", R"("22.8, 112.8")"));
  auto two = EntityLocation(e);
  ASSERT_FALSE(two.has_value());
  EXPECT_EQ(two.error().code, ErrorCode::kNoResources);
  EXPECT_EQ(two.error().message, kTooManyLocationsMessage);
}

TEST(GeoLocationTest, EntityLocationNamesTheBadAttribute) {
  Entity e;
  e.attrs.emplace_back("location", Attr("geo:point", R"("north, east")"));
  auto r = EntityLocation(e);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(r.error().message,
            "error parsing location attribute location: geo coordinates format error [see Orion "
            "user manual]: north, east");
}

// ---- Parsing geo-queries ---------------------------------------------------------------------

TEST(GeoQueryParseTest, ValidQueries) {
  GeoQuery q = Query("near;maxDistance:500;minDistance:10", "point", "22.9,112.9");
  EXPECT_EQ(q.rel, GeoRel::kNear);
  EXPECT_EQ(q.max_distance, 500);
  EXPECT_EQ(q.min_distance, 10);
  const auto* p = std::get_if<GeoPoint>(&q.shape);
  ASSERT_NE(p, nullptr);
  EXPECT_DOUBLE_EQ(boost::geometry::get<0>(*p), 112.9);  // lon
  EXPECT_DOUBLE_EQ(boost::geometry::get<1>(*p), 22.9);   // lat

  q = Query("minDistance:1000;near", "point", " 22.9 , 112.9 ");
  EXPECT_EQ(q.min_distance, 1000);
  EXPECT_FALSE(q.max_distance.has_value());

  q = Query("coveredBy", "box", "22.8,112.8;23.0,113.0");
  EXPECT_EQ(q.rel, GeoRel::kCoveredBy);
  EXPECT_EQ(q.kind, GeoShapeKind::kBox);
  EXPECT_TRUE(std::holds_alternative<GeoPolygon>(q.shape));

  q = Query("coveredBy", "polygon", "0,0;0,1;1,1;0,0");
  EXPECT_TRUE(std::holds_alternative<GeoPolygon>(q.shape));
  EXPECT_TRUE(std::holds_alternative<GeoLine>(Query("intersects", "line", "0,0;1,1").shape));
  EXPECT_EQ(Query("equals", "point", "1,2").rel, GeoRel::kEquals);
  EXPECT_EQ(Query("disjoint", "polygon", "0,0;0,1;1,1;0,0").rel, GeoRel::kDisjoint);
}

struct BadQuery {
  std::string georel, geometry, coords, message;
};

void ExpectRejected(const std::vector<BadQuery>& cases) {
  for (const BadQuery& c : cases) {
    auto q = ParseGeoQuery(c.georel, c.geometry, c.coords);
    ASSERT_FALSE(q.has_value()) << c.georel << " | " << c.geometry << " | " << c.coords;
    EXPECT_EQ(q.error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(q.error().message, c.message) << c.georel << " | " << c.geometry << " | " << c.coords;
  }
}

constexpr const char* kPoly = "0,0;0,1;1,1;0,0";

TEST(GeoQueryParseTest, MissingParamsAndBadGeorelHaveOrionsMessages) {
  ExpectRejected({
      {"", "point", "1,2", "Invalid query: URI param /geometry/ used without /georel/"},
      {"near;maxDistance:1", "", "1,2",
       "Invalid query: URI param /coords/ used without /geometry/"},
      {"near;maxDistance:1", "point", "",
       "Invalid query: URI param /geometry/ used without /coords/"},
      {"near;maxDistance:1", "", "", "Invalid query: URI param /georel/ used without /geometry/"},
      {"", "", "",
       "partial geo expression: geometry, georel and coords have to be provided together"},
      {"intersects", "circle", "1,2",
       "Invalid query: error parsing geometry: Invalid selector in geometry specification"},
      {"intersects", "point;box", "1,2",
       "Invalid query: error parsing geometry: geometry-type present more than once"},
      {"near", "point", "1,2",
       "Invalid query: georel /near/ without either minDistance nor maxDistance"},
      {"near;maxDistance:abc", "point", "1,2", "Invalid query: invalid number for maxDistance"},
      {"near;minDistance:-1", "point", "1,2", "Invalid query: invalid number for minDistance"},
      {"near;maxDistance:1;maxDistance:2", "point", "1,2",
       "Invalid query: maxDistance present more than once"},
      {"near;minDistance:1;minDistance:2", "point", "1,2",
       "Invalid query: minDistance present more than once"},
      {"coveredBy;maxDistance:5", "polygon", kPoly,
       "Invalid query: maxDistance erroneously used with georel /coveredBy/"},
      {"intersects;minDistance:5", "point", "1,2",
       "Invalid query: minDistance erroneously used with georel /intersects/"},
      {"maxDistance:5", "point", "1,2",
       "Invalid query: maxDistance erroneously used with georel //"},
      {"near;near;maxDistance:1", "point", "1,2",
       "Invalid query: georel type present more than once"},
      {"within", "polygon", kPoly, "Invalid query: Invalid modifier in georel parameter"},
      {"near;maxDistance:5;", "point", "1,2",
       "Invalid query: Invalid modifier in georel parameter"},
  });
}

TEST(GeoQueryParseTest, BadCombinationsAndCoordsHaveOrionsMessages) {
  ExpectRejected({
      {"coveredBy", "line", "0,0;1,1",
       "Invalid query: line geometry cannot be used with coveredBy georel"},
      {"coveredBy", "point", "1,2",
       "Invalid query: point geometry cannot be used with coveredBy georel"},
      {"near;maxDistance:5", "box", "0,0;1,1",
       "Invalid query: georel /near/ used with geometry different than point"},
      {"near;maxDistance:5", "polygon", kPoly,
       "Invalid query: georel /near/ used with geometry different than point"},
      {"intersects", "point", "1,2,3", "Invalid query: invalid point in URI param /coords/"},
      {"intersects", "point", "1,2;", "Invalid query: invalid point in URI param /coords/"},
      {"intersects", "point", "a,2", "Invalid query: invalid coordinates"},
      {"intersects", "point", "91,2",
       "Invalid query: invalid coordinates: latitude must be within [-90, 90] and longitude "
       "within [-180, 180]"},
      {"intersects", "point", "1,2;3,4",
       "Invalid query: invalid number of coordinates for /point/"},
      {"intersects", "line", "1,2", "Invalid query: invalid number of coordinates for /line/"},
      {"intersects", "polygon", "0,0;0,1;0,0", "Invalid query: Too few coordinates for polygon"},
      {"intersects", "polygon", "0,0;0,1;1,1;1,0",
       "Invalid query: First and last point in polygon not the same"},
      {"intersects", "box", "0,0;1,1;2,2",
       "Invalid query: invalid number of coordinates for /box/"},
      {"intersects", "box", "1,2;1,5",
       "Invalid query: box coordinates are not defining an actual box"},
  });
}

TEST(GeoQueryParseTest, InvalidShapesAreRejected) {
  auto bowtie = ParseGeoQuery("intersects", "polygon", "0,0;10,10;0,10;10,0;0,0");
  ASSERT_FALSE(bowtie.has_value());
  EXPECT_TRUE(bowtie.error().message.starts_with("Invalid query: polygon is invalid: "))
      << bowtie.error().message;
  auto line = ParseGeoQuery("intersects", "line", "1,2;1,2");
  ASSERT_FALSE(line.has_value());
  EXPECT_TRUE(line.error().message.starts_with("Invalid query: line is invalid: "));
}

TEST(GeoQueryParseTest, SubscriptionStyle) {
  auto partial = ParseGeoQuery("near;maxDistance:5", "point", "", GeoErrorStyle::kSubscription);
  ASSERT_FALSE(partial.has_value());
  EXPECT_EQ(partial.error().message,
            "partial geo expression: geometry, georel and coords have to be provided together");
  auto bad = ParseGeoQuery("coveredBy", "point", "1,2", GeoErrorStyle::kSubscription);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message,
            "error parsing geo-query fields: point geometry cannot be used with coveredBy georel");
}

// ---- Matching -------------------------------------------------------------------------------

// Two places in Gaoming district, Foshan.
constexpr double kGovLat = 22.8933, kGovLon = 112.8925;
constexpr double kParkLat = 22.9011, kParkLon = 112.8743;

TEST(GeoMatchTest, NearDistanceAgreesWithIndependentFormula) {
  const double expected = SphereMetres(kGovLat, kGovLon, kParkLat, kParkLon);
  EXPECT_GT(expected, 1900);  // about 2.04 km
  EXPECT_LT(expected, 2200);
  GeoQuery q = Query("near;maxDistance:5000", "point", "22.8933,112.8925");
  EXPECT_NEAR(DistanceMetres(q, Pt(kParkLat, kParkLon)), expected, 1e-6);
  EXPECT_NEAR(DistanceMetres(q, Pt(kGovLat, kGovLon)), 0, 1e-9);
  // One degree of latitude is R * pi / 180 on the sphere.
  GeoQuery origin = Query("near;maxDistance:1", "point", "0,0");
  EXPECT_NEAR(DistanceMetres(origin, Pt(1, 0)), 6371008.8 * std::numbers::pi / 180, 1e-6);
}

TEST(GeoMatchTest, NearBoundsAreInclusiveMetres) {
  const double d = SphereMetres(kGovLat, kGovLon, kParkLat, kParkLon);
  const std::string at = "22.8933,112.8925";
  const Geometry park = Pt(kParkLat, kParkLon);
  EXPECT_TRUE(Matches(Query("near;maxDistance:" + std::to_string(d + 1), "point", at), park));
  EXPECT_FALSE(Matches(Query("near;maxDistance:" + std::to_string(d - 1), "point", at), park));
  EXPECT_TRUE(Matches(Query("near;minDistance:" + std::to_string(d - 1), "point", at), park));
  EXPECT_FALSE(Matches(Query("near;minDistance:" + std::to_string(d + 1), "point", at), park));
  EXPECT_TRUE(Matches(Query("near;minDistance:1000;maxDistance:3000", "point", at), park));
  EXPECT_FALSE(Matches(Query("near;minDistance:3000;maxDistance:9000", "point", at), park));
}

TEST(GeoMatchTest, NearMeasuresToTheNearestPointOfLinesAndAreas) {
  // A north-south street 0.01 degree east of the query point (about 1.02 km at 22.9 N).
  const Geometry street = Loc("geo:line", R"(["22.8, 112.91", "23.0, 112.91"])");
  GeoQuery q = Query("near;maxDistance:1100", "point", "22.9,112.9");
  EXPECT_NEAR(DistanceMetres(q, street), SphereMetres(22.9, 112.9, 22.9, 112.91), 1.0);
  EXPECT_TRUE(Matches(q, street));
  EXPECT_FALSE(Matches(Query("near;maxDistance:900", "point", "22.9,112.9"), street));
  // Inside an area the distance is zero.
  const Geometry district = Loc("geo:box", R"(["22.8, 112.8", "23.0, 113.0"])");
  EXPECT_EQ(DistanceMetres(q, district), 0);
  EXPECT_FALSE(Matches(Query("near;minDistance:1", "point", "22.9,112.9"), district));
}

TEST(GeoMatchTest, CoveredByBox) {
  const GeoQuery box = Query("coveredBy", "box", "22.8,112.8;23.0,113.0");
  EXPECT_TRUE(Matches(box, Pt(22.9, 112.9)));
  EXPECT_TRUE(Matches(box, Pt(22.9, 112.8)));  // on the west edge (a meridian): covered
  // The south edge is the great circle through the corners, north of the parallel 22.8 N
  // between them (by 3.5 m at 112.9 E), as in MongoDB: a point on the parallel lies just
  // outside, one 5.6 m north lies inside.
  EXPECT_FALSE(Matches(box, Pt(22.8, 112.9)));
  EXPECT_TRUE(Matches(box, Pt(22.80005, 112.9)));
  EXPECT_FALSE(Matches(box, Pt(23.1, 112.9)));
  EXPECT_FALSE(Matches(box, Pt(22.9, 113.2)));
  EXPECT_TRUE(Matches(box, Loc("geo:line", R"(["22.85, 112.85", "22.95, 112.95"])")));
  EXPECT_FALSE(Matches(box, Loc("geo:line", R"(["22.85, 112.85", "23.05, 112.95"])")));
  EXPECT_TRUE(Matches(box, Loc("geo:box", R"(["22.85, 112.85", "22.95, 112.95"])")));
  EXPECT_FALSE(Matches(box, Loc("geo:box", R"(["22.85, 112.85", "23.95, 112.95"])")));
  EXPECT_TRUE(Matches(box, Loc("geo:json", R"({"type":"MultiPoint","coordinates":
      [[112.85,22.85],[112.95,22.95]]})")));
  EXPECT_FALSE(Matches(box, Loc("geo:json", R"({"type":"MultiPoint","coordinates":
      [[112.85,22.85],[113.95,22.95]]})")));
}

TEST(GeoMatchTest, CoveredByPolygon) {
  // A triangle; lat,lon order in coords.
  const GeoQuery tri = Query("coveredBy", "polygon", "22.8,112.8;23.0,112.8;22.8,113.0;22.8,112.8");
  EXPECT_TRUE(Matches(tri, Pt(22.85, 112.85)));
  EXPECT_FALSE(Matches(tri, Pt(22.95, 112.95)));  // beyond the hypotenuse
}

TEST(GeoMatchTest, IntersectsAndDisjoint) {
  const std::string square = "22.8,112.8;23.0,112.8;23.0,113.0;22.8,113.0;22.8,112.8";
  const GeoQuery area = Query("intersects", "polygon", square);
  const GeoQuery outside = Query("disjoint", "polygon", square);
  const Geometry crossing = Loc("geo:line", R"(["22.9, 112.7", "22.9, 113.1"])");
  const Geometry away = Loc("geo:line", R"(["23.5, 112.7", "23.5, 113.1"])");
  const Geometry overlapping = Loc("geo:box", R"(["22.95, 112.95", "23.5, 113.5"])");
  EXPECT_TRUE(Matches(area, Pt(22.9, 112.9)));
  EXPECT_TRUE(Matches(area, crossing));
  EXPECT_TRUE(Matches(area, overlapping));
  EXPECT_FALSE(Matches(area, Pt(23.5, 112.9)));
  EXPECT_FALSE(Matches(area, away));
  EXPECT_FALSE(Matches(outside, Pt(22.9, 112.9)));
  EXPECT_FALSE(Matches(outside, crossing));
  EXPECT_TRUE(Matches(outside, Pt(23.5, 112.9)));
  EXPECT_TRUE(Matches(outside, away));

  const GeoQuery road = Query("intersects", "line", "22.7,112.9;23.1,112.9");
  EXPECT_TRUE(Matches(road, crossing));
  EXPECT_TRUE(Matches(road, Loc("geo:box", R"(["22.8, 112.8", "23.0, 113.0"])")));
  EXPECT_FALSE(Matches(road, away));
  EXPECT_TRUE(Matches(Query("intersects", "point", "22.9,112.9"), Pt(22.9, 112.9)));
  EXPECT_FALSE(Matches(Query("intersects", "point", "22.9,112.9"), Pt(22.9, 112.91)));
}

TEST(GeoMatchTest, Equals) {
  EXPECT_TRUE(Matches(Query("equals", "point", "22.9,112.9"), Pt(22.9, 112.9)));
  EXPECT_FALSE(Matches(Query("equals", "point", "22.9,112.9"), Pt(22.9, 112.9001)));
  EXPECT_FALSE(Matches(Query("equals", "point", "22.9,112.9"),
                       Loc("geo:line", R"(["22.9, 112.9", "23.0, 113.0"])")));
  // Same polygon, other starting vertex and orientation.
  const GeoQuery box = Query("equals", "box", "22.8,112.8;23.0,113.0");
  EXPECT_TRUE(Matches(box, Loc("geo:box", R"(["23.0, 113.0", "22.8, 112.8"])")));
  EXPECT_TRUE(Matches(box, Loc("geo:polygon",
                               R"(["23.0, 113.0", "22.8, 113.0", "22.8, 112.8", "23.0, 112.8",
                                   "23.0, 113.0"])")));
  EXPECT_FALSE(Matches(box, Loc("geo:box", R"(["22.8, 112.8", "23.0, 113.1"])")));
  EXPECT_TRUE(Matches(Query("equals", "line", "22.8,112.8;23.0,113.0"),
                      Loc("geo:line", R"(["22.8, 112.8", "23.0, 113.0"])")));
}

TEST(GeoMatchTest, AntimeridianAndPoles) {
  // A box over Fiji's antimeridian, given by two corners: the short way, 2 degrees wide.
  const GeoQuery fiji = Query("coveredBy", "polygon", "-17,179;-16,179;-16,-179;-17,-179;-17,179");
  EXPECT_TRUE(Matches(fiji, Pt(-16.5, 180)));
  EXPECT_TRUE(Matches(fiji, Pt(-16.5, -179.5)));
  EXPECT_TRUE(Matches(fiji, Pt(-16.5, 179.5)));
  EXPECT_FALSE(Matches(fiji, Pt(-16.5, 0)));
  const LatLonBox b = BoundsOf(fiji.shape);
  EXPECT_GT(b.min_lon, b.max_lon);  // crosses the antimeridian
  EXPECT_NEAR(b.min_lon, 179, 1e-9);
  EXPECT_NEAR(b.max_lon, -179, 1e-9);

  // A ring around the north pole at 80 N holds the pole.
  const Geometry cap = Loc("geo:polygon", R"(["80, 0", "80, 90", "80, 180", "80, -90", "80, 0"])");
  EXPECT_TRUE(Matches(Query("intersects", "point", "89.9,45"), cap));
  EXPECT_FALSE(Matches(Query("intersects", "point", "70,45"), cap));
  const LatLonBox pole = BoundsOf(cap);
  EXPECT_EQ(pole.max_lat, 90);
  EXPECT_EQ(pole.min_lon, -180);
  EXPECT_EQ(pole.max_lon, 180);
  // Near a pole: distances still on the sphere.
  GeoQuery q = Query("near;maxDistance:200000", "point", "89.5,0");
  EXPECT_TRUE(Matches(q, Pt(89.5, 180)));  // 1 degree across the pole, 111 km
}

// ---- Search bounds ----------------------------------------------------------------------------

bool InBox(const LatLonBox& b, double lat, double lon) {
  const bool lon_in = b.min_lon <= b.max_lon ? (lon >= b.min_lon && lon <= b.max_lon)
                                             : (lon >= b.min_lon || lon <= b.max_lon);
  return lat >= b.min_lat && lat <= b.max_lat && lon_in;
}

TEST(GeoBoundsTest, NearBoundsHoldTheCircle) {
  for (const auto& [lat, lon] : {std::pair{22.9, 112.9}, std::pair{60.0, 179.999},
                                 std::pair{-45.0, -180.0}, std::pair{0.0, 0.0}}) {
    GeoQuery q =
        Query("near;maxDistance:5000", "point", std::to_string(lat) + "," + std::to_string(lon));
    auto b = SearchBounds(q);
    ASSERT_TRUE(b.has_value());
    // Walk the circle at 4999.9 m: every point is inside the box.
    for (int deg = 0; deg < 360; deg += 5) {
      const double brg = deg * std::numbers::pi / 180, ang = 4999.9 / 6371008.8;
      const double p1 = lat * std::numbers::pi / 180, l1 = lon * std::numbers::pi / 180;
      const double p2 =
          std::asin(std::sin(p1) * std::cos(ang) + std::cos(p1) * std::sin(ang) * std::cos(brg));
      double l2 = l1 + std::atan2(std::sin(brg) * std::sin(ang) * std::cos(p1),
                                  std::cos(ang) - std::sin(p1) * std::sin(p2));
      double lon2 = std::remainder(l2 * 180 / std::numbers::pi, 360.0);
      EXPECT_TRUE(InBox(*b, p2 * 180 / std::numbers::pi, lon2)) << lat << "," << lon << " " << deg;
    }
  }
  EXPECT_FALSE(SearchBounds(Query("near;minDistance:5", "point", "1,2")).has_value());
  EXPECT_FALSE(SearchBounds(Query("disjoint", "point", "1,2")).has_value());
}

TEST(GeoBoundsTest, GreatCircleBulgeIsIncluded) {
  // The great circle between two points at 60 N peaks near 67.8 N.
  const Geometry arc = Loc("geo:line", R"(["60, 0", "60, 90"])");
  const LatLonBox b = BoundsOf(arc);
  EXPECT_GT(b.max_lat, 67.7);
  EXPECT_TRUE(Matches(Query("intersects", "box", "67,44;68,46"), arc));
}

}  // namespace
}  // namespace zc::context
