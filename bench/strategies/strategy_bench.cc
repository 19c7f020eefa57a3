// strategy_bench: every search strategy, in process, against a NAS-Bench-201
// table over many seeds. See README.md for the settings and the results.
//
//   strategy_bench [--seeds=200] [--strategies=a,b] [--threads=1] TABLE.csv
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/strategies/nb201_table.h"
#include "bench/strategies/strategy_runs.h"
#include "controller/strategy/search_strategy.h"
#include "google/protobuf/text_format.h"

ABSL_FLAG(int, seeds, 200, "Runs per strategy and setting (seeds 0..N-1).");
ABSL_FLAG(std::string, strategies,
          "random,evolution,reinforce,local_search,gp_bayes_opt",
          "Comma-separated strategies: a StrategySpec field name, optionally "
          "with a text-format config, e.g. evolution{population_size:30}.");
ABSL_FLAG(int, first_seed, 0, "Seeds run from here.");
ABSL_FLAG(int, threads, 1, "Worker threads (runs are independent).");
ABSL_FLAG(int, max_queries, 1000,
          "Cap on queries while waiting for the optimum (oracle setting).");
ABSL_FLAG(double, noise, 0.5, "Noise sigma of the noisy setting.");
ABSL_FLAG(std::string, settings, "oracle,noisy,parallel",
          "Which settings to run: oracle, noisy, parallel (both settings "
          "with --parallelism trials in flight).");
ABSL_FLAG(bool, per_run, false,
          "Print one line per run (strategy, setting, seed, queries to the "
          "optimum, accuracies) to stderr.");
ABSL_FLAG(int, trace_seed, -1,
          "Print every evaluation of this seed's runs to stderr.");
ABSL_FLAG(int, parallelism, 4,
          "Also run with this many trials in flight (extra columns); 0 or 1 "
          "skips them.");

namespace nas::bench {
namespace {

// The settings measured for every strategy.
enum Setting { kOracle, kNoisy, kOracleParallel, kNoisyParallel, kSettings };

struct Task {
  size_t strategy;
  Setting setting;
  uint64_t seed;
};

std::vector<std::string> SplitOutsideBraces(const std::string& text) {
  std::vector<std::string> parts;
  std::string current;
  int depth = 0;
  for (char c : text) {
    if (c == '{') ++depth;
    if (c == '}') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) parts.push_back(current);
  return parts;
}

absl::StatusOr<nas::v1::StrategySpec> ParseSpec(const std::string& entry) {
  nas::v1::StrategySpec spec;
  const std::string text =
      entry.find('{') == std::string::npos ? entry + " {}" : entry;
  if (!google::protobuf::TextFormat::ParseFromString(text, &spec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--strategies: cannot parse \"", entry, "\""));
  }
  absl::StatusOr<std::unique_ptr<controller::SearchStrategy>> probe =
      controller::MakeSearchStrategy(spec);
  if (!probe.ok()) return probe.status();
  return spec;
}

// Nearest-rank quantile; runs that never reached the optimum count as
// infinitely long.
std::string Quantile(std::vector<int> values, double q) {
  if (values.empty()) return "-";
  for (int& v : values) {
    if (v < 0) v = std::numeric_limits<int>::max();
  }
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(
      std::ceil(q * static_cast<double>(values.size())));
  const int v = values[std::max<size_t>(rank, 1) - 1];
  return v == std::numeric_limits<int>::max() ? "never" : std::to_string(v);
}

std::string NeverFraction(const std::vector<int>& values) {
  if (values.empty()) return "-";
  const auto never = std::count(values.begin(), values.end(), -1);
  return absl::StrFormat("%.0f%%", 100.0 * never / values.size());
}

// Mean and standard error, skipping NaN (space exhausted before the
// checkpoint, which NB201 never is).
std::string MeanAccuracy(const std::vector<double>& values) {
  double sum = 0, sum_sq = 0;
  int n = 0;
  for (double v : values) {
    if (std::isnan(v)) continue;
    sum += v;
    sum_sq += v * v;
    ++n;
  }
  if (n == 0) return "-";
  const double mean = sum / n;
  const double var = n > 1 ? (sum_sq - n * mean * mean) / (n - 1) : 0;
  return absl::StrFormat("%.2f ±%.2f", mean,
                         std::sqrt(std::max(var, 0.0) / n));
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Benchmarks the search strategies on a NAS-Bench-201 table.\n"
      "usage: strategy_bench [flags] TABLE.csv");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fprintf(stderr, "usage: strategy_bench [flags] TABLE.csv\n");
    return 2;
  }
  const int seeds = absl::GetFlag(FLAGS_seeds);
  const int threads = std::max(1, absl::GetFlag(FLAGS_threads));
  const int max_queries = std::max(150, absl::GetFlag(FLAGS_max_queries));
  const int first_seed = absl::GetFlag(FLAGS_first_seed);
  const double sigma = absl::GetFlag(FLAGS_noise);
  const std::string settings = absl::GetFlag(FLAGS_settings);
  const bool run_oracle = settings.find("oracle") != std::string::npos;
  const bool run_noisy = settings.find("noisy") != std::string::npos;
  const int parallelism = settings.find("parallel") != std::string::npos
                              ? absl::GetFlag(FLAGS_parallelism)
                              : 0;

  std::vector<std::string> names;
  std::vector<nas::v1::StrategySpec> specs;
  for (const std::string& entry :
       SplitOutsideBraces(absl::GetFlag(FLAGS_strategies))) {
    absl::StatusOr<nas::v1::StrategySpec> spec = ParseSpec(entry);
    if (!spec.ok()) {
      std::fprintf(stderr, "%s\n", spec.status().ToString().c_str());
      return 2;
    }
    names.push_back(entry);
    specs.push_back(*spec);
  }

  space::Nb201Config config;
  config.ops = space::Nb201Ops();
  std::string error;
  std::unique_ptr<space::SearchSpace> space =
      space::MakeNb201Space(config, &error);
  if (!space) {
    std::fprintf(stderr, "space: %s\n", error.c_str());
    return 1;
  }
  absl::StatusOr<Nb201Table> table = Nb201Table::Load(args[1], *space);
  if (!table.ok()) {
    std::fprintf(stderr, "%s\n", table.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "table %s: %d architectures, %d computations (CanonicalKey), optimum "
      "%.4f, reached by %d computation(s)\n",
      args[1], table->strings(), table->classes(), table->optimum(),
      table->optimum_classes());
  std::printf(
      "%d seeds; oracle runs stop at the optimum or %d queries; noisy sigma "
      "%.2f%s\n\n",
      seeds, max_queries, sigma,
      parallelism > 1 ? absl::StrCat("; parallel columns: ", parallelism,
                                     " trials in flight")
                            .c_str()
                      : "");
  std::fflush(stdout);

  std::vector<Task> tasks;
  for (size_t s = 0; s < specs.size(); ++s) {
    for (int setting = 0; setting < kSettings; ++setting) {
      const bool parallel =
          setting == kOracleParallel || setting == kNoisyParallel;
      const bool oracle = setting == kOracle || setting == kOracleParallel;
      if ((parallel && parallelism <= 1) || (oracle && !run_oracle) ||
          (!oracle && !run_noisy)) {
        continue;
      }
      for (int seed = first_seed; seed < first_seed + seeds; ++seed) {
        tasks.push_back({s, static_cast<Setting>(setting),
                         static_cast<uint64_t>(seed)});
      }
    }
  }
  std::vector<RunResult> results(tasks.size());
  std::vector<double> seconds(tasks.size());
  std::atomic<size_t> next{0};
  const auto start = std::chrono::steady_clock::now();
  auto worker = [&] {
    for (size_t i = next++; i < tasks.size(); i = next++) {
      const Task& task = tasks[i];
      const auto t0 = std::chrono::steady_clock::now();
      auto strategy = controller::MakeSearchStrategy(specs[task.strategy]);
      RunOptions options;
      options.seed = task.seed;
      const bool oracle =
          task.setting == kOracle || task.setting == kOracleParallel;
      options.noise_sigma = oracle ? 0.0 : sigma;
      options.parallelism =
          task.setting == kOracleParallel || task.setting == kNoisyParallel
              ? parallelism
              : 1;
      options.max_queries = oracle ? max_queries : 150;
      options.trace =
          static_cast<int>(task.seed) == absl::GetFlag(FLAGS_trace_seed);
      results[i] = RunStrategy(**strategy, *space, *table, options);
      seconds[i] = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - t0)
                       .count();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (std::thread& t : pool) t.join();
  const double elapsed = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - start)
                             .count();

  if (absl::GetFlag(FLAGS_per_run)) {
    for (size_t i = 0; i < tasks.size(); ++i) {
      std::fprintf(stderr, "run %s setting %d seed %d to_optimum %d acc %.2f %.2f\n",
                   names[tasks[i].strategy].c_str(), tasks[i].setting,
                   static_cast<int>(tasks[i].seed), results[i].queries_to_optimum,
                   results[i].accuracy_at[0], results[i].accuracy_at[1]);
    }
  }
  std::printf(
      "| strategy | oracle: queries to optimum, median / p90 (never) | "
      "oracle: acc @100 | oracle: acc @150 | noisy: acc @100 | "
      "noisy: acc @150 |%s cpu s |\n",
      parallelism > 1
          ? absl::StrFormat(
                " %d in flight: oracle median / p90 | %d in flight: noisy "
                "@100 |",
                parallelism, parallelism)
                .c_str()
          : "");
  std::printf("|---|---|---|---|---|---|%s---|\n",
              parallelism > 1 ? "---|---|" : "");
  for (size_t s = 0; s < specs.size(); ++s) {
    std::vector<int> to_optimum[kSettings];
    std::vector<double> at100[kSettings], at150[kSettings];
    double cpu = 0;
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (tasks[i].strategy != s) continue;
      const Setting setting = tasks[i].setting;
      to_optimum[setting].push_back(results[i].queries_to_optimum);
      at100[setting].push_back(results[i].accuracy_at[0]);
      at150[setting].push_back(results[i].accuracy_at[1]);
      cpu += seconds[i];
    }
    std::string parallel_columns;
    if (parallelism > 1) {
      parallel_columns = absl::StrCat(
          " ", Quantile(to_optimum[kOracleParallel], 0.5), " / ",
          Quantile(to_optimum[kOracleParallel], 0.9), " (",
          NeverFraction(to_optimum[kOracleParallel]), ") | ",
          MeanAccuracy(at100[kNoisyParallel]), " |");
    }
    std::printf("| %s | %s / %s (%s) | %s | %s | %s | %s |%s %.0f |\n",
                names[s].c_str(), Quantile(to_optimum[kOracle], 0.5).c_str(),
                Quantile(to_optimum[kOracle], 0.9).c_str(),
                NeverFraction(to_optimum[kOracle]).c_str(),
                MeanAccuracy(at100[kOracle]).c_str(),
                MeanAccuracy(at150[kOracle]).c_str(),
                MeanAccuracy(at100[kNoisy]).c_str(),
                MeanAccuracy(at150[kNoisy]).c_str(), parallel_columns.c_str(),
                cpu);
  }
  std::printf("\nelapsed %.1f s on %d thread(s)\n", elapsed, threads);
  return 0;
}

}  // namespace
}  // namespace nas::bench

int main(int argc, char** argv) { return nas::bench::Main(argc, argv); }
