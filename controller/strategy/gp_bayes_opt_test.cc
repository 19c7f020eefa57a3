#include "controller/strategy/gp_bayes_opt.h"

#include <random>

#include "controller/strategy/strategy_test_util.h"
#include "controller/strategy/strategy_util.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

TEST(GpBayesOptTest, StartsWithDistinctRandomArchitectures) {
  auto space = testing::Nb201Space();
  GpBayesOptOptions options;
  options.initial_random_trials = 6;
  GpBayesOpt strategy(options);
  SearchSnapshot snapshot{space.get(), 3, {}};
  auto proposals = strategy.Propose(snapshot, 6);
  ASSERT_EQ(proposals.size(), 6u);
  SearchSnapshot same{space.get(), 3, {}};
  EXPECT_EQ(GpBayesOpt(options).Propose(same, 6), proposals);
}

TEST(GpBayesOptTest, RecommendationResistsNoise) {
  // Noisy scores of a hidden objective: the model's best posterior mean is
  // on average truly better than the best noisy observation.
  auto space = testing::Nb201Space();
  GpBayesOptOptions options;
  options.initial_random_trials = 5;
  options.random_candidates = 50;
  double model_total = 0, observed_total = 0;
  for (uint64_t seed = 0; seed < 4; ++seed) {
    testing::SyntheticObjective objective(*space, 40 + seed);
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0, 1.0);
    GpBayesOpt strategy(options);
    SearchSnapshot snapshot{space.get(), seed, {}};
    for (int q = 0; q < 40; ++q) {
      auto proposals = strategy.Propose(snapshot, 1);
      ASSERT_EQ(proposals.size(), 1u);
      testing::AddCompleted(snapshot, proposals[0],
                            objective(proposals[0]) + noise(rng));
    }
    model_total +=
        objective(snapshot.trials[*strategy.Recommend(snapshot)].choices);
    observed_total +=
        objective(snapshot.trials[*BestObservedTrial(snapshot)].choices);
  }
  EXPECT_GE(model_total, observed_total);
}

}  // namespace
}  // namespace nas::controller
