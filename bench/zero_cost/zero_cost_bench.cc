// How well zero-cost proxies, computed at initialization, rank the
// architectures of a NAS-Bench-201-format table (README.md). Torch only.
//
//   zero_cost_bench --table ../shared/benchmarks/nb201_cifar10.csv
//     [--count 2000] [--seed 1] [--grad_norm_batch 16] [--naswot_batch 128]
//     [--threads 2]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/ranking/rank_correlation.h"
#include "common/space/space.h"
#include "worker/train/trainer.h"
#include "worker/train/zero_cost.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Row {
  std::string arch;
  double accuracy = 0;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "zero_cost_bench: %s\n", message.c_str());
  return 1;
}

bool ReadTable(const std::string& path, std::vector<Row>* rows,
               std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read " + path;
    return false;
  }
  std::string line;
  std::getline(in, line);  // header: arch,<accuracy column>
  while (std::getline(in, line)) {
    const size_t comma = line.rfind(',');
    if (comma == std::string::npos) continue;
    rows->push_back({line.substr(0, comma), std::stod(line.substr(comma + 1))});
  }
  if (rows->size() < 10) {
    *error = path + ": fewer than 10 rows";
    return false;
  }
  return true;
}

// `count` rows stratified by accuracy: the rows sorted by accuracy, cut into
// `count` equal strata, one row drawn from each with `seed`. Spreads the
// sample over the whole range; the table's accuracy chooses only which rows
// are measured, never a score.
std::vector<Row> Stratified(std::vector<Row> rows, size_t count,
                            uint64_t seed) {
  if (count >= rows.size()) return rows;
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.accuracy < b.accuracy;
  });
  std::mt19937_64 rng(seed);
  std::vector<Row> out;
  for (size_t s = 0; s < count; ++s) {
    const size_t begin = s * rows.size() / count;
    const size_t end = (s + 1) * rows.size() / count;
    out.push_back(rows[begin + rng() % (end - begin)]);
  }
  return out;
}

// `size` images of Gaussian noise (32x32x3) with random labels, drawn with
// `seed`. The table is CIFAR-10, whose images this machine does not have, so
// every score that needs a batch gets noise and is data-free here (the
// published figures use data).
nas::train::ZeroCostBatch NoiseBatch(int64_t size, uint64_t seed) {
  nas::train::ZeroCostBatch batch;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  batch.batch = size;
  batch.images.resize(size * 3 * 32 * 32);
  for (float& v : batch.images) v = normal(rng);
  for (int64_t i = 0; i < size; ++i) batch.labels.push_back(rng() % 10);
  return batch;
}

// The rank average, with equal weights, of `scores`.
std::vector<double> RankAverage(
    const std::vector<const std::vector<double>*>& scores) {
  std::vector<double> combined(scores.front()->size(), 0);
  for (const std::vector<double>* s : scores) {
    const std::vector<double> r = nas::bench::AverageRanks(*s);
    for (size_t i = 0; i < r.size(); ++i) combined[i] += r[i] / scores.size();
  }
  return combined;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = {
      {"table", "../shared/benchmarks/nb201_cifar10.csv"},
      {"count", "2000"},
      {"seed", "1"},  // the stratified draw and every initialization
      {"grad_norm_batch", "16"},
      {"naswot_batch", "128"},  // as Mellor et al.
      {"channels", "16"},
      {"cells_per_stage", "5"},
      {"threads", "2"},
      {"device", "cpu"}};
  for (int i = 1; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || flags.count(key.substr(2)) == 0 ||
        i + 1 >= argc) {
      return Fail("unknown option or missing value: " + key +
                  " (options: table count seed grad_norm_batch naswot_batch "
                  "channels cells_per_stage threads device)");
    }
    flags[key.substr(2)] = argv[++i];
  }
  std::string error;
  std::vector<Row> table;
  if (!ReadTable(flags["table"], &table, &error)) return Fail(error);
  const uint64_t seed = std::stoull(flags["seed"]);
  const std::vector<Row> rows =
      Stratified(table, std::stoul(flags["count"]), seed);

  nas::space::Nb201Config config;
  config.channels = std::stoi(flags["channels"]);
  config.cells_per_stage = std::stoi(flags["cells_per_stage"]);
  config.ops = nas::space::Nb201Ops();
  auto space = nas::space::MakeNb201Space(config, &error);
  if (!space) return Fail(error);
  const nas::space::InputShape input{3, 32, 32, 10};

  const nas::train::ZeroCostBatch batch =
      NoiseBatch(std::stoll(flags["grad_norm_batch"]), seed);
  const nas::train::ZeroCostBatch naswot_batch =
      NoiseBatch(std::stoll(flags["naswot_batch"]), seed);
  nas::train::ZeroCostOptions o;
  o.seed = seed;
  o.device = flags["device"];
  o.num_threads = std::stoi(flags["threads"]);

  std::vector<double> accuracy, synflow, grad_norm, naswot, params, flops;
  double synflow_seconds = 0, grad_norm_seconds = 0, naswot_seconds = 0;
  const auto start = Clock::now();
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<std::string> ops;
    if (!nas::space::ParseNb201String(rows[i].arch, &ops, &error)) {
      return Fail(rows[i].arch + ": " + error);
    }
    std::vector<int> choices;
    for (const std::string& op : ops) {
      choices.push_back(static_cast<int>(
          std::find(config.ops.begin(), config.ops.end(), op) -
          config.ops.begin()));
    }
    if (std::string bad = space->Validate(choices); !bad.empty()) {
      return Fail(rows[i].arch + ": " + bad);
    }
    if (space->Render(choices) != rows[i].arch) {
      return Fail("decision order mismatch: " + rows[i].arch + " rendered " +
                  space->Render(choices));
    }
    const nas::space::NetworkSpec spec = space->Network(choices, input);
    double s = 0, g = 0, w = 0;
    auto t0 = Clock::now();
    if (!nas::train::SynflowScore(spec, o, &s, &error)) return Fail(error);
    auto t1 = Clock::now();
    if (!nas::train::GradNormScore(spec, batch, o, &g, &error)) {
      return Fail(error);
    }
    auto t2 = Clock::now();
    if (!nas::train::NaswotScore(spec, naswot_batch, o, &w, &error)) {
      return Fail(error);
    }
    auto t3 = Clock::now();
    synflow_seconds += std::chrono::duration<double>(t1 - t0).count();
    grad_norm_seconds += std::chrono::duration<double>(t2 - t1).count();
    naswot_seconds += std::chrono::duration<double>(t3 - t2).count();
    accuracy.push_back(rows[i].accuracy);
    synflow.push_back(s);
    grad_norm.push_back(g);
    naswot.push_back(w);
    params.push_back(static_cast<double>(nas::train::CountParameters(spec)));
    flops.push_back(static_cast<double>(nas::train::CountFlops(spec)));
    if ((i + 1) % 200 == 0) {
      std::fprintf(stderr, "%zu/%zu architectures scored\n", i + 1,
                   rows.size());
    }
  }
  const double total =
      std::chrono::duration<double>(Clock::now() - start).count();

  // Both fixed before their first run, without looking at the table: every
  // score the bench had, ranked, averaged with equal weights; then the same
  // rule once naswot was added (all five, equal weights).
  const std::vector<double> combined =
      RankAverage({&synflow, &grad_norm, &params, &flops});
  const std::vector<double> combined5 =
      RankAverage({&synflow, &grad_norm, &naswot, &params, &flops});
  size_t naswot_singular = 0;
  for (double v : naswot) naswot_singular += std::isinf(v);

  const double n = static_cast<double>(rows.size());
  std::printf(
      "%zu of %zu architectures of %s (stratified by accuracy, seed %s); "
      "NAS-Bench-201 network C=%d N=%d, 32x32x3 input, 10 classes, "
      "initialization seed %s, %s, %s threads\n\n",
      rows.size(), table.size(), flags["table"].c_str(), flags["seed"].c_str(),
      config.channels, config.cells_per_stage, flags["seed"].c_str(),
      flags["device"].c_str(), flags["threads"].c_str());
  std::printf("| score | Spearman | Kendall tau | ms/architecture |\n");
  std::printf("|---|---|---|---|\n");
  auto row = [&](const char* name, const std::vector<double>& v,
                 const std::string& ms) {
    std::printf("| %s | %.3f | %.3f | %s |\n", name,
                nas::bench::Spearman(v, accuracy),
                nas::bench::KendallTau(v, accuracy), ms.c_str());
  };
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.1f", 1000 * synflow_seconds / n);
  row("synflow", synflow, ms);
  std::snprintf(ms, sizeof ms, "%.1f", 1000 * grad_norm_seconds / n);
  std::string g_name = "grad_norm (noise batch of " + flags["grad_norm_batch"] +
                       ", random labels)";
  row(g_name.c_str(), grad_norm, ms);
  std::snprintf(ms, sizeof ms, "%.1f", 1000 * naswot_seconds / n);
  std::string w_name = "naswot (noise batch of " + flags["naswot_batch"] + ")";
  row(w_name.c_str(), naswot, ms);
  row("params", params, "0 (counted)");
  row("flops", flops, "0 (counted)");
  std::snprintf(ms, sizeof ms, "%.1f",
                1000 * (synflow_seconds + grad_norm_seconds) / n);
  row("rank average of the four (data-free)", combined, ms);
  std::snprintf(
      ms, sizeof ms, "%.1f",
      1000 * (synflow_seconds + grad_norm_seconds + naswot_seconds) / n);
  row("rank average of the five, with naswot (data-free)", combined5, ms);
  std::printf(
      "\nnaswot -infinity (a singular kernel: images the network maps "
      "alike) for %zu architectures\n",
      naswot_singular);
  std::printf("%.0f s in all\n", total);
  return 0;
}
