// Which decisions of an architecture matter. A decision is inactive at an
// architecture when no other option changes the canonical key (an NB201
// edge into a node that never reaches the output, a chain layer beyond the
// stage's depth). Model-based strategies compare architectures on their
// active decisions only, so the same computation always looks the same.
// Uses nothing but SearchSpace::CanonicalKey, so it works on every space.
#ifndef NAS_CONTROLLER_STRATEGY_ACTIVE_DECISIONS_H_
#define NAS_CONTROLLER_STRATEGY_ACTIVE_DECISIONS_H_

#include <cstddef>
#include <unordered_map>
#include <vector>

#include "common/space/space.h"

namespace nas::controller {

// Memoizes results per space; not thread-safe.
class ActiveDecisions {
 public:
  static constexpr int kInactive = -1;

  // `choices` with every inactive decision replaced by kInactive.
  // REQUIRES: space.Validate(choices) is empty. The cache is dropped when
  // a different space is passed.
  std::vector<int> Effective(const space::SearchSpace& space,
                             const std::vector<int>& choices);

 private:
  struct VectorHash {
    size_t operator()(const std::vector<int>& v) const;
  };

  const space::SearchSpace* space_ = nullptr;
  std::unordered_map<std::vector<int>, std::vector<int>, VectorHash> cache_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STRATEGY_ACTIVE_DECISIONS_H_
