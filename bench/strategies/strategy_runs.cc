#include "bench/strategies/strategy_runs.h"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <deque>
#include <limits>
#include <random>

namespace nas::bench {

RunResult RunStrategy(controller::SearchStrategy& strategy,
                      const space::SearchSpace& space, const Nb201Table& table,
                      const RunOptions& options) {
  RunResult result;
  result.accuracy_at.assign(options.checkpoints.size(),
                            std::numeric_limits<double>::quiet_NaN());
  std::mt19937_64 noise_rng(options.seed * 0x9e3779b97f4a7c15ULL + 0x4e4f4953);
  std::normal_distribution<double> noise(0.0, 1.0);

  controller::SearchSnapshot snapshot;
  snapshot.space = &space;
  snapshot.seed = options.seed;
  std::deque<size_t> pending;  // indices into snapshot.trials, oldest first
  size_t next_checkpoint = 0;
  int& queries = result.queries;
  while (true) {
    const int budget_left =
        options.max_queries - queries - static_cast<int>(pending.size());
    const int free = std::min(
        options.parallelism - static_cast<int>(pending.size()), budget_left);
    if (free > 0) {
      for (std::vector<int>& choices : strategy.Propose(snapshot, free)) {
        controller::TrialView view;
        view.number = static_cast<int>(snapshot.trials.size());
        view.canonical_key = space.CanonicalKey(choices);
        view.state = nas::v1::TRIAL_STATE_PENDING;
        view.choices = std::move(choices);
        pending.push_back(snapshot.trials.size());
        snapshot.trials.push_back(std::move(view));
      }
    }
    if (pending.empty()) break;  // budget spent or space exhausted

    controller::TrialView& done = snapshot.trials[pending.front()];
    pending.pop_front();
    double observed = table.Accuracy(done.choices);
    if (options.noise_sigma > 0) {
      observed += options.noise_sigma * noise(noise_rng);
    }
    done.state = nas::v1::TRIAL_STATE_COMPLETED;
    done.score = observed;
    ++queries;
    if (result.queries_to_optimum < 0 && table.IsOptimum(done.choices)) {
      result.queries_to_optimum = queries;
    }
    if (options.trace) {
      std::fprintf(stderr, "%4d %s true %.2f observed %.2f%s\n", queries,
                   space.Render(done.choices).c_str(),
                   table.Accuracy(done.choices), observed,
                   table.IsOptimum(done.choices) ? "  <- optimum" : "");
    }
    if (next_checkpoint < options.checkpoints.size() &&
        queries == options.checkpoints[next_checkpoint]) {
      if (std::optional<int> pick = strategy.Recommend(snapshot)) {
        result.accuracy_at[next_checkpoint] =
            table.Accuracy(snapshot.trials[*pick].choices);
      }
      ++next_checkpoint;
    }
    if (options.stop_at_optimum && result.queries_to_optimum >= 0 &&
        next_checkpoint == options.checkpoints.size()) {
      break;
    }
  }
  return result;
}

}  // namespace nas::bench
