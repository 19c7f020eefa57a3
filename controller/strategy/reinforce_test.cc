#include "controller/strategy/reinforce.h"

#include "controller/strategy/strategy_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

TEST(ReinforceTest, StartsUniform) {
  auto space = testing::Nb201Space();
  Reinforce reinforce;
  SearchSnapshot snapshot{space.get(), 1, {}};
  for (const auto& p : reinforce.Policy(snapshot)) {
    for (double v : p) EXPECT_DOUBLE_EQ(v, 0.2);
  }
}

TEST(ReinforceTest, PolicyMovesTowardRewardedOptions) {
  auto space = testing::Nb201Space();
  Reinforce reinforce;
  SearchSnapshot snapshot{space.get(), 2, {}};
  // Reward depends on edge 0 only: option 3 pays. The scale is arbitrary
  // (rewards are normalized).
  for (int q = 0; q < 60; ++q) {
    auto proposals = reinforce.Propose(snapshot, 1);
    ASSERT_EQ(proposals.size(), 1u);
    testing::AddCompleted(snapshot, proposals[0],
                          proposals[0][0] == 3 ? 1000.0 : 10.0);
  }
  const auto policy = reinforce.Policy(snapshot);
  for (int k = 0; k < 5; ++k) {
    if (k != 3) {
      EXPECT_GT(policy[0][3], policy[0][k]);
    }
  }
  EXPECT_GT(policy[0][3], 0.5);
}

TEST(ReinforceTest, EntropyBonusKeepsThePolicyFromCollapsing) {
  auto space = testing::Nb201Space();
  Reinforce greedy({/*learning_rate=*/0.5, /*entropy_weight=*/0.0, 0.9});
  Reinforce exploring({/*learning_rate=*/0.5, /*entropy_weight=*/2.0, 0.9});
  SearchSnapshot snapshot{space.get(), 3, {}};
  for (int q = 0; q < 60; ++q) {
    auto proposals = greedy.Propose(snapshot, 1);
    testing::AddCompleted(snapshot, proposals[0], proposals[0][1] == 2 ? 1 : 0);
  }
  EXPECT_GT(greedy.Policy(snapshot)[1][2], exploring.Policy(snapshot)[1][2]);
}

}  // namespace
}  // namespace nas::controller
