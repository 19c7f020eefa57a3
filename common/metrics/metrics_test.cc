#include "common/metrics/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace nas::metrics {
namespace {

// The value of the sample line that starts with `series` (name and labels
// exactly as rendered), or -1 when there is none.
double Sample(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      double value = 0;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &value)) {
        return value;
      }
    }
  }
  return -1;
}

TEST(MetricsTest, CountersAndGaugesRenderWithHelpTypeAndLabels) {
  Registry registry;
  Family<Counter>& finished = registry.AddCounter(
      "nas_trials_finished_total", "Trials that ended.", {"kind", "outcome"});
  finished.With({"TRAIN", "completed"}).Increment();
  finished.With({"TRAIN", "completed"}).Increment(2);
  finished.With({"TRAIN", "failed"}).Increment();
  registry.AddGauge("nas_workers_connected", "Workers.").With({}).Set(3);

  const std::string text = registry.Render();
  EXPECT_TRUE(absl::StrContains(
      text,
      "# HELP nas_trials_finished_total Trials that ended.\n"
      "# TYPE nas_trials_finished_total counter\n"
      "nas_trials_finished_total{kind=\"TRAIN\",outcome=\"completed\"} 3\n"
      "nas_trials_finished_total{kind=\"TRAIN\",outcome=\"failed\"} 1\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text,
                                "# TYPE nas_workers_connected gauge\n"
                                "nas_workers_connected 3\n"))
      << text;
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  registry.AddGauge("g", "a \\ b\nc", {"name"})
      .With({"say \"hi\"\\\n"})
      .Set(1);
  const std::string text = registry.Render();
  EXPECT_TRUE(absl::StrContains(text, "# HELP g a \\\\ b\\nc\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "g{name=\"say \\\"hi\\\"\\\\\\n\"} 1\n"))
      << text;
}

TEST(MetricsTest, LargeCountersPrintExactlyAndFractionsRoundTrip) {
  Registry registry;
  registry.AddCounter("big_total", "").With({}).Increment(123456789);
  registry.AddGauge("frac", "").With({}).Set(0.1);
  const std::string text = registry.Render();
  EXPECT_TRUE(absl::StrContains(text, "big_total 123456789\n")) << text;
  EXPECT_EQ(Sample(text, "frac"), 0.1);
}

TEST(MetricsTest, NegativeCounterIncrementsAreIgnored) {
  Counter counter;
  counter.Increment(5);
  counter.Increment(-2);
  EXPECT_EQ(counter.value(), 5);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry registry;
  Family<Histogram>& latency = registry.AddHistogram(
      "rpc_seconds", "Latency.", {"method"}, {0.01, 0.1, 1});
  Histogram& h = latency.With({"AcquireTrial"});
  for (double v : {0.005, 0.01, 0.05, 0.5, 2.0}) h.Observe(v);

  const std::string text = registry.Render();
  const std::string prefix = "rpc_seconds_bucket{method=\"AcquireTrial\",le=";
  // A value equal to a bound falls in that bound's bucket (le: <=).
  EXPECT_EQ(Sample(text, prefix + "\"0.01\"}"), 2) << text;
  EXPECT_EQ(Sample(text, prefix + "\"0.1\"}"), 3) << text;
  EXPECT_EQ(Sample(text, prefix + "\"1\"}"), 4) << text;
  EXPECT_EQ(Sample(text, prefix + "\"+Inf\"}"), 5) << text;
  EXPECT_EQ(Sample(text, "rpc_seconds_count{method=\"AcquireTrial\"}"), 5);
  EXPECT_NEAR(Sample(text, "rpc_seconds_sum{method=\"AcquireTrial\"}"), 2.565,
              1e-9);
  EXPECT_TRUE(absl::StrContains(text, "# TYPE rpc_seconds histogram\n"));
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  Registry registry;
  Counter& counter = registry.AddCounter("c_total", "").With({});
  Histogram& histogram =
      registry.AddHistogram("h", "", {}, LatencyBuckets()).With({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        counter.Increment();
        histogram.Observe(0.001);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter.value(), 40000);
  EXPECT_EQ(histogram.snapshot().count, 40000u);
  EXPECT_NEAR(histogram.snapshot().sum, 40.0, 1e-6);
}

TEST(MetricsTest, CollectorsRunAtEachRenderAndClearDropsGoneLabels) {
  Registry registry;
  Family<Gauge>& trials =
      registry.AddGauge("nas_trials", "Trials by state.", {"search", "state"});
  std::vector<std::pair<std::string, int>> running = {{"1", 4}, {"2", 7}};
  registry.AddCollector([&] {
    trials.Clear();
    for (const auto& [search, count] : running) {
      trials.With({search, "RUNNING"}).Set(count);
    }
  });
  std::string text = registry.Render();
  EXPECT_EQ(Sample(text, "nas_trials{search=\"2\",state=\"RUNNING\"}"), 7);
  running = {{"1", 5}};
  text = registry.Render();
  EXPECT_EQ(Sample(text, "nas_trials{search=\"1\",state=\"RUNNING\"}"), 5);
  EXPECT_EQ(Sample(text, "nas_trials{search=\"2\",state=\"RUNNING\"}"), -1)
      << text;
}

TEST(MetricsTest, ProcessMetricsReadThisProcess) {
  Registry registry;
  AddProcessMetrics(&registry);
  // Burn a little CPU so the counter is above zero.
  volatile double x = 0;
  for (int i = 0; i < 20000000; ++i) x = x + i * 1e-9;
  const std::string text = registry.Render();
  EXPECT_GT(Sample(text, "process_resident_memory_bytes"), 1 << 20) << text;
  EXPECT_GT(Sample(text, "process_cpu_seconds_total"), 0) << text;
  EXPECT_GE(Sample(text, "process_open_fds"), 3) << text;
  EXPECT_GE(Sample(text, "process_threads"), 1) << text;
  EXPECT_GT(Sample(text, "process_start_time_seconds"), 1.6e9) << text;
}

}  // namespace
}  // namespace nas::metrics
