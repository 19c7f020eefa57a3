// Pareto dominance, non-dominated sorting and crowding distance (Deb et al.,
// "A Fast and Elitist Multiobjective Genetic Algorithm: NSGA-II", 2002).
// Shared by multi-objective evolution and by GetBestTrials, so a search's
// parents and its reported front come from the same rule. Every objective
// is oriented: larger is better. Infeasible points never reach here; callers
// drop them first (constraints are hard).
#ifndef NAS_CONTROLLER_STRATEGY_PARETO_H_
#define NAS_CONTROLLER_STRATEGY_PARETO_H_

#include <vector>

namespace nas::controller {

// True when `a` is at least as good as `b` on every objective and better on
// one. REQUIRES: equal sizes.
bool Dominates(const std::vector<double>& a, const std::vector<double>& b);

// Fronts of indices into `points`: front 0 is the non-dominated points,
// front 1 those dominated only by front 0, and so on. Indices ascend within
// a front; equal points share a front. O(M N^2).
std::vector<std::vector<int>> NonDominatedFronts(
    const std::vector<std::vector<double>>& points);

// Crowding distance of each member of `front` (same order): the sum over
// objectives of the gap between its neighbours along that objective,
// normalized by the front's range. A front's extremes (and every member of
// a front of at most two) get +infinity, so they are always kept.
std::vector<double> CrowdingDistances(
    const std::vector<std::vector<double>>& points,
    const std::vector<int>& front);

// Indices of `points` best first in NSGA-II order: lower front first, then
// larger crowding distance, then lower index (determinism).
std::vector<int> NsgaOrder(const std::vector<std::vector<double>>& points);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STRATEGY_PARETO_H_
