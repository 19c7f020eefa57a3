#include "controller/strategy/strategy_util.h"

namespace nas::controller {

std::mt19937_64 SnapshotRng(const SearchSnapshot& snapshot, uint64_t salt) {
  std::seed_seq seq{static_cast<uint32_t>(snapshot.seed),
                    static_cast<uint32_t>(snapshot.seed >> 32),
                    static_cast<uint32_t>(snapshot.trials.size()),
                    static_cast<uint32_t>(salt)};
  return std::mt19937_64(seq);
}

std::unordered_set<std::string> SeenKeys(const SearchSnapshot& snapshot) {
  std::unordered_set<std::string> keys;
  for (const TrialView& t : snapshot.trials) keys.insert(t.canonical_key);
  return keys;
}

std::vector<int> SampleUniform(const space::SearchSpace& space,
                               std::mt19937_64& rng) {
  std::vector<int> choices;
  choices.reserve(space.decisions().size());
  for (const space::Decision& d : space.decisions()) {
    std::uniform_int_distribution<int> pick(
        0, static_cast<int>(d.options.size()) - 1);
    choices.push_back(pick(rng));
  }
  return choices;
}

uint64_t CountArchitectures(const space::SearchSpace& space, uint64_t cap) {
  uint64_t total = 1;
  for (const space::Decision& d : space.decisions()) {
    total *= d.options.size();
    if (total >= cap) return cap;
  }
  return total;
}

}  // namespace nas::controller
