#include "bench/ranking/ground_truth.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <utility>

#include "worker/train/trainer.h"

namespace nas::bench {
namespace {

constexpr char kHeader[] =
    "arch,choices,params,flops,val_accuracy,test_accuracy,seconds";

std::string JoinChoices(const std::vector<int>& choices) {
  std::string out;
  for (int c : choices) {
    if (!out.empty()) out += ' ';
    out += std::to_string(c);
  }
  return out;
}

// Fields of one CSV line; only the first may be quoted (the architecture
// text has spaces but no commas or quotes).
std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> fields;
  std::string current;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  fields.push_back(current);
  return fields;
}

}  // namespace

std::vector<std::vector<int>> SelectArchitectures(
    const space::SearchSpace& space, const space::InputShape& input, int count,
    int pool, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::set<std::string> seen;
  std::vector<std::pair<int64_t, std::vector<int>>> candidates;
  for (int i = 0; i < pool; ++i) {
    std::vector<int> choices;
    for (const space::Decision& d : space.decisions()) {
      choices.push_back(static_cast<int>(rng() % d.options.size()));
    }
    if (!seen.insert(space.CanonicalKey(choices)).second) continue;
    candidates.emplace_back(
        train::CountParameters(space.Network(choices, input)), choices);
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::vector<int>> out;
  const int n = static_cast<int>(candidates.size());
  for (int i = 0; i < count && i < n; ++i) {
    const int at = static_cast<int>((i + 0.5) * n / count);
    out.push_back(candidates[std::min(at, n - 1)].second);
  }
  return out;
}

bool ReadTruth(const std::string& path, std::vector<TruthRow>* rows,
               std::string* error) {
  rows->clear();
  std::ifstream in(path);
  if (!in) return true;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1 || line.empty()) continue;
    const std::vector<std::string> f = SplitCsv(line);
    TruthRow row;
    try {
      if (f.size() != 7) throw std::invalid_argument("7 fields expected");
      row.arch = f[0];
      std::istringstream choices(f[1]);
      for (int c; choices >> c;) row.choices.push_back(c);
      row.params = std::stoll(f[2]);
      row.flops = std::stoll(f[3]);
      row.val_accuracy = std::stod(f[4]);
      row.test_accuracy = std::stod(f[5]);
      row.seconds = std::stod(f[6]);
    } catch (const std::exception& e) {
      *error = path + ":" + std::to_string(number) + ": " + e.what();
      return false;
    }
    rows->push_back(row);
  }
  return true;
}

bool AppendTruthRow(const std::string& path, const TruthRow& row,
                    std::string* error) {
  bool empty = true;
  {
    std::ifstream in(path);
    empty = !in || in.peek() == std::ifstream::traits_type::eof();
  }
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) {
    *error = "cannot write " + path;
    return false;
  }
  if (empty) std::fprintf(f, "%s\n", kHeader);
  std::fprintf(f, "\"%s\",%s,%lld,%lld,%.4f,%.4f,%.1f\n", row.arch.c_str(),
               JoinChoices(row.choices).c_str(),
               static_cast<long long>(row.params),
               static_cast<long long>(row.flops), row.val_accuracy,
               row.test_accuracy, row.seconds);
  std::fclose(f);
  return true;
}

}  // namespace nas::bench
