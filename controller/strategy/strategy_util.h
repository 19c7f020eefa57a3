// Pieces every strategy needs: a seeded generator tied to the snapshot, the
// set of computations already tried, and unseen-architecture samplers that
// end cleanly when a space is exhausted.
#ifndef NAS_CONTROLLER_STRATEGY_STRATEGY_UTIL_H_
#define NAS_CONTROLLER_STRATEGY_STRATEGY_UTIL_H_

#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "controller/strategy/search_strategy.h"

namespace nas::controller {

// Seeded from the search seed and the number of trials so far, so a restart
// (which rebuilds the same snapshot) draws the same numbers.
std::mt19937_64 SnapshotRng(const SearchSnapshot& snapshot, uint64_t salt);

// The computations a step must not propose: the canonical key of every
// trial in the snapshot, whatever its state, and of each proposal the step
// made so far. Built on the snapshot's key index when it has one
// (SearchSnapshot::keys), so that a step costs what it proposes rather than
// what the search has tried.
class SeenKeys {
 public:
  explicit SeenKeys(const SearchSnapshot& snapshot);
  // Adds `key`; true when it was not seen before.
  bool Insert(std::string key);
  bool Contains(const std::string& key) const;
  size_t size() const { return base_size_ + added_.size(); }

 private:
  // The snapshot's keys: its index, or `added_` itself when it has none.
  const std::unordered_set<std::string>* base_;
  size_t base_size_ = 0;
  std::unordered_set<std::string> added_;
};

std::vector<int> SampleUniform(const space::SearchSpace& space,
                               std::mt19937_64& rng);

// How many distinct architectures (not computations) the space holds,
// saturated at `cap`; tells a strategy when rejection sampling must give up.
uint64_t CountArchitectures(const space::SearchSpace& space, uint64_t cap);

// The trials that carry a score, in snapshot (number) order: COMPLETED ones
// and STOPPED ones, whose score is what they reached when early stopping
// ended them (lower-fidelity evidence; strategies learn from both).
std::vector<const TrialView*> CompletedTrials(const SearchSnapshot& snapshot);

// The number of the COMPLETED trial with the highest score (the lowest
// number on ties); nullopt when no trial has completed. STOPPED trials never
// count: they did not reach the full budget.
std::optional<int> BestObservedTrial(const SearchSnapshot& snapshot);

// Every architecture that differs from `choices` in exactly one decision,
// in decision order, then option order.
std::vector<std::vector<int>> OneDecisionNeighbours(
    const space::SearchSpace& space, const std::vector<int>& choices);

// A one-decision mutation of `parent` whose computation is not in `seen`,
// drawn uniformly among such mutations; inserts its key into `seen`.
// nullopt when every neighbour's computation was seen.
std::optional<std::vector<int>> MutateUnseen(const space::SearchSpace& space,
                                             const std::vector<int>& parent,
                                             SeenKeys& seen,
                                             std::mt19937_64& rng);

// A uniformly drawn architecture whose computation is not in `seen`;
// inserts its key. After rejection sampling fails, small spaces (up to
// kEnumerableArchitectures strings) are scanned exhaustively from a random
// starting point, so nullopt there means the space is exhausted; on larger
// spaces nullopt means (nearly) exhausted.
inline constexpr uint64_t kEnumerableArchitectures = uint64_t{1} << 18;
std::optional<std::vector<int>> SampleUnseen(const space::SearchSpace& space,
                                             SeenKeys& seen,
                                             std::mt19937_64& rng);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STRATEGY_STRATEGY_UTIL_H_
