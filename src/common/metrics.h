// Metrics in the Prometheus text exposition format. Counters, gauges and histograms are
// registered once at start-up (names and label sets fixed) and then updated lock-free from
// any thread; `Registry::Render` writes the text for GET /metrics.
//
// Modules receive a `Registry&` in their constructor (no globals, STYLE.md habit 6).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zc::metrics {

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative histogram with fixed upper bounds (seconds for latencies).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Snapshot for rendering: per-bucket cumulative counts, total count and sum.
  struct Snapshot {
    std::vector<uint64_t> cumulative;
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Read() const;
  const std::vector<double>& Bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // one per bound, plus +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Label values of one series, in the order of the family's label names.
using Labels = std::vector<std::string>;

// The series of a labelled callback gauge at one moment: label values and value.
using LabelledValues = std::vector<std::pair<Labels, double>>;

// A set of metric families. Series are created on first use of a label set and live as
// long as the registry. Thread-safe; the returned references stay valid.
class Registry {
 public:
  Registry();
  ~Registry();  // out of line: Family is defined in metrics.cpp
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& GetCounter(std::string_view name, std::string_view help,
                      const std::vector<std::string>& label_names = {}, const Labels& labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help,
                  const std::vector<std::string>& label_names = {}, const Labels& labels = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help,
                          const std::vector<double>& bounds,
                          const std::vector<std::string>& label_names = {},
                          const Labels& labels = {});
  // A gauge computed when rendered (e.g. entity count); `read` must be thread-safe.
  void AddCallbackGauge(std::string_view name, std::string_view help, std::function<double()> read);
  // Gauges computed when rendered, one series per label set `read` returns (e.g. entities
  // per tenant, whose tenants come and go); `read` must be thread-safe.
  void AddCallbackGauges(std::string_view name, std::string_view help,
                         const std::vector<std::string>& label_names,
                         std::function<LabelledValues()> read);
  // A counter kept by its owner (e.g. the audit log's dropped entries), read when rendered.
  void AddCallbackCounter(std::string_view name, std::string_view help,
                          std::function<double()> read);

  // The whole registry in Prometheus text format 0.0.4.
  std::string Render() const;

 private:
  struct Family;
  Family& FamilyFor(std::string_view name, std::string_view help, std::string_view type,
                    const std::vector<std::string>& label_names);
  void AddCallback(std::string_view name, std::string_view help, std::string_view type,
                   std::function<double()> read);

  mutable std::mutex mu_;  // guards families_ (the series themselves are atomics)
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
};

// Default latency buckets in seconds: 100 µs .. 10 s.
std::vector<double> LatencyBuckets();

}  // namespace zc::metrics
