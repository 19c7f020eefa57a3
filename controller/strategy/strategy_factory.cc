#include "controller/strategy/random_search.h"
#include "controller/strategy/search_strategy.h"

namespace nas::controller {

absl::StatusOr<std::unique_ptr<SearchStrategy>> MakeSearchStrategy(
    const nas::v1::StrategySpec& spec) {
  switch (spec.kind_case()) {
    case nas::v1::StrategySpec::kRandom:
      return std::make_unique<RandomSearch>();
    case nas::v1::StrategySpec::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "strategy: must name a strategy (one of: random)");
}

}  // namespace nas::controller
