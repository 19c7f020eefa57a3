#include "controller/strategy/random_search.h"

#include <algorithm>

#include "controller/strategy/strategy_util.h"

namespace nas::controller {

std::vector<std::vector<int>> RandomSearch::Propose(
    const SearchSnapshot& snapshot, int count) {
  std::mt19937_64 rng = SnapshotRng(snapshot, /*salt=*/0x52414e44);
  SeenKeys seen(snapshot);
  // Rejection sampling; the attempt cap ends the loop once (nearly) every
  // computation in the space has been tried.
  const uint64_t attempts_per_proposal =
      std::max<uint64_t>(64, 4 * CountArchitectures(*snapshot.space, 1 << 20));
  std::vector<std::vector<int>> proposals;
  uint64_t attempts = 0;
  while (static_cast<int>(proposals.size()) < count &&
         attempts < attempts_per_proposal * static_cast<uint64_t>(count)) {
    ++attempts;
    std::vector<int> choices = SampleUniform(*snapshot.space, rng);
    if (seen.Insert(snapshot.space->CanonicalKey(choices))) {
      proposals.push_back(std::move(choices));
    }
  }
  return proposals;
}

}  // namespace nas::controller
