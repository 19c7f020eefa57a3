#include "controller/strategy/option_counts.h"

#include <map>
#include <string>

namespace nas::controller {

OptionCounts::OptionCounts(const space::SearchSpace& space) {
  // std::map keeps the groups in a fixed order: features line up across
  // calls and processes.
  std::map<std::vector<std::string>, std::vector<int>> by_options;
  const std::vector<space::Decision>& decisions = space.decisions();
  for (size_t i = 0; i < decisions.size(); ++i) {
    by_options[decisions[i].options].push_back(static_cast<int>(i));
  }
  for (auto& [options, members] : by_options) {
    // A lone decision's count features would only repeat the decision.
    if (members.size() < 2 || options.size() < 2) continue;
    groups_.push_back({members, static_cast<int>(options.size())});
    size_ += static_cast<int>(options.size());
  }
}

void OptionCounts::Append(std::vector<int>& effective) const {
  for (const Group& group : groups_) {
    const size_t base = effective.size();
    effective.resize(base + group.options, 0);
    for (int d : group.decisions) {
      if (effective[d] >= 0) ++effective[base + effective[d]];
    }
  }
}

}  // namespace nas::controller
