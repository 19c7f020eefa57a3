#include "common/space/space_size.h"

#include <limits>
#include <string>
#include <unordered_set>
#include <vector>

namespace nas::space {

SpaceSize MeasureSpace(const SearchSpace& space, uint64_t enumeration_limit) {
  SpaceSize size;
  const std::vector<Decision>& decisions = space.decisions();
  uint64_t total = 1;
  for (const Decision& d : decisions) {
    const uint64_t n = d.options.size();
    if (n != 0 && total > std::numeric_limits<uint64_t>::max() / n) {
      total = std::numeric_limits<uint64_t>::max();
      break;
    }
    total *= n;
  }
  size.architectures = total;
  size.computations = total;
  if (total == 0 || total > enumeration_limit) return size;

  // Mixed-radix enumeration of every choice vector.
  std::unordered_set<std::string> keys;
  std::vector<int> choices(decisions.size(), 0);
  for (uint64_t i = 0; i < total; ++i) {
    keys.insert(space.CanonicalKey(choices));
    for (size_t d = decisions.size(); d-- > 0;) {
      if (++choices[d] < static_cast<int>(decisions[d].options.size())) break;
      choices[d] = 0;
    }
  }
  size.computations = keys.size();
  size.exact = true;
  return size;
}

}  // namespace nas::space
