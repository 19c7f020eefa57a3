#include "controller/strategy/active_decisions.h"

#include <string>

namespace nas::controller {

size_t ActiveDecisions::VectorHash::operator()(
    const std::vector<int>& v) const {
  size_t h = 0xcbf29ce484222325ULL;
  for (int x : v) h = (h ^ static_cast<size_t>(x + 1)) * 0x100000001b3ULL;
  return h;
}

std::vector<int> ActiveDecisions::Effective(
    const space::SearchSpace& space, const std::vector<int>& choices) {
  if (space_ != &space) {
    cache_.clear();
    space_ = &space;
  }
  auto it = cache_.find(choices);
  if (it != cache_.end()) return it->second;
  // Bounds memory on large spaces, where candidates rarely repeat.
  constexpr size_t kMaxCached = size_t{1} << 18;
  if (cache_.size() >= kMaxCached) cache_.clear();

  const std::vector<space::Decision>& decisions = space.decisions();
  const std::string key = space.CanonicalKey(choices);
  std::vector<int> effective = choices;
  std::vector<int> probe = choices;
  for (size_t i = 0; i < decisions.size(); ++i) {
    bool active = false;
    for (int option = 0;
         option < static_cast<int>(decisions[i].options.size()) && !active;
         ++option) {
      if (option == choices[i]) continue;
      probe[i] = option;
      active = space.CanonicalKey(probe) != key;
    }
    probe[i] = choices[i];
    if (!active) effective[i] = kInactive;
  }
  return cache_.emplace(choices, std::move(effective)).first->second;
}

}  // namespace nas::controller
