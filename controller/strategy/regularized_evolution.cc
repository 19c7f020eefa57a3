#include "controller/strategy/regularized_evolution.h"

#include <algorithm>

#include "controller/strategy/strategy_util.h"

namespace nas::controller {
namespace {
constexpr uint64_t kSalt = 0x45564f4c;  // "EVOL"
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
  std::unordered_set<std::string> seen = SeenKeys(snapshot);

  std::vector<const TrialView*> population = CompletedTrials(snapshot);
  if (population.size() > static_cast<size_t>(options_.population_size)) {
    population.erase(population.begin(),
                     population.end() - options_.population_size);
  }

  std::vector<std::vector<int>> proposals;
  while (static_cast<int>(proposals.size()) < count) {
    const bool initial =
        snapshot.trials.size() + proposals.size() <
            static_cast<size_t>(options_.population_size) ||
        population.empty();
    std::optional<std::vector<int>> child;
    if (!initial) {
      std::vector<const TrialView*> sample = population;
      std::shuffle(sample.begin(), sample.end(), rng);
      sample.resize(std::min(sample.size(),
                             static_cast<size_t>(options_.sample_size)));
      const TrialView* parent = *std::max_element(
          sample.begin(), sample.end(),
          [](const TrialView* a, const TrialView* b) {
            return *a->score < *b->score;
          });
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
