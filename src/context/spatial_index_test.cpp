// Tests of spatial_index.h: on random locations and queries (fixed seed) the candidates are
// a superset of the brute-force matches and hold no duplicates, in a city, across the
// antimeridian and at a pole; erase and update; the queries the index cannot narrow.
#include "context/spatial_index.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

namespace zc::context {
namespace {

// Shortest text that reads back as the same double.
std::string Num(double v) {
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::string(buf, end);
}

// Longitude folded into [-180, 180].
double Fold(double lon) {
  return lon > 180 ? lon - 360 : lon;
}

std::string LatLon(double lat, double lon) {
  return Num(lat) + ", " + Num(Fold(lon));
}

Geometry Location(std::string type, const std::string& json) {
  Attribute a;
  a.type = std::move(type);
  a.value = boost::json::parse(json);
  auto g = LocationFromAttribute(a);
  EXPECT_TRUE(g.has_value()) << json << ": " << (g ? "" : g.error().message);
  return g ? *g : Geometry(GeoPoint(0, 0));
}

GeoQuery Query(const std::string& georel, const std::string& geometry, const std::string& coords) {
  auto q = ParseGeoQuery(georel, geometry, coords);
  EXPECT_TRUE(q.has_value()) << georel << " " << geometry << " " << coords << ": "
                             << (q ? "" : q.error().message);
  return q ? *q : GeoQuery();
}

// Random locations and queries inside [lat0, lat0 + lat_span] x [lon0, lon0 + lon_span];
// the longitude may run past 180 and is folded.
class World {
 public:
  World(double lat0, double lat_span, double lon0, double lon_span, uint64_t seed)
      : lat0_(lat0), lon0_(lon0), lat_span_(lat_span), lon_span_(lon_span), rng_(seed) {}

  double Lat() { return std::min(90.0, lat0_ + lat_span_ * U()); }
  double Lon() { return lon0_ + lon_span_ * U(); }
  double U() { return std::uniform_real_distribution<double>(0, 1)(rng_); }

  Geometry RandomLocation() {
    const double r = U();
    const double d = lat_span_ * (r < 0.95 ? 0.01 : 0.3) * (0.1 + U());  // some shapes are wide
    const double lat = std::min(Lat(), 89.9 - d), lon = Lon();
    if (r < 0.7) return GeoPoint(Fold(Lon()), Lat());
    if (r < 0.85) {
      return Location("geo:line",
                      "[\"" + LatLon(lat, lon) + "\", \"" + LatLon(lat + d, lon + d) + "\"]");
    }
    return Location("geo:box",
                    "[\"" + LatLon(lat, lon) + "\", \"" + LatLon(lat + d, lon + d) + "\"]");
  }

  GeoQuery RandomQuery(const std::vector<std::optional<Geometry>>& locations) {
    const double d = lat_span_ * 0.05 * (0.05 + U());
    const double lat = std::min(Lat(), 89.9 - d), lon = Lon();
    const std::string here = Num(lat) + "," + Num(Fold(lon));
    const std::string there = Num(lat + d) + "," + Num(Fold(lon + d));
    switch (static_cast<int>(U() * 7)) {
      case 0:
        return Query("near;maxDistance:" + Num(50 + 20000 * U()), "point", here);
      case 1:
        return Query("near;minDistance:500;maxDistance:" + Num(600 + 9000 * U()), "point", here);
      case 2:
        return Query("coveredBy", "box", here + ";" + there);
      case 3: {
        const std::string third = Num(lat) + "," + Num(Fold(lon + d));
        return Query("intersects", "polygon", here + ";" + there + ";" + third + ";" + here);
      }
      case 4:
        return Query("intersects", "line", here + ";" + there);
      case 5:
        return Query("intersects", "box", here + ";" + there);
      default:
        break;
    }
    // equals / intersects at an existing point, so that these queries have matches.
    for (const auto& loc : locations) {
      const auto* p = loc ? std::get_if<GeoPoint>(&*loc) : nullptr;
      if (p != nullptr && U() < 0.01) {
        const std::string at =
            Num(boost::geometry::get<1>(*p)) + "," + Num(boost::geometry::get<0>(*p));
        return Query(U() < 0.5 ? "equals" : "intersects", "point", at);
      }
    }
    return Query("equals", "point", here);
  }

 private:
  double lat0_, lon0_, lat_span_, lon_span_;
  std::mt19937_64 rng_;
};

// Runs `queries` random queries and checks candidates against brute force. Returns the
// number of (query, match) pairs seen, so that tests can require the queries to bite.
size_t CheckSuperset(const SpatialIndex& index,
                     const std::vector<std::optional<Geometry>>& locations, World& world,
                     int queries) {
  size_t matched = 0;
  for (int i = 0; i < queries; ++i) {
    const GeoQuery q = world.RandomQuery(locations);
    std::vector<uint64_t> out;
    EXPECT_EQ(index.Candidates(q, out), SpatialIndex::Scan::kCandidates);
    const std::unordered_set<uint64_t> candidates(out.begin(), out.end());
    EXPECT_EQ(candidates.size(), out.size()) << "duplicate candidates";
    for (uint64_t key = 0; key < locations.size(); ++key) {
      if (!locations[key] || !Matches(q, *locations[key])) continue;
      ++matched;
      EXPECT_TRUE(candidates.contains(key)) << "query " << i << " misses key " << key;
    }
    for (uint64_t key : out) EXPECT_TRUE(key < locations.size() && locations[key].has_value());
  }
  return matched;
}

void RunRandom(World world) {
  SpatialIndex index;
  std::vector<std::optional<Geometry>> locations;
  for (uint64_t key = 0; key < 3000; ++key) {
    locations.push_back(world.RandomLocation());
    index.Insert(key, *locations.back());
  }
  // Churn: move some, erase some.
  for (int i = 0; i < 600; ++i) {
    const uint64_t key = static_cast<uint64_t>(world.U() * locations.size());
    if (i % 3 == 0) {
      EXPECT_EQ(index.Erase(key), locations[key].has_value());
      locations[key].reset();
    } else {
      locations[key] = world.RandomLocation();
      index.Update(key, *locations[key]);
    }
  }
  const auto live = std::ranges::count_if(locations, [](const auto& l) { return l.has_value(); });
  EXPECT_EQ(index.size(), static_cast<size_t>(live));
  EXPECT_GT(CheckSuperset(index, locations, world, 300), 1000u);
}

TEST(SpatialIndexTest, CandidatesAreASupersetInACity) {
  RunRandom(World(22.5, 1, 112.5, 1, 20240601));
}

TEST(SpatialIndexTest, CandidatesAreASupersetAcrossTheAntimeridian) {
  RunRandom(World(-18, 2, 179, 2, 7));
}

TEST(SpatialIndexTest, CandidatesAreASupersetAtThePole) {
  RunRandom(World(89, 1, -180, 360, 11));
}

TEST(SpatialIndexTest, CandidatesAreASupersetWithTinyCells) {
  World world(22.8, 0.2, 112.8, 0.2, 99);
  SpatialIndex index(SpatialIndex::Options{.cell_degrees = 0.001, .max_cells_per_shape = 8});
  std::vector<std::optional<Geometry>> locations;
  for (uint64_t key = 0; key < 2000; ++key) {
    locations.push_back(world.RandomLocation());
    index.Insert(key, *locations.back());
  }
  EXPECT_GT(CheckSuperset(index, locations, world, 200), 200u);
}

TEST(SpatialIndexTest, NearFindsPointsAndNotFarOnes) {
  SpatialIndex index;
  index.Insert(1, GeoPoint(112.8925, 22.8933));
  index.Insert(2, GeoPoint(112.8743, 22.9011));  // about 2 km away
  index.Insert(3, GeoPoint(113.5, 23.5));
  std::vector<uint64_t> out;
  ASSERT_EQ(index.Candidates(Query("near;maxDistance:500", "point", "22.8933,112.8925"), out),
            SpatialIndex::Scan::kCandidates);
  EXPECT_EQ(out, std::vector<uint64_t>{1});
  out.clear();
  index.Candidates(Query("near;maxDistance:2500", "point", "22.8933,112.8925"), out);
  std::ranges::sort(out);
  EXPECT_EQ(out, (std::vector<uint64_t>{1, 2}));
}

TEST(SpatialIndexTest, EraseAndUpdate) {
  SpatialIndex index;
  const GeoQuery near_a = Query("near;maxDistance:100", "point", "22.9,112.9");
  const GeoQuery near_b = Query("near;maxDistance:100", "point", "23.2,113.2");
  const auto candidates = [&](const GeoQuery& q) {
    std::vector<uint64_t> out;
    index.Candidates(q, out);
    std::ranges::sort(out);
    return out;
  };
  index.Insert(7, GeoPoint(112.9, 22.9));
  index.Insert(8, GeoPoint(112.9, 22.9));
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(candidates(near_a), (std::vector<uint64_t>{7, 8}));

  index.Update(7, GeoPoint(113.2, 23.2));  // a vehicle moves
  EXPECT_EQ(candidates(near_a), std::vector<uint64_t>{8});
  EXPECT_EQ(candidates(near_b), std::vector<uint64_t>{7});

  // A point becomes an area and back.
  index.Update(8, Location("geo:box", R"(["22.89, 112.89", "22.91, 112.91"])"));
  EXPECT_EQ(candidates(near_a), std::vector<uint64_t>{8});
  index.Update(8, GeoPoint(113.2, 23.2));
  EXPECT_EQ(candidates(near_a), std::vector<uint64_t>{});
  EXPECT_EQ(candidates(near_b), (std::vector<uint64_t>{7, 8}));

  EXPECT_TRUE(index.Erase(7));
  EXPECT_FALSE(index.Erase(7));
  EXPECT_FALSE(index.Contains(7));
  EXPECT_TRUE(index.Contains(8));
  EXPECT_EQ(candidates(near_b), std::vector<uint64_t>{8});
  EXPECT_EQ(index.size(), 1u);
}

TEST(SpatialIndexTest, WideAndWrappedShapesAreErasedCompletely) {
  SpatialIndex index;
  index.Insert(1, Location("geo:box", R"(["20, 110", "25, 115"])"));         // many cells: wide
  index.Insert(2, Location("geo:box", R"(["-17, 179.9", "-16, -179.9"])"));  // across 180
  index.Insert(3, Location("geo:line", R"(["22.9, 112.9", "22.91, 112.91"])"));
  const GeoQuery everywhere =
      Query("intersects", "polygon", "-80,-170;80,-170;80,170;-80,170;-80,-170");
  const GeoQuery fiji = Query("intersects", "point", "-16.5,180");
  std::vector<uint64_t> out;
  index.Candidates(Query("intersects", "point", "22.905,112.905"), out);
  std::ranges::sort(out);
  EXPECT_EQ(out, (std::vector<uint64_t>{1, 3}));
  out.clear();
  index.Candidates(fiji, out);
  EXPECT_EQ(out, std::vector<uint64_t>{2});
  EXPECT_TRUE(index.Erase(1));
  EXPECT_TRUE(index.Erase(2));
  EXPECT_TRUE(index.Erase(3));
  EXPECT_EQ(index.size(), 0u);
  out.clear();
  index.Candidates(fiji, out);
  index.Candidates(everywhere, out);
  EXPECT_TRUE(out.empty());
}

TEST(SpatialIndexTest, PointOnTheAntimeridianIsFoundFromBothSides) {
  SpatialIndex index;
  index.Insert(1, GeoPoint(180, -16.5));
  index.Insert(2, GeoPoint(-180, -16.6));
  for (const char* at : {"-16.5,179.9999", "-16.5,-179.9999"}) {
    std::vector<uint64_t> out;
    index.Candidates(Query("near;maxDistance:20000", "point", at), out);
    std::ranges::sort(out);
    EXPECT_EQ(out, (std::vector<uint64_t>{1, 2})) << at;
  }
}

TEST(SpatialIndexTest, UnboundedQueriesAskForAFullScan) {
  SpatialIndex index;
  index.Insert(1, GeoPoint(112.9, 22.9));
  std::vector<uint64_t> out{42};
  EXPECT_EQ(index.Candidates(Query("disjoint", "point", "1,2"), out),
            SpatialIndex::Scan::kEverything);
  EXPECT_EQ(index.Candidates(Query("near;minDistance:10", "point", "1,2"), out),
            SpatialIndex::Scan::kEverything);
  EXPECT_EQ(out, std::vector<uint64_t>{42});  // untouched
}

TEST(SpatialIndexTest, MemoryIsReported) {
  SpatialIndex index;
  const size_t empty = index.MemoryBytes();
  for (uint64_t key = 0; key < 1000; ++key) {
    index.Insert(key, GeoPoint(112.5 + 0.001 * static_cast<double>(key), 22.9));
  }
  EXPECT_GT(index.MemoryBytes(), empty + 1000 * 16);
}

}  // namespace
}  // namespace zc::context
