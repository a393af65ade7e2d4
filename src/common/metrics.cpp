// Metric families and their Prometheus text rendering (exposition format 0.0.4).
//
// A Family is one metric name with its HELP text, TYPE and label names; it owns one series
// per distinct label set (std::map keyed by the label values, so rendering is sorted and
// stable). Series are heap-allocated and never removed, so references handed out stay
// valid. The registry mutex guards only the maps; updates to a series are atomics.
// Registering a name twice with a different type, label names or bucket bounds is a
// programmer error and throws std::logic_error.
#include "common/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace zc::metrics {
namespace {

// HELP text escapes backslash and newline.
std::string EscapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Label values additionally escape the double quote.
std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

// `{a="x",b="y"}`, with an optional extra label (used for `le`); empty when no labels.
std::string FormatLabels(const std::vector<std::string>& names, const Labels& values,
                         std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += fmt::format("{}=\"{}\"", names[i], EscapeLabelValue(values[i]));
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += fmt::format("{}=\"{}\"", extra_name, EscapeLabelValue(extra_value));
  }
  out += '}';
  return out;
}

void CheckLabelCount(std::string_view name, const std::vector<std::string>& names,
                     const Labels& labels) {
  if (names.size() != labels.size()) {
    throw std::logic_error(fmt::format("metric {}: {} label values for {} label names", name,
                                       labels.size(), names.size()));
  }
}

void AtomicAdd(std::atomic<double>& target, double delta) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
  }
}

}  // namespace

void Gauge::Add(double d) {
  AtomicAdd(value_, d);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end()) {
    throw std::logic_error("histogram bounds must be strictly increasing");
  }
}

void Histogram::Observe(double v) {
  // The first bucket whose upper bound is >= v ("le" semantics); the last one is +Inf.
  const size_t index = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.cumulative.reserve(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  // The +Inf bucket is the count, so that the rendered series stay consistent even when
  // an Observe runs concurrently with the read.
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

struct Registry::Family {
  std::string name;
  std::string help;
  std::string type;  // "counter", "gauge", "histogram"
  std::vector<std::string> label_names;
  std::vector<double> bounds;  // histograms only
  std::map<Labels, std::unique_ptr<Counter>> counters;
  std::map<Labels, std::unique_ptr<Gauge>> gauges;
  std::map<Labels, std::unique_ptr<Histogram>> histograms;
  std::function<double()> callback;                   // callback gauges and counters only
  std::function<LabelledValues()> labelled_callback;  // labelled callback gauges only

  void Render(std::string& out) const;
  void RenderHistogram(std::string& out, const Labels& labels, const Histogram& h) const;
};

void Registry::Family::Render(std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(help), name, type);
  if (callback) {
    out += fmt::format("{} {}\n", name, FormatNumber(callback()));
  }
  if (labelled_callback) {
    for (const auto& [labels, value] : labelled_callback()) {
      CheckLabelCount(name, label_names, labels);
      out += fmt::format("{}{} {}\n", name, FormatLabels(label_names, labels), FormatNumber(value));
    }
  }
  for (const auto& [labels, counter] : counters) {
    out += fmt::format("{}{} {}\n", name, FormatLabels(label_names, labels), counter->Value());
  }
  for (const auto& [labels, gauge] : gauges) {
    out += fmt::format("{}{} {}\n", name, FormatLabels(label_names, labels),
                       FormatNumber(gauge->Value()));
  }
  for (const auto& [labels, histogram] : histograms) {
    RenderHistogram(out, labels, *histogram);
  }
}

void Registry::Family::RenderHistogram(std::string& out, const Labels& labels,
                                       const Histogram& h) const {
  const Histogram::Snapshot snapshot = h.Read();
  for (size_t i = 0; i <= bounds.size(); ++i) {
    const std::string le = i < bounds.size() ? FormatNumber(bounds[i]) : "+Inf";
    out += fmt::format("{}_bucket{} {}\n", name, FormatLabels(label_names, labels, "le", le),
                       snapshot.cumulative[i]);
  }
  const std::string plain = FormatLabels(label_names, labels);
  out += fmt::format("{}_sum{} {}\n", name, plain, FormatNumber(snapshot.sum));
  out += fmt::format("{}_count{} {}\n", name, plain, snapshot.count);
}

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::FamilyFor(std::string_view name, std::string_view help,
                                      std::string_view type,
                                      const std::vector<std::string>& label_names) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto family = std::make_unique<Family>();
    family->name = std::string(name);
    family->help = std::string(help);
    family->type = std::string(type);
    family->label_names = label_names;
    it = families_.emplace(std::string(name), std::move(family)).first;
  }
  Family& family = *it->second;
  if (family.type != type || family.label_names != label_names) {
    throw std::logic_error(fmt::format("metric {} registered twice with different shapes", name));
  }
  return family;
}

Counter& Registry::GetCounter(std::string_view name, std::string_view help,
                              const std::vector<std::string>& label_names, const Labels& labels) {
  CheckLabelCount(name, label_names, labels);
  std::lock_guard lock(mu_);
  auto& series = FamilyFor(name, help, "counter", label_names).counters[labels];
  if (!series) series = std::make_unique<Counter>();
  return *series;
}

Gauge& Registry::GetGauge(std::string_view name, std::string_view help,
                          const std::vector<std::string>& label_names, const Labels& labels) {
  CheckLabelCount(name, label_names, labels);
  std::lock_guard lock(mu_);
  Family& family = FamilyFor(name, help, "gauge", label_names);
  if (family.callback || family.labelled_callback) {
    throw std::logic_error(fmt::format("gauge {} is a callback metric", name));
  }
  auto& series = family.gauges[labels];
  if (!series) series = std::make_unique<Gauge>();
  return *series;
}

Histogram& Registry::GetHistogram(std::string_view name, std::string_view help,
                                  const std::vector<double>& bounds,
                                  const std::vector<std::string>& label_names,
                                  const Labels& labels) {
  CheckLabelCount(name, label_names, labels);
  std::lock_guard lock(mu_);
  Family& family = FamilyFor(name, help, "histogram", label_names);
  if (family.histograms.empty() && family.bounds.empty()) {
    family.bounds = bounds;
  } else if (family.bounds != bounds) {
    throw std::logic_error(fmt::format("histogram {} registered with other bounds", name));
  }
  auto& series = family.histograms[labels];
  if (!series) series = std::make_unique<Histogram>(bounds);
  return *series;
}

void Registry::AddCallbackGauge(std::string_view name, std::string_view help,
                                std::function<double()> read) {
  AddCallback(name, help, "gauge", std::move(read));
}

void Registry::AddCallbackCounter(std::string_view name, std::string_view help,
                                  std::function<double()> read) {
  AddCallback(name, help, "counter", std::move(read));
}

void Registry::AddCallbackGauges(std::string_view name, std::string_view help,
                                 const std::vector<std::string>& label_names,
                                 std::function<LabelledValues()> read) {
  std::lock_guard lock(mu_);
  Family& family = FamilyFor(name, help, "gauge", label_names);
  if (family.labelled_callback || !family.gauges.empty()) {
    throw std::logic_error(fmt::format("callback metric {} registered twice", name));
  }
  family.labelled_callback = std::move(read);
}

void Registry::AddCallback(std::string_view name, std::string_view help, std::string_view type,
                           std::function<double()> read) {
  std::lock_guard lock(mu_);
  Family& family = FamilyFor(name, help, type, {});
  if (family.callback || !family.gauges.empty() || !family.counters.empty()) {
    throw std::logic_error(fmt::format("callback metric {} registered twice", name));
  }
  family.callback = std::move(read);
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) {
    family->Render(out);
  }
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

}  // namespace zc::metrics
