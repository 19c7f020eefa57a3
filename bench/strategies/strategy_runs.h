// One benchmark run: a strategy proposes, the table answers, repeat.
#ifndef NAS_BENCH_STRATEGIES_STRATEGY_RUNS_H_
#define NAS_BENCH_STRATEGIES_STRATEGY_RUNS_H_

#include <cstdint>
#include <vector>

#include "bench/strategies/nb201_table.h"
#include "controller/strategy/search_strategy.h"

namespace nas::bench {

struct RunOptions {
  uint64_t seed = 0;
  // Gaussian noise added to every observed accuracy, drawn afresh per
  // evaluation; 0 is the oracle setting.
  double noise_sigma = 0;
  // Trials in flight, as the controller runs them with this parallelism:
  // the oldest pending trial completes, then the strategy is asked for one
  // more while the others are still pending. 1 is sequential search.
  int parallelism = 1;
  // Query counts at which the recommended architecture is scored.
  std::vector<int> checkpoints = {100, 150};
  // Stop after this many queries...
  int max_queries = 150;
  // ...or, when set, once the optimum was evaluated and every checkpoint
  // passed.
  bool stop_at_optimum = true;
  // Prints every evaluation to stderr.
  bool trace = false;
};

struct RunResult {
  // Queries up to and including the first evaluation of the optimum's
  // computation; -1 when it was not evaluated.
  int queries_to_optimum = -1;
  // The true accuracy of the strategy's recommendation at each checkpoint
  // (NaN when the space ran out first).
  std::vector<double> accuracy_at;
  int queries = 0;
};

// REQUIRES: `space` is the table's space; the strategy is fresh or
// stateless (every strategy here rebuilds from the snapshot).
RunResult RunStrategy(controller::SearchStrategy& strategy,
                      const space::SearchSpace& space, const Nb201Table& table,
                      const RunOptions& options);

}  // namespace nas::bench

#endif  // NAS_BENCH_STRATEGIES_STRATEGY_RUNS_H_
