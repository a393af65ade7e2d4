#include "common/metrics.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

namespace zc::metrics {
namespace {

TEST(Metrics, RendersCounterWithHelpTypeAndLabels) {
  Registry registry;
  registry.GetCounter("req_total", "Requests.", {"route", "status"}, {"/v2/entities", "200"})
      .Add(3);
  registry.GetCounter("req_total", "Requests.", {"route", "status"}, {"/v2/entities", "404"}).Add();
  EXPECT_EQ(registry.Render(),
            "# HELP req_total Requests.\n"
            "# TYPE req_total counter\n"
            "req_total{route=\"/v2/entities\",status=\"200\"} 3\n"
            "req_total{route=\"/v2/entities\",status=\"404\"} 1\n");
}

TEST(Metrics, SameLabelsReturnSameSeries) {
  Registry registry;
  Counter& a = registry.GetCounter("c", "h", {"x"}, {"1"});
  Counter& b = registry.GetCounter("c", "h", {"x"}, {"1"});
  EXPECT_EQ(&a, &b);
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  Registry registry;
  registry.GetGauge("g", "line1\nback\\slash", {"v"}, {"a\"b\\c\nd"}).Set(1.5);
  EXPECT_EQ(registry.Render(),
            "# HELP g line1\\nback\\\\slash\n"
            "# TYPE g gauge\n"
            "g{v=\"a\\\"b\\\\c\\nd\"} 1.5\n");
}

TEST(Metrics, GaugeAddsAndUnlabelledSeriesHasNoBraces) {
  Registry registry;
  Gauge& g = registry.GetGauge("connections", "Open connections.");
  g.Add(2);
  g.Add(-1);
  EXPECT_EQ(g.Value(), 1);
  EXPECT_NE(registry.Render().find("\nconnections 1\n"), std::string::npos);
}

TEST(Metrics, RendersHistogramBucketsSumAndCount) {
  Registry registry;
  Histogram& h = registry.GetHistogram("lat_seconds", "Latency.", {0.1, 1}, {"route"}, {"/x"});
  h.Observe(0.05);
  h.Observe(0.1);  // le is inclusive
  h.Observe(0.5);
  h.Observe(7);
  EXPECT_EQ(registry.Render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
            "lat_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
            "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{route=\"/x\"} 7.65\n"
            "lat_seconds_count{route=\"/x\"} 4\n");
}

TEST(Metrics, CallbackGaugeIsReadAtRender) {
  Registry registry;
  double value = 1;
  registry.AddCallbackGauge("entities", "Entities.", [&] { return value; });
  value = 42;
  EXPECT_NE(registry.Render().find("\nentities 42\n"), std::string::npos);
}

TEST(Metrics, LabelledCallbackGaugesRenderTheSeriesOfTheMoment) {
  Registry registry;
  LabelledValues values = {{{"water"}, 3}};
  registry.AddCallbackGauges("tenant_entities", "Entities per tenant.", {"tenant"},
                             [&] { return values; });
  values = {{{"air"}, 2}, {{"wa\"ter"}, 5}};
  EXPECT_NE(registry.Render().find("# TYPE tenant_entities gauge\n"
                                   "tenant_entities{tenant=\"air\"} 2\n"
                                   "tenant_entities{tenant=\"wa\\\"ter\"} 5\n"),
            std::string::npos)
      << registry.Render();
  EXPECT_THROW(registry.GetGauge("tenant_entities", "x", {"tenant"}, {"air"}), std::logic_error)
      << "a series of its own beside the callback's";
  values = {{{"air", "extra"}, 1}};
  EXPECT_THROW(registry.Render(), std::logic_error) << "label values must match the names";
}

TEST(Metrics, CallbackCounterIsReadAtRenderAsACounter) {
  Registry registry;
  uint64_t dropped = 0;
  registry.AddCallbackCounter("dropped_total", "Dropped.",
                              [&] { return static_cast<double>(dropped); });
  dropped = 7;
  const std::string text = registry.Render();
  EXPECT_NE(text.find("# TYPE dropped_total counter\ndropped_total 7\n"), std::string::npos)
      << text;
  EXPECT_THROW(registry.AddCallbackCounter("dropped_total", "Dropped.", [] { return 0.0; }),
               std::logic_error);
  EXPECT_THROW(registry.AddCallbackGauge("dropped_total", "Dropped.", [] { return 0.0; }),
               std::logic_error);
}

TEST(Metrics, FamiliesRenderSortedByName) {
  Registry registry;
  registry.GetCounter("b_total", "b");
  registry.GetCounter("a_total", "a");
  const std::string text = registry.Render();
  EXPECT_LT(text.find("a_total"), text.find("b_total"));
}

TEST(Metrics, ShapeMismatchIsAProgrammerError) {
  Registry registry;
  registry.GetCounter("x", "h", {"a"}, {"1"});
  EXPECT_THROW(registry.GetGauge("x", "h", {"a"}, {"1"}), std::logic_error);
  EXPECT_THROW(registry.GetCounter("x", "h", {"b"}, {"1"}), std::logic_error);
  EXPECT_THROW(registry.GetCounter("x", "h", {"a"}, {}), std::logic_error);
  registry.GetHistogram("h", "h", {1, 2});
  EXPECT_THROW(registry.GetHistogram("h", "h", {1, 3}), std::logic_error);
  EXPECT_THROW(Histogram({2, 1}), std::logic_error);
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Registry registry;
  Counter& c = registry.GetCounter("c", "h");
  Histogram& h = registry.GetHistogram("h", "h", LatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Add();
        h.Observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 40000u);
  EXPECT_EQ(h.Read().count, 40000u);
  EXPECT_NEAR(h.Read().sum, 40.0, 1e-6);
}

}  // namespace
}  // namespace zc::metrics
