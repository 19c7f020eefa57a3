#include "controller/strategy/search_strategy.h"

#include "controller/strategy/strategy_util.h"

namespace nas::controller {

std::optional<int> SearchStrategy::Recommend(const SearchSnapshot& snapshot) {
  return BestObservedTrial(snapshot);
}

}  // namespace nas::controller
