// The spatial index (contract in spatial_index.h): a uniform latitude/longitude grid.
//
// Design. Coordinates are fixed-point integers (1e-7 degree, about 1 cm), so that a point
// costs 16 bytes in its cell bucket (key, lat, lon) plus one 16-byte slot in the key table
// that finds it again for Erase; both tables are Boost's open-addressing flat maps. Cells
// are numbered row * columns + column and only non-empty cells exist. A query takes the
// bounding rectangle of its search area from geo.h (SearchBounds: a spherical cap for near,
// the great-circle envelope of the shape otherwise), splits it at the antimeridian, and
// visits the cells it covers, or every non-empty cell when those are fewer. Points are
// tested against the rectangle itself, so the caller receives few false candidates.
//
// A non-point shape (line, polygon, multi-geometry) is registered in every cell its
// bounding rectangle covers, or, when that is more than Options::max_cells_per_shape, in a
// list that every query scans. A shape met in several cells of one query is reported only
// from the cell holding the lower-left corner of the overlap of the two rectangles, so no
// set is needed to remove duplicates; shapes across the antimeridian (two rectangles) are
// deduplicated by sorting.
//
// Rectangles are rounded outwards (floor/ceil, one more unit), which keeps every result a
// superset despite the fixed-point rounding.
#include "context/spatial_index.h"

#include <algorithm>
#include <cmath>

namespace zc::context {
namespace {

constexpr double kE7 = 1e7;
constexpr int64_t kLat90 = 900'000'000;
constexpr int64_t kLon180 = 1'800'000'000;

int32_t ClampLat(int64_t v) {
  return static_cast<int32_t>(std::clamp(v, -kLat90, kLat90));
}
int32_t ClampLon(int64_t v) {
  return static_cast<int32_t>(std::clamp(v, -kLon180, kLon180));
}

// A longitude in 1e-7 degrees, with 180 written as -180 (one meridian, one value).
int32_t PointLon(double lon) {
  const int64_t v = std::llround(lon * kE7);
  return v >= kLon180 ? static_cast<int32_t>(-kLon180) : ClampLon(v);
}

uint64_t Pack(int32_t lat, int32_t lon) {
  return (uint64_t{static_cast<uint32_t>(lat)} << 32) | static_cast<uint32_t>(lon);
}
int32_t PackedLat(uint64_t p) {
  return static_cast<int32_t>(static_cast<uint32_t>(p >> 32));
}
int32_t PackedLon(uint64_t p) {
  return static_cast<int32_t>(static_cast<uint32_t>(p));
}

bool Overlap(int32_t min_a, int32_t max_a, int32_t min_b, int32_t max_b) {
  return min_a <= max_b && min_b <= max_a;
}

// A rectangle in degrees as at most two fixed-point rectangles, rounded outwards by
// `grow` units (1 for query ranges; 0 for stored shapes).
std::vector<std::pair<int64_t, int64_t>> LonRanges(const LatLonBox& b, int64_t grow) {
  const auto lo = [&](double d) { return static_cast<int64_t>(std::floor(d * kE7)) - grow; };
  const auto hi = [&](double d) { return static_cast<int64_t>(std::ceil(d * kE7)) + grow; };
  if (b.min_lon <= b.max_lon) return {{lo(b.min_lon), hi(b.max_lon)}};
  return {{lo(b.min_lon), kLon180}, {-kLon180, hi(b.max_lon)}};
}

template <typename Box>
std::vector<Box> Parts(const LatLonBox& b, int64_t grow) {
  const int32_t min_lat = ClampLat(static_cast<int64_t>(std::floor(b.min_lat * kE7)) - grow);
  const int32_t max_lat = ClampLat(static_cast<int64_t>(std::ceil(b.max_lat * kE7)) + grow);
  std::vector<Box> parts;
  for (const auto& [min_lon, max_lon] : LonRanges(b, grow)) {
    parts.push_back(Box{min_lat, max_lat, ClampLon(min_lon), ClampLon(max_lon)});
  }
  return parts;
}

// Removes the slot of `key` from the bucket of `cell` (order is not kept); drops the cell
// when it empties so that moving entities do not leave empty cells behind.
template <typename Cells>
void RemoveSlot(Cells& cells, uint64_t cell, uint64_t key) {
  const auto it = cells.find(cell);
  if (it == cells.end()) return;
  auto& bucket = it->second;
  const auto slot = std::ranges::find(bucket, key, [](const auto& s) { return s.key; });
  if (slot == bucket.end()) return;
  *slot = bucket.back();
  bucket.pop_back();
  if (bucket.empty()) cells.erase(it);
}

template <typename Map>
size_t TableBytes(const Map& m) {
  return m.bucket_count() * (sizeof(typename Map::value_type) + 1);
}

}  // namespace

SpatialIndex::SpatialIndex(Options options)
    : options_(options),
      cell_e7_(std::max<int64_t>(1, std::llround(options.cell_degrees * kE7))),
      columns_(static_cast<uint64_t>(2 * kLon180 / cell_e7_ + 1)) {}

SpatialIndex::CellId SpatialIndex::CellOf(int32_t lat, int32_t lon) const {
  const auto row = static_cast<uint64_t>((int64_t{lat} + kLat90) / cell_e7_);
  const auto col = static_cast<uint64_t>((int64_t{lon} + kLon180) / cell_e7_);
  return row * columns_ + col;
}

uint64_t SpatialIndex::CellsIn(const E7Box& b) const {
  const CellId low = CellOf(b.min_lat, b.min_lon);
  const CellId high = CellOf(b.max_lat, b.max_lon);
  return (high / columns_ - low / columns_ + 1) * (high % columns_ - low % columns_ + 1);
}

template <typename Visit>
void SpatialIndex::ForEachCellOf(const E7Box& box, Visit visit) const {
  const CellId low = CellOf(box.min_lat, box.min_lon);
  const CellId high = CellOf(box.max_lat, box.max_lon);
  for (uint64_t row = low / columns_; row <= high / columns_; ++row) {
    for (uint64_t col = low % columns_; col <= high % columns_; ++col) {
      visit(row * columns_ + col);
    }
  }
}

template <typename Bucket, typename Visit>
void SpatialIndex::ForEachCell(const boost::unordered_flat_map<CellId, Bucket>& cells,
                               const E7Box& range, Visit visit) const {
  if (CellsIn(range) <= cells.size()) {
    ForEachCellOf(range, [&](CellId cell) {
      if (const auto it = cells.find(cell); it != cells.end()) visit(cell, it->second);
    });
    return;
  }
  // The range covers more cells than exist: walk the existing ones instead.
  const CellId low = CellOf(range.min_lat, range.min_lon);
  const CellId high = CellOf(range.max_lat, range.max_lon);
  for (const auto& [cell, bucket] : cells) {
    const uint64_t row = cell / columns_;
    const uint64_t col = cell % columns_;
    if (row >= low / columns_ && row <= high / columns_ && col >= low % columns_ &&
        col <= high % columns_) {
      visit(cell, bucket);
    }
  }
}

void SpatialIndex::Insert(uint64_t key, const Geometry& location) {
  Erase(key);
  if (const auto* p = std::get_if<GeoPoint>(&location)) {
    const int32_t lat = ClampLat(std::llround(boost::geometry::get<1>(*p) * kE7));
    const int32_t lon = PointLon(boost::geometry::get<0>(*p));
    point_cells_[CellOf(lat, lon)].push_back(PointSlot{key, lat, lon});
    points_.emplace(key, Pack(lat, lon));
    return;
  }
  const LatLonBox bounds = BoundsOf(location);
  InsertShape(key, bounds);
  shapes_.emplace(key, bounds);
}

void SpatialIndex::InsertShape(uint64_t key, const LatLonBox& bounds) {
  const auto parts = Parts<E7Box>(bounds, 0);
  if (parts.size() > 1) ++wrapped_shapes_;
  for (const E7Box& box : parts) {
    if (CellsIn(box) > options_.max_cells_per_shape) {
      wide_.push_back(ShapeSlot{key, box});
      continue;
    }
    ForEachCellOf(box, [&](CellId cell) { shape_cells_[cell].push_back(ShapeSlot{key, box}); });
  }
}

bool SpatialIndex::Erase(uint64_t key) {
  if (const auto it = points_.find(key); it != points_.end()) {
    RemoveSlot(point_cells_, CellOf(PackedLat(it->second), PackedLon(it->second)), key);
    points_.erase(it);
    return true;
  }
  if (const auto it = shapes_.find(key); it != shapes_.end()) {
    EraseShape(key, it->second);
    shapes_.erase(it);
    return true;
  }
  return false;
}

void SpatialIndex::EraseShape(uint64_t key, const LatLonBox& bounds) {
  const auto parts = Parts<E7Box>(bounds, 0);
  if (parts.size() > 1) --wrapped_shapes_;
  for (const E7Box& box : parts) {
    if (CellsIn(box) > options_.max_cells_per_shape) {
      const auto slot = std::ranges::find(wide_, key, &ShapeSlot::key);
      if (slot != wide_.end()) {
        *slot = wide_.back();
        wide_.pop_back();
      }
      continue;
    }
    ForEachCellOf(box, [&](CellId cell) { RemoveSlot(shape_cells_, cell, key); });
  }
}

bool SpatialIndex::Contains(uint64_t key) const {
  return points_.contains(key) || shapes_.contains(key);
}

void SpatialIndex::CollectPoints(const E7Box& r, std::vector<uint64_t>& out) const {
  ForEachCell(point_cells_, r, [&](CellId, const std::vector<PointSlot>& bucket) {
    for (const PointSlot& s : bucket) {
      if (s.lat >= r.min_lat && s.lat <= r.max_lat && s.lon >= r.min_lon && s.lon <= r.max_lon) {
        out.push_back(s.key);
      }
    }
  });
}

void SpatialIndex::CollectShapes(const E7Box& r, std::vector<uint64_t>& out) const {
  ForEachCell(shape_cells_, r, [&](CellId cell, const std::vector<ShapeSlot>& bucket) {
    for (const ShapeSlot& s : bucket) {
      const E7Box& b = s.box;
      if (Overlap(b.min_lat, b.max_lat, r.min_lat, r.max_lat) &&
          Overlap(b.min_lon, b.max_lon, r.min_lon, r.max_lon) &&
          CellOf(std::max(b.min_lat, r.min_lat), std::max(b.min_lon, r.min_lon)) == cell) {
        out.push_back(s.key);
      }
    }
  });
  for (const ShapeSlot& s : wide_) {
    if (Overlap(s.box.min_lat, s.box.max_lat, r.min_lat, r.max_lat) &&
        Overlap(s.box.min_lon, s.box.max_lon, r.min_lon, r.max_lon)) {
      out.push_back(s.key);
    }
  }
}

SpatialIndex::Scan SpatialIndex::Candidates(const GeoQuery& query,
                                            std::vector<uint64_t>& out) const {
  const std::optional<LatLonBox> bounds = SearchBounds(query);
  if (!bounds) return Scan::kEverything;
  const auto ranges = Parts<E7Box>(*bounds, 1);
  const size_t first = out.size();
  for (const E7Box& r : ranges) CollectPoints(r, out);
  const size_t first_shape = out.size();
  for (const E7Box& r : ranges) CollectShapes(r, out);
  // Two ranges, or a shape with two rectangles, can report a key twice.
  if (ranges.size() > 1 || wrapped_shapes_ > 0) {
    const auto from =
        out.begin() + static_cast<std::ptrdiff_t>(ranges.size() > 1 ? first : first_shape);
    std::sort(from, out.end());
    out.erase(std::unique(from, out.end()), out.end());
  }
  return Scan::kCandidates;
}

size_t SpatialIndex::MemoryBytes() const {
  size_t bytes = TableBytes(points_) + TableBytes(point_cells_) + TableBytes(shapes_) +
                 TableBytes(shape_cells_) + wide_.capacity() * sizeof(ShapeSlot);
  for (const auto& [cell, bucket] : point_cells_) bytes += bucket.capacity() * sizeof(PointSlot);
  for (const auto& [cell, bucket] : shape_cells_) bytes += bucket.capacity() * sizeof(ShapeSlot);
  return bytes;
}

}  // namespace zc::context
