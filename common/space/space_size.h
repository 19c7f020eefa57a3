// How big a search space is: architectures (strings of choices) and
// distinct computations (canonical keys). Several architectures may compute
// the same function (an NB201 edge into a dead node, an inactive chain
// layer), and strategies never try one computation twice, so the number of
// computations is what bounds a search.
#ifndef NAS_COMMON_SPACE_SPACE_SIZE_H_
#define NAS_COMMON_SPACE_SPACE_SIZE_H_

#include <cstdint>

#include "common/space/space.h"

namespace nas::space {

struct SpaceSize {
  // Architectures in the space, saturated at UINT64_MAX.
  uint64_t architectures = 0;
  // Distinct canonical keys; exact when `exact`, otherwise an upper bound
  // (the architecture count).
  uint64_t computations = 0;
  bool exact = false;
};

// Counts the computations exactly by enumerating every architecture when
// there are at most `enumeration_limit` of them (NB201 with all five ops:
// 15625); otherwise bounds them by the architecture count.
SpaceSize MeasureSpace(const SearchSpace& space,
                       uint64_t enumeration_limit = uint64_t{1} << 17);

}  // namespace nas::space

#endif  // NAS_COMMON_SPACE_SPACE_SIZE_H_
