#include "common/metrics/metrics.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace nas::metrics {
namespace {

void AtomicAdd(std::atomic<double>& target, double by) {
  double old = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(old, old + by,
                                       std::memory_order_relaxed)) {
  }
}

// Integers print exactly (a counter of 1234567 events is not "1.23457e+06");
// other values with enough digits to read back the same double.
std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 9.0e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The shortest form that reads back as the same double ("0.1", not
  // "0.10000000000000001").
  for (int digits = 15; digits < 17; ++digits) {
    std::string text = absl::StrFormat("%.*g", digits, value);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return absl::StrFormat("%.17g", value);
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
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

// {a="x",b="y"} (empty when there are no labels), with `extra` (already
// formatted, e.g. le="0.5") last.
std::string LabelSet(const std::vector<std::string>& names,
                     const LabelValues& values, const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : ",", names[i], "=\"",
                    EscapeLabelValue(i < values.size() ? values[i] : ""),
                    "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", extra);
  return out.empty() ? out : absl::StrCat("{", out, "}");
}

template <typename Metric>
void WriteHeader(const Family<Metric>& family, const char* type,
                 std::string* out) {
  absl::StrAppend(out, "# HELP ", family.name(), " ",
                  EscapeHelp(family.help()), "\n# TYPE ", family.name(), " ",
                  type, "\n");
}

template <typename Metric>
void WriteScalars(const Family<Metric>& family, const char* type,
                  std::string* out) {
  WriteHeader(family, type, out);
  family.ForEach([&](const LabelValues& values, const Metric& metric) {
    absl::StrAppend(out, family.name(), LabelSet(family.labels(), values), " ",
                    FormatValue(metric.value()), "\n");
  });
}

void WriteHistograms(const Family<Histogram>& family, std::string* out) {
  const std::vector<double>& bounds = family.bounds();
  WriteHeader(family, "histogram", out);
  family.ForEach([&](const LabelValues& values, const Histogram& histogram) {
    const Histogram::Snapshot s = histogram.snapshot();
    for (size_t i = 0; i <= bounds.size(); ++i) {
      const std::string le =
          i < bounds.size() ? FormatValue(bounds[i]) : std::string("+Inf");
      absl::StrAppend(out, family.name(), "_bucket",
                      LabelSet(family.labels(), values,
                               absl::StrCat("le=\"", le, "\"")),
                      " ", s.cumulative[i], "\n");
    }
    absl::StrAppend(out, family.name(), "_sum",
                    LabelSet(family.labels(), values), " ", FormatValue(s.sum),
                    "\n", family.name(), "_count",
                    LabelSet(family.labels(), values), " ", s.count, "\n");
  });
}

}  // namespace

void Counter::Increment(double by) {
  if (!(by >= 0)) return;
  AtomicAdd(value_, by);
}

void Gauge::Add(double by) { AtomicAdd(value_, by); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds),
      buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_->size() && value > (*bounds_)[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  uint64_t running = 0;
  s.cumulative.reserve(bounds_->size() + 1);
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  // Read apart from the buckets, so a scrape racing an Observe may see the
  // sum a moment behind the count; Prometheus tolerates that.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

template <typename Metric>
Metric& Family<Metric>::With(LabelValues values) {
  values.resize(labels_.size());
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<Metric>& child = children_[values];
  if (!child) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      child = std::make_unique<Histogram>(&bounds_);
    } else {
      child = std::make_unique<Metric>();
    }
  }
  return *child;
}

template <typename Metric>
void Family<Metric>::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  children_.clear();
}

template <typename Metric>
void Family<Metric>::ForEach(
    const std::function<void(const LabelValues&, const Metric&)>& fn) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, metric] : children_) fn(values, *metric);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05,
          0.1,    0.25,  0.5,    1,     2.5,  5,    10,  30};
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry entry{Type::kCounter, nullptr, nullptr, nullptr};
  entry.counters = std::make_unique<Family<Counter>>(
      std::move(name), std::move(help), std::move(labels));
  entries_.push_back(std::move(entry));
  return *entries_.back().counters;
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry entry{Type::kGauge, nullptr, nullptr, nullptr};
  entry.gauges = std::make_unique<Family<Gauge>>(
      std::move(name), std::move(help), std::move(labels));
  entries_.push_back(std::move(entry));
  return *entries_.back().gauges;
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> labels,
                                          std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry entry{Type::kHistogram, nullptr, nullptr, nullptr};
  entry.histograms = std::make_unique<Family<Histogram>>(
      std::move(name), std::move(help), std::move(labels), std::move(bounds));
  entries_.push_back(std::move(entry));
  return *entries_.back().histograms;
}

void Registry::AddCollector(std::function<void()> collect) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::Render() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& collect : collectors_) collect();
  std::string out;
  for (const Entry& entry : entries_) {
    switch (entry.type) {
      case Type::kCounter:
        WriteScalars(*entry.counters, "counter", &out);
        break;
      case Type::kGauge:
        WriteScalars(*entry.gauges, "gauge", &out);
        break;
      case Type::kHistogram:
        WriteHistograms(*entry.histograms, &out);
        break;
    }
  }
  return out;
}

namespace {

// Fields of /proc/self/stat after the command name, which may contain
// spaces and parentheses: split after the last ')'.
std::vector<std::string> ProcStatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return {};
  return absl::StrSplit(line.substr(close + 2), ' ', absl::SkipEmpty());
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

}  // namespace

void AddProcessMetrics(Registry* registry) {
  if (!std::filesystem::exists("/proc/self/stat")) return;
  Counter& cpu = registry
                     ->AddCounter("process_cpu_seconds_total",
                                  "User and system CPU time spent, seconds.")
                     .With({});
  Gauge& rss = registry
                   ->AddGauge("process_resident_memory_bytes",
                              "Resident memory size in bytes.")
                   .With({});
  Gauge& fds = registry
                   ->AddGauge("process_open_fds",
                              "Number of open file descriptors.")
                   .With({});
  Gauge& threads =
      registry->AddGauge("process_threads", "Number of OS threads.").With({});
  Gauge& start = registry
                     ->AddGauge("process_start_time_seconds",
                                "Start time of the process since the Unix "
                                "epoch, seconds.")
                     .With({});
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const double boot = BootTimeSeconds();
  registry->AddCollector([&cpu, &rss, &fds, &threads, &start, ticks, page,
                          boot] {
    // Fields counted from 3 (state) in proc(5): utime 14, stime 15,
    // num_threads 20, starttime 22, rss 24.
    const std::vector<std::string> f = ProcStatFields();
    if (f.size() < 22) return;
    auto field = [&](int number) { return std::stod(f[number - 3]); };
    const double cpu_now = (field(14) + field(15)) / ticks;
    cpu.Increment(cpu_now - cpu.value());
    threads.Set(field(20));
    start.Set(boot + field(22) / ticks);
    rss.Set(field(24) * page);
    int open = 0;
    std::error_code error;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
         !error && it != std::filesystem::directory_iterator();
         it.increment(error)) {
      ++open;
    }
    fds.Set(open);
  });
}

}  // namespace nas::metrics
