// The ranking bench's ground truth: which architectures, and their accuracy
// after stand-alone training at the search's budget, kept in a CSV file so
// that reruns reuse it.
#ifndef NAS_BENCH_RANKING_GROUND_TRUTH_H_
#define NAS_BENCH_RANKING_GROUND_TRUTH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/space/space.h"

namespace nas::bench {

struct TruthRow {
  std::string arch;          // SearchSpace::Render
  std::vector<int> choices;  // one index per decision
  int64_t params = 0;
  int64_t flops = 0;
  double val_accuracy = 0;
  double test_accuracy = 0;
  double seconds = 0;  // wall time of TrainAndEvaluate
};

// `count` architectures spread over the space's model sizes: `pool` random
// architectures (uniform per decision, drawn with `seed`), duplicates by
// canonical key removed, sorted by parameter count, then the ones at the
// quantiles (i + 0.5) / count. Deterministic in its arguments.
std::vector<std::vector<int>> SelectArchitectures(
    const space::SearchSpace& space, const space::InputShape& input, int count,
    int pool, uint64_t seed);

// Reads a file written by AppendTruthRow (after its header). A missing file
// gives an empty list; a malformed line sets *error and returns false.
bool ReadTruth(const std::string& path, std::vector<TruthRow>* rows,
               std::string* error);

// Appends one row (writing the header first when the file is new or empty),
// flushed at once, so an interrupted run keeps what it trained.
bool AppendTruthRow(const std::string& path, const TruthRow& row,
                    std::string* error);

}  // namespace nas::bench

#endif  // NAS_BENCH_RANKING_GROUND_TRUTH_H_
