#include "controller/strategy/regularized_evolution.h"

#include <algorithm>

#include "controller/strategy/pareto.h"
#include "controller/strategy/strategy_util.h"

namespace nas::controller {
namespace {
constexpr uint64_t kSalt = 0x45564f4c;  // "EVOL"

// Each member's place in the population's selection order, 0 the best:
// by score with one objective, by NSGA-II order (front, then crowding
// distance) with several, so a tournament picks the lowest place.
std::vector<int> SelectionPlaces(
    const std::vector<const TrialView*>& population) {
  std::vector<int> order;
  if (!population.empty() && population.front()->objectives.size() > 1) {
    std::vector<std::vector<double>> points;
    for (const TrialView* t : population) points.push_back(t->objectives);
    order = NsgaOrder(points);
  } else {
    for (size_t i = 0; i < population.size(); ++i) {
      order.push_back(static_cast<int>(i));
    }
    // Stable: on equal scores the older member wins, as before.
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return *population[a]->score > *population[b]->score;
    });
  }
  std::vector<int> places(population.size());
  for (size_t place = 0; place < order.size(); ++place) {
    places[order[place]] = static_cast<int>(place);
  }
  return places;
}

}  // namespace

RegularizedEvolution::RegularizedEvolution(EvolutionOptions options)
    : options_(options) {
  options_.population_size = std::max(options_.population_size, 2);
  options_.sample_size =
      std::clamp(options_.sample_size, 1, options_.population_size);
}

std::vector<std::vector<int>> RegularizedEvolution::Propose(
    const SearchSnapshot& snapshot, int count) {
  const space::SearchSpace& space = *snapshot.space;
  std::mt19937_64 rng = SnapshotRng(snapshot, kSalt);
  SeenKeys seen(snapshot);

  std::vector<const TrialView*> population = CompletedTrials(snapshot);
  if (population.size() > static_cast<size_t>(options_.population_size)) {
    population.erase(population.begin(),
                     population.end() - options_.population_size);
  }

  const std::vector<int> places = SelectionPlaces(population);

  std::vector<std::vector<int>> proposals;
  while (static_cast<int>(proposals.size()) < count) {
    const bool initial =
        snapshot.trials.size() + proposals.size() <
            static_cast<size_t>(options_.population_size) ||
        population.empty();
    std::optional<std::vector<int>> child;
    if (!initial) {
      std::vector<int> sample(population.size());
      for (size_t i = 0; i < sample.size(); ++i) {
        sample[i] = static_cast<int>(i);
      }
      std::shuffle(sample.begin(), sample.end(), rng);
      sample.resize(std::min(sample.size(),
                             static_cast<size_t>(options_.sample_size)));
      const int winner = *std::min_element(
          sample.begin(), sample.end(),
          [&](int a, int b) { return places[a] < places[b]; });
      const TrialView* parent = population[winner];
      child = MutateUnseen(space, parent->choices, seen, rng);
    }
    // Random when still initializing, or when every neighbour of the
    // parent was tried (rare; only late in small spaces).
    if (!child) child = SampleUnseen(space, seen, rng);
    if (!child) break;
    proposals.push_back(std::move(*child));
  }
  return proposals;
}

}  // namespace nas::controller
