#ifndef NAS_CONTROLLER_STRATEGY_RANDOM_SEARCH_H_
#define NAS_CONTROLLER_STRATEGY_RANDOM_SEARCH_H_

#include "controller/strategy/search_strategy.h"

namespace nas::controller {

// Uniform sampling over the decisions, rejecting same-computation duplicates.
class RandomSearch : public SearchStrategy {
 public:
  std::vector<std::vector<int>> Propose(const SearchSnapshot& snapshot,
                                        int count) override;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STRATEGY_RANDOM_SEARCH_H_
