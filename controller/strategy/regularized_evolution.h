// Regularized (aging) evolution, Real et al., "Regularized Evolution for
// Image Classifier Architecture Search" (AAAI 2019).
//
// The population is the `population_size` most recently completed trials
// (the oldest die first, whatever their score). Each child is a one-decision
// mutation of a tournament winner: the best of `sample_size` members drawn
// without replacement. Mutations whose computation was already tried or is
// pending are skipped, as are mutations of inactive decisions. The first
// `population_size` trials are uniform random. With pending trials the
// population is what has completed so far, so a batch is a set of children
// of independent tournaments.
//
// Constraints: only feasible completed trials (those with a score) join the
// population, so no child descends from an infeasible trial.
// Several objectives (NSGA-II style selection, Deb et al. 2002): the
// population is ordered by non-dominated front, then by crowding distance
// (pareto.h), and a tournament picks the member first in that order. Aging
// and one-decision mutation stay as with one objective.
#ifndef NAS_CONTROLLER_STRATEGY_REGULARIZED_EVOLUTION_H_
#define NAS_CONTROLLER_STRATEGY_REGULARIZED_EVOLUTION_H_

#include "controller/strategy/search_strategy.h"

namespace nas::controller {

struct EvolutionOptions {
  int population_size = 20;  // at least 2
  int sample_size = 5;       // in [1, population_size]
};

class RegularizedEvolution : public SearchStrategy {
 public:
  explicit RegularizedEvolution(EvolutionOptions options = {});

  std::vector<std::vector<int>> Propose(const SearchSnapshot& snapshot,
                                        int count) override;

 private:
  EvolutionOptions options_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STRATEGY_REGULARIZED_EVOLUTION_H_
