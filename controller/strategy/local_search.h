// Local search with best improvement and random restarts (White et al.,
// "Local search is state of the art for neural architecture search
// benchmarks", 2020).
//
// A run starts at a random architecture, evaluates every one-decision
// neighbour of its current centre (one per computation, in random order),
// then moves to the best neighbour if it beats the centre (or, with
// first_improvement, to the first neighbour that does); when none does (a
// local optimum) a new run starts at a random architecture at least three
// decisions away from the old run's centres.
//
// The state is rebuilt from the snapshot: trials are replayed in number
// order, and a trial more than two decisions away from every centre of the
// current run marks a restart. While the centre's neighbourhood waits on
// pending trials, further proposals (batches) are neighbours of its best
// completed neighbours: likely next centres.
#ifndef NAS_CONTROLLER_STRATEGY_LOCAL_SEARCH_H_
#define NAS_CONTROLLER_STRATEGY_LOCAL_SEARCH_H_

#include "controller/strategy/search_strategy.h"

namespace nas::controller {

class LocalSearch : public SearchStrategy {
 public:
  // With first_improvement, the centre moves to the first evaluated
  // neighbour that beats it instead of waiting for the whole neighbourhood.
  explicit LocalSearch(bool first_improvement = false)
      : first_improvement_(first_improvement) {}

  std::vector<std::vector<int>> Propose(const SearchSnapshot& snapshot,
                                        int count) override;

 private:
  bool first_improvement_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STRATEGY_LOCAL_SEARCH_H_
