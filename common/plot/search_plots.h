// The charts of a search, from its spec and trials: the first objective by
// trial number with the best so far, the Pareto front of the first two
// objectives, and learning curves. Shared by the controller's dashboard and
// `nasctl plot`, so both draw a search the same way.
#ifndef NAS_COMMON_PLOT_SEARCH_PLOTS_H_
#define NAS_COMMON_PLOT_SEARCH_PLOTS_H_

#include <optional>
#include <vector>

#include "common/plot/svg_plot.h"
#include "nas/v1/search.pb.h"

namespace nas::plot {

// The first objective of every finished trial that measured it, against
// trial number: COMPLETED trials that rank (TRAIN, RETRAIN) as points of
// class "completed" (plus "infeasible" when they miss a constraint),
// estimates (scores with inherited weights) as "estimate", STOPPED trials
// (their last epoch) as "stopped"; and the best so far over the feasible
// ranked ones as a step line. Points carry data-trial (the number) and
// data-value.
Chart ObjectiveChart(const nas::v1::SearchSpec& spec,
                     const std::vector<nas::v1::Trial>& trials);

// For searches with two or more objectives: the first two against each
// other for the completed ranked trials, the feasible non-dominated ones as
// class "front", the rest "dominated" or "infeasible". nullopt otherwise.
std::optional<Chart> ParetoChart(const nas::v1::SearchSpec& spec,
                                 const std::vector<nas::v1::Trial>& trials);

// Validation accuracy by epoch, one line per trial that reported epochs
// (Trial.epochs), at most `max_trials` of them (the latest numbers).
Chart CurvesChart(const std::vector<nas::v1::Trial>& trials,
                  int max_trials = 40);

// The first objective's best value over the feasible completed ranked
// trials (what GetBestTrials puts first for one objective), or nullopt.
std::optional<double> BestValue(const nas::v1::SearchSpec& spec,
                                const std::vector<nas::v1::Trial>& trials);

}  // namespace nas::plot

#endif  // NAS_COMMON_PLOT_SEARCH_PLOTS_H_
