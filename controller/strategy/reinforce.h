// REINFORCE policy gradient (Williams 1992) in the style of Zoph & Le's
// NAS controller, without the RNN: an independent softmax per decision.
//
// The policy is rebuilt on every call by replaying the completed trials in
// trial order: each one's reward is its score minus a moving-average
// baseline, divided by a moving standard deviation (so the step size does
// not depend on the metric's scale), and the logits take one gradient step
// on advantage * log-probability plus entropy_weight * entropy. Proposals are
// sampled from the resulting policy, skipping computations already tried or
// pending; a batch is several samples of the same policy.
#ifndef NAS_CONTROLLER_STRATEGY_REINFORCE_H_
#define NAS_CONTROLLER_STRATEGY_REINFORCE_H_

#include <vector>

#include "controller/strategy/search_strategy.h"

namespace nas::controller {

struct ReinforceOptions {
  double learning_rate = 0.2;    // > 0
  double entropy_weight = 0.05;  // >= 0
  double baseline_decay = 0.9;   // in (0, 1)
};

class Reinforce : public SearchStrategy {
 public:
  explicit Reinforce(ReinforceOptions options = {});

  std::vector<std::vector<int>> Propose(const SearchSnapshot& snapshot,
                                        int count) override;

  // The policy's probabilities per decision after replaying the snapshot;
  // exposed for tests.
  std::vector<std::vector<double>> Policy(const SearchSnapshot& snapshot) const;

 private:
  ReinforceOptions options_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STRATEGY_REINFORCE_H_
