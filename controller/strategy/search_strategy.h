// Search strategies decide which architectures to try next. They only decide:
// they read an immutable snapshot of a search's trials and return choice
// vectors; they never touch the database, gRPC or Torch. Because a strategy
// rebuilds everything it knows from the snapshot (and seeds its randomness
// from the search seed and the snapshot's size), a controller restarted
// mid-search continues the same search rather than starting over.
#ifndef NAS_CONTROLLER_STRATEGY_SEARCH_STRATEGY_H_
#define NAS_CONTROLLER_STRATEGY_SEARCH_STRATEGY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "common/space/space.h"
#include "nas/v1/search.pb.h"

namespace nas::controller {

// What a strategy may know about one trial.
struct TrialView {
  int number = 0;
  std::vector<int> choices;
  std::string canonical_key;
  nas::v1::TrialState state = nas::v1::TRIAL_STATE_PENDING;
  // The first objective's value, oriented so that larger is better; set only
  // for COMPLETED trials that meet every constraint. An infeasible trial has
  // no score, so no strategy builds on it or recommends it, yet it stays in
  // the snapshot so that it is not proposed again.
  std::optional<double> score;
  // Every objective, oriented like score, in spec order; set exactly when
  // score is. Single-objective strategies use score (the first objective)
  // only; evolution uses all of them when there are several.
  std::vector<double> objectives;
};

struct SearchSnapshot {
  const space::SearchSpace* space = nullptr;  // not owned
  uint64_t seed = 0;
  // Every trial of the search, in number order, including pending and
  // running ones that have no result yet.
  std::vector<TrialView> trials;
  // When set, exactly the canonical keys of `trials`: an index the caller
  // keeps up to date as trials are added, so that a strategy step need not
  // rebuild it from every trial (SeenKeys, strategy_util.h). Not owned.
  const std::unordered_set<std::string>* keys = nullptr;
};

class SearchStrategy {
 public:
  virtual ~SearchStrategy() = default;

  // Proposes up to `count` architectures, each valid in snapshot.space and
  // none the same computation (canonical key) as a trial in the snapshot or
  // as another proposal. Returns fewer when the space is exhausted.
  // Deterministic: the same snapshot gives the same proposals.
  virtual std::vector<std::vector<int>> Propose(const SearchSnapshot& snapshot,
                                                int count) = 0;

  // The number of the completed trial this strategy would return as the
  // search's result, or nullopt when no trial has completed. The default is
  // the best observed score; model-based strategies may prefer the trial
  // their model rates best, which matters when scores are noisy.
  // Deterministic, like Propose.
  virtual std::optional<int> Recommend(const SearchSnapshot& snapshot);
};

// InvalidArgument for a spec naming no strategy.
absl::StatusOr<std::unique_ptr<SearchStrategy>> MakeSearchStrategy(
    const nas::v1::StrategySpec& spec);

// `spec` with every option left 0 ("the default") set to the value
// MakeSearchStrategy uses for it, so that the stored spec says what runs;
// MakeSearchStrategy builds the same strategy from either.
nas::v1::StrategySpec WithStrategyDefaults(nas::v1::StrategySpec spec);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STRATEGY_SEARCH_STRATEGY_H_
