#include "controller/best_trials.h"

#include <algorithm>
#include <utility>

#include "common/spec/objective.h"
#include "common/spec/trial_kinds.h"
#include "controller/strategy/pareto.h"

namespace nas::controller {
namespace {

constexpr int kPage = 1000;

// Completed TRAIN and RETRAIN trials that meet every constraint, each with
// its oriented objectives, in number order. Scores with inherited weights
// are estimates, kept apart like the store's ranking keeps them.
absl::StatusOr<std::vector<std::pair<nas::v1::Trial, std::vector<double>>>>
FeasibleTrials(TrialStore& store, const nas::v1::SearchSpec& spec,
               int64_t search_id) {
  std::vector<std::pair<nas::v1::Trial, std::vector<double>>> feasible;
  int32_t after = -1;
  while (true) {
    absl::StatusOr<std::vector<nas::v1::Trial>> page = store.ListTrials(
        search_id, {nas::v1::TRIAL_STATE_COMPLETED}, after, kPage);
    if (!page.ok()) return page.status();
    for (nas::v1::Trial& trial : *page) {
      after = trial.number();
      if (!spec::IsRankedKind(trial.kind())) continue;
      if (!spec::MeetsConstraints(spec, trial.metrics())) continue;
      std::vector<double> objectives =
          spec::OrientedObjectives(spec, trial.metrics());
      if (objectives.empty()) continue;
      feasible.emplace_back(std::move(trial), std::move(objectives));
    }
    if (page->size() < static_cast<size_t>(kPage)) return feasible;
  }
}

}  // namespace

absl::StatusOr<BestTrials> FindBestTrials(TrialStore& store,
                                          const nas::v1::SearchSpec& spec,
                                          int64_t search_id, int k) {
  BestTrials best;
  best.pareto_front = spec.objectives_size() > 1;
  if (!best.pareto_front && spec.constraints().empty()) {
    absl::StatusOr<std::vector<nas::v1::Trial>> ranked =
        store.BestTrials(search_id, k);
    if (!ranked.ok()) return ranked.status();
    best.trials = *std::move(ranked);
    return best;
  }
  auto feasible = FeasibleTrials(store, spec, search_id);
  if (!feasible.ok()) return feasible.status();
  std::vector<size_t> chosen;
  if (best.pareto_front) {
    std::vector<std::vector<double>> points;
    for (const auto& [trial, objectives] : *feasible) {
      points.push_back(objectives);
    }
    std::vector<std::vector<int>> fronts = NonDominatedFronts(points);
    if (!fronts.empty()) chosen.assign(fronts[0].begin(), fronts[0].end());
  } else {
    for (size_t i = 0; i < feasible->size(); ++i) chosen.push_back(i);
  }
  // Indices ascend with trial numbers, so stability breaks ties by number.
  std::stable_sort(chosen.begin(), chosen.end(), [&](size_t a, size_t b) {
    return (*feasible)[a].second[0] > (*feasible)[b].second[0];
  });
  if (chosen.size() > static_cast<size_t>(k)) chosen.resize(k);
  for (size_t i : chosen) {
    best.trials.push_back(std::move((*feasible)[i].first));
  }
  return best;
}

}  // namespace nas::controller
