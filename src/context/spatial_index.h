// An in-memory spatial index of entity locations, so that a geo-query (geo.h) looks at the
// entities near its shape instead of every entity of the tenant.
//
// Entries are keyed by a number the caller assigns to each entity. Candidates() returns a
// superset of the keys whose location Matches() the query; the caller then runs Matches()
// on each. Point locations (the common case) are filtered exactly against the query's
// bounding rectangle, so most candidates do match; other shapes by their bounding
// rectangle.
//
// Thread-safety: none of its own. The caller guards the index with its lock; the const
// methods do not mutate, so concurrent readers under a shared lock are fine.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <vector>

#include "context/geo.h"

namespace zc::context {

class SpatialIndex {
 public:
  struct Options {
    // Side of a grid cell in degrees (0.01 = 1.1 km north-south). Smaller cells mean fewer
    // points scanned per query and more cells in memory.
    double cell_degrees = 0.01;
    // A shape whose bounding rectangle covers more cells than this goes to a list that every
    // query scans (a province outline rather than a building).
    uint64_t max_cells_per_shape = 64;
  };

  // What Candidates() produced.
  enum class Scan : uint8_t {
    kCandidates,  // `out` holds every key that may match
    kEverything,  // the index cannot narrow this query (disjoint; near with only
                  // minDistance): test every entity; `out` is untouched
  };

  SpatialIndex() : SpatialIndex(Options{}) {}
  explicit SpatialIndex(Options options);

  // Adds the location of `key`, replacing the one it had. REQUIRES: `location` comes from
  // geo.h's parsers (valid coordinates).
  void Insert(uint64_t key, const Geometry& location);
  void Update(uint64_t key, const Geometry& location) { Insert(key, location); }
  // Removes `key`; false when it was not indexed.
  bool Erase(uint64_t key);
  bool Contains(uint64_t key) const;
  size_t size() const { return points_.size() + shapes_.size(); }

  // Appends to `out` (unsorted, without duplicates) every key whose location may match.
  Scan Candidates(const GeoQuery& query, std::vector<uint64_t>& out) const;

  // Approximate heap bytes held (tables and buckets), for metrics.
  size_t MemoryBytes() const;

 private:
  // A rectangle in 1e-7 degree units, inclusive, never across the antimeridian.
  struct E7Box {
    int32_t min_lat = 0;
    int32_t max_lat = 0;
    int32_t min_lon = 0;
    int32_t max_lon = 0;
  };
  struct PointSlot {
    uint64_t key;
    int32_t lat;  // 1e-7 degrees
    int32_t lon;
  };
  struct ShapeSlot {
    uint64_t key;
    E7Box box;
  };
  using CellId = uint64_t;

  CellId CellOf(int32_t lat, int32_t lon) const;
  uint64_t CellsIn(const E7Box& box) const;
  void InsertShape(uint64_t key, const LatLonBox& bounds);
  void EraseShape(uint64_t key, const LatLonBox& bounds);
  void CollectPoints(const E7Box& range, std::vector<uint64_t>& out) const;
  void CollectShapes(const E7Box& range, std::vector<uint64_t>& out) const;
  // Calls visit(cell) for every cell of `box`.
  template <typename Visit>
  void ForEachCellOf(const E7Box& box, Visit visit) const;
  // Calls visit(cell, bucket) for each non-empty cell of `cells` inside `range`.
  template <typename Bucket, typename Visit>
  void ForEachCell(const boost::unordered_flat_map<CellId, Bucket>& cells, const E7Box& range,
                   Visit visit) const;

  // Constant after construction.
  Options options_;
  int64_t cell_e7_;   // cell side in 1e-7 degrees
  uint64_t columns_;  // cells per row of latitude

  // Point locations: key -> packed (lat, lon), and the grid of point slots.
  boost::unordered_flat_map<uint64_t, uint64_t> points_;
  boost::unordered_flat_map<CellId, std::vector<PointSlot>> point_cells_;
  // Other shapes: key -> bounding rectangle; slots in every covered cell, or in wide_.
  boost::unordered_flat_map<uint64_t, LatLonBox> shapes_;
  boost::unordered_flat_map<CellId, std::vector<ShapeSlot>> shape_cells_;
  std::vector<ShapeSlot> wide_;
  size_t wrapped_shapes_ = 0;  // shapes across the antimeridian (two slots per cell set)
};

}  // namespace zc::context
