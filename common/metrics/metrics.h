// Prometheus-style metrics without a dependency: counters, gauges and
// histograms grouped in labelled families, and a Registry that renders them
// in the text exposition format (version 0.0.4) that Prometheus scrapes.
//
// Recording is lock-free once a family's labelled child exists (atomics);
// finding or creating a child takes the family's lock, so hot paths keep a
// reference to the child they update. Children are never destroyed while
// the registry lives, so references stay valid, except after a family's
// Clear (for collectors that rebuild a gauge family at every scrape).
#ifndef NAS_COMMON_METRICS_METRICS_H_
#define NAS_COMMON_METRICS_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace nas::metrics {

// Label values, in the order of the family's label names.
using LabelValues = std::vector<std::string>;

// A value that only goes up (events, seconds spent).
class Counter {
 public:
  // `by` must be >= 0; a negative amount is ignored (a counter that went
  // down would read as a process restart to Prometheus).
  void Increment(double by = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down (connected workers, trials running).
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into buckets with fixed upper bounds (and +Inf).
class Histogram {
 public:
  // `bounds`: strictly increasing, finite; owned by the family.
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double>* bounds_;
  // Not cumulative: bucket i counts values in (bounds[i-1], bounds[i]].
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

enum class Type { kCounter, kGauge, kHistogram };

// The children of one metric name, by label values.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> labels,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        labels_(std::move(labels)),
        bounds_(std::move(bounds)) {}

  // The child for `values` (as many as the family has label names; missing
  // ones read as "", extra ones are dropped), created on first use.
  Metric& With(LabelValues values);
  // Drops every child (their references become invalid): for gauges that a
  // collector sets afresh at each scrape, so that a label set that is gone
  // (a deleted search) stops being reported.
  void Clear();
  // Calls fn(values, metric) for each child in label order.
  void ForEach(
      const std::function<void(const LabelValues&, const Metric&)>& fn) const;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labels() const { return labels_; }
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> labels_;
  const std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::map<LabelValues, std::unique_ptr<Metric>> children_ ABSL_GUARDED_BY(mu_);
};

// Upper bounds (seconds) for request latencies: 0.5 ms to 30 s.
std::vector<double> LatencyBuckets();

class Registry {
 public:
  // Families are rendered in the order they were added. Names must match
  // [a-zA-Z_:][a-zA-Z0-9_:]* and be unique; a counter's name should end in
  // _total. The registry owns the family; the reference lives as long.
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> labels = {});
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> labels = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> labels,
                                  std::vector<double> bounds);
  // Runs at the start of every Render, one at a time: sets gauges whose
  // value lives elsewhere (the database, /proc). A collector that fails
  // should leave its gauges as they were and count its failure itself.
  void AddCollector(std::function<void()> collect);

  // Runs the collectors, then writes every family in the text format.
  std::string Render();

 private:
  struct Entry {
    Type type;
    std::unique_ptr<Family<Counter>> counters;
    std::unique_ptr<Family<Gauge>> gauges;
    std::unique_ptr<Family<Histogram>> histograms;
  };
  std::mutex mu_;  // held through Render, so collectors run one at a time
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> collectors_ ABSL_GUARDED_BY(mu_);
};

// Adds the standard process_* gauges (resident memory, CPU seconds, open
// file descriptors, threads, start time), read from /proc/self at each
// scrape; on systems without /proc they are left out.
void AddProcessMetrics(Registry* registry);

}  // namespace nas::metrics

#endif  // NAS_COMMON_METRICS_METRICS_H_
