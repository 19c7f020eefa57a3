// Test helpers shared by the strategy tests: spaces, snapshots and a hidden
// synthetic objective.
#ifndef NAS_CONTROLLER_STRATEGY_STRATEGY_TEST_UTIL_H_
#define NAS_CONTROLLER_STRATEGY_STRATEGY_TEST_UTIL_H_

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "controller/strategy/search_strategy.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {

inline std::unique_ptr<space::SearchSpace> Nb201Space(
    std::vector<std::string> ops = space::Nb201Ops()) {
  space::Nb201Config config;
  config.ops = std::move(ops);
  std::string error;
  auto s = space::MakeNb201Space(config, &error);
  EXPECT_NE(s, nullptr) << error;
  return s;
}

// Two stages with depth, width and per-layer op decisions: inactive layers
// and identity skips give it same-computation duplicates of its own.
inline std::unique_ptr<space::SearchSpace> ChainSpace() {
  space::ChainConfig config;
  config.stages.push_back({{1, 2, 3}, {16, 24}, {"conv3x3", "ir_k3_e3", "skip"}, 2});
  config.stages.push_back({{1, 2}, {32, 48}, {"ir_k5_e6", "conv5x5", "skip"}, 1});
  std::string error;
  auto s = space::MakeChainSpace(config, &error);
  EXPECT_NE(s, nullptr) << error;
  return s;
}

// Appends proposals as pending trials, as the scheduler does.
inline void AddPending(SearchSnapshot& snapshot,
                       const std::vector<std::vector<int>>& proposals) {
  for (const auto& choices : proposals) {
    TrialView view;
    view.number = static_cast<int>(snapshot.trials.size());
    view.choices = choices;
    view.canonical_key = snapshot.space->CanonicalKey(choices);
    snapshot.trials.push_back(view);
  }
}

inline void AddCompleted(SearchSnapshot& snapshot,
                         const std::vector<int>& choices, double score) {
  AddPending(snapshot, {choices});
  snapshot.trials.back().state = nas::v1::TRIAL_STATE_COMPLETED;
  snapshot.trials.back().score = score;
}

// A completed trial with several objectives (oriented); the first is the
// score, as the scheduler sets it.
inline void AddCompletedMulti(SearchSnapshot& snapshot,
                              const std::vector<int>& choices,
                              std::vector<double> objectives) {
  AddPending(snapshot, {choices});
  snapshot.trials.back().state = nas::v1::TRIAL_STATE_COMPLETED;
  snapshot.trials.back().score = objectives.at(0);
  snapshot.trials.back().objectives = std::move(objectives);
}

// A completed trial that broke a constraint: no score, as the scheduler
// builds it.
inline void AddInfeasible(SearchSnapshot& snapshot,
                          const std::vector<int>& choices) {
  AddPending(snapshot, {choices});
  snapshot.trials.back().state = nas::v1::TRIAL_STATE_COMPLETED;
}

// How many decisions `a` and `b` choose differently. REQUIRES: both come from
// one space (the same length).
inline int Distance(const std::vector<int>& a, const std::vector<int>& b) {
  int d = 0;
  for (size_t i = 0; i < a.size(); ++i) d += a[i] != b[i];
  return d;
}

// A hidden objective: a random weight per (decision, option) plus a random
// weight per pair of adjacent decisions' options, drawn from `seed`.
class SyntheticObjective {
 public:
  SyntheticObjective(const space::SearchSpace& space, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    const auto& decisions = space.decisions();
    for (size_t i = 0; i < decisions.size(); ++i) {
      unary_.emplace_back();
      for (size_t k = 0; k < decisions[i].options.size(); ++k) {
        unary_.back().push_back(normal(rng));
      }
      if (i + 1 < decisions.size()) {
        pairwise_.emplace_back();
        for (size_t k = 0; k < decisions[i].options.size() *
                                   decisions[i + 1].options.size();
             ++k) {
          pairwise_.back().push_back(0.3 * normal(rng));
        }
      }
    }
    for (size_t i = 0; i + 1 < decisions.size(); ++i) {
      widths_.push_back(decisions[i + 1].options.size());
    }
  }

  double operator()(const std::vector<int>& choices) const {
    double score = 0;
    for (size_t i = 0; i < unary_.size(); ++i) score += unary_[i][choices[i]];
    for (size_t i = 0; i < pairwise_.size(); ++i) {
      score += pairwise_[i][choices[i] * widths_[i] + choices[i + 1]];
    }
    return score;
  }

 private:
  std::vector<std::vector<double>> unary_;
  std::vector<std::vector<double>> pairwise_;
  std::vector<size_t> widths_;
};

// Runs `strategy` for `queries` sequential trials on `objective`; returns the
// best score observed.
template <typename Objective>
double BestAfter(SearchStrategy& strategy, const space::SearchSpace& space,
                 const Objective& objective, uint64_t seed, int queries) {
  SearchSnapshot snapshot{&space, seed, {}};
  double best = -1e300;
  for (int q = 0; q < queries; ++q) {
    auto proposals = strategy.Propose(snapshot, 1);
    if (proposals.empty()) break;
    const double score = objective(proposals[0]);
    best = std::max(best, score);
    AddCompleted(snapshot, proposals[0], score);
  }
  return best;
}

}  // namespace nas::controller::testing

#endif  // NAS_CONTROLLER_STRATEGY_STRATEGY_TEST_UTIL_H_
