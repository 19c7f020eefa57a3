#include "controller/strategy/strategy_util.h"

#include <algorithm>

namespace nas::controller {

std::mt19937_64 SnapshotRng(const SearchSnapshot& snapshot, uint64_t salt) {
  std::seed_seq seq{static_cast<uint32_t>(snapshot.seed),
                    static_cast<uint32_t>(snapshot.seed >> 32),
                    static_cast<uint32_t>(snapshot.trials.size()),
                    static_cast<uint32_t>(salt)};
  return std::mt19937_64(seq);
}

SeenKeys::SeenKeys(const SearchSnapshot& snapshot) : base_(snapshot.keys) {
  if (base_ != nullptr) {
    base_size_ = base_->size();
    return;
  }
  for (const TrialView& t : snapshot.trials) added_.insert(t.canonical_key);
}

bool SeenKeys::Insert(std::string key) {
  if (base_ != nullptr && base_->count(key) > 0) return false;
  return added_.insert(std::move(key)).second;
}

bool SeenKeys::Contains(const std::string& key) const {
  return (base_ != nullptr && base_->count(key) > 0) || added_.count(key) > 0;
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

std::vector<const TrialView*> CompletedTrials(const SearchSnapshot& snapshot) {
  std::vector<const TrialView*> completed;
  for (const TrialView& t : snapshot.trials) {
    if ((t.state == nas::v1::TRIAL_STATE_COMPLETED ||
         t.state == nas::v1::TRIAL_STATE_STOPPED) &&
        t.score.has_value()) {
      completed.push_back(&t);
    }
  }
  return completed;
}

std::optional<int> BestObservedTrial(const SearchSnapshot& snapshot) {
  const TrialView* best = nullptr;
  for (const TrialView* t : CompletedTrials(snapshot)) {
    if (t->state != nas::v1::TRIAL_STATE_COMPLETED) continue;
    if (best == nullptr || *t->score > *best->score) best = t;
  }
  if (best == nullptr) return std::nullopt;
  return best->number;
}

std::vector<std::vector<int>> OneDecisionNeighbours(
    const space::SearchSpace& space, const std::vector<int>& choices) {
  std::vector<std::vector<int>> neighbours;
  const std::vector<space::Decision>& decisions = space.decisions();
  for (size_t i = 0; i < decisions.size(); ++i) {
    for (int option = 0; option < static_cast<int>(decisions[i].options.size());
         ++option) {
      if (option == choices[i]) continue;
      neighbours.push_back(choices);
      neighbours.back()[i] = option;
    }
  }
  return neighbours;
}

std::optional<std::vector<int>> MutateUnseen(const space::SearchSpace& space,
                                             const std::vector<int>& parent,
                                             SeenKeys& seen,
                                             std::mt19937_64& rng) {
  std::vector<std::vector<int>> neighbours =
      OneDecisionNeighbours(space, parent);
  std::shuffle(neighbours.begin(), neighbours.end(), rng);
  for (std::vector<int>& child : neighbours) {
    if (seen.Insert(space.CanonicalKey(child))) return std::move(child);
  }
  return std::nullopt;
}

namespace {

// Advances `choices` to the next architecture in mixed-radix order, wrapping
// around after the last one.
void Increment(const space::SearchSpace& space, std::vector<int>& choices) {
  const std::vector<space::Decision>& decisions = space.decisions();
  for (size_t i = decisions.size(); i-- > 0;) {
    if (++choices[i] < static_cast<int>(decisions[i].options.size())) return;
    choices[i] = 0;
  }
}

}  // namespace

std::optional<std::vector<int>> SampleUnseen(const space::SearchSpace& space,
                                             SeenKeys& seen,
                                             std::mt19937_64& rng) {
  constexpr int kRejectionAttempts = 256;
  for (int attempt = 0; attempt < kRejectionAttempts; ++attempt) {
    std::vector<int> choices = SampleUniform(space, rng);
    if (seen.Insert(space.CanonicalKey(choices))) return choices;
  }
  const uint64_t total =
      CountArchitectures(space, kEnumerableArchitectures + 1);
  if (total > kEnumerableArchitectures) return std::nullopt;
  std::vector<int> choices = SampleUniform(space, rng);
  for (uint64_t step = 0; step < total; ++step) {
    if (seen.Insert(space.CanonicalKey(choices))) return choices;
    Increment(space, choices);
  }
  return std::nullopt;
}

}  // namespace nas::controller
