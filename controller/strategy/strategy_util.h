// Pieces every strategy needs: a seeded generator tied to the snapshot, and
// the set of computations already tried.
#ifndef NAS_CONTROLLER_STRATEGY_STRATEGY_UTIL_H_
#define NAS_CONTROLLER_STRATEGY_STRATEGY_UTIL_H_

#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "controller/strategy/search_strategy.h"

namespace nas::controller {

// Seeded from the search seed and the number of trials so far, so a restart
// (which rebuilds the same snapshot) draws the same numbers.
std::mt19937_64 SnapshotRng(const SearchSnapshot& snapshot, uint64_t salt);

std::unordered_set<std::string> SeenKeys(const SearchSnapshot& snapshot);

std::vector<int> SampleUniform(const space::SearchSpace& space,
                               std::mt19937_64& rng);

// How many distinct architectures (not computations) the space holds,
// saturated at `cap`; tells a strategy when rejection sampling must give up.
uint64_t CountArchitectures(const space::SearchSpace& space, uint64_t cap);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STRATEGY_STRATEGY_UTIL_H_
