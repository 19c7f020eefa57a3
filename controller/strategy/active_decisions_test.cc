#include "controller/strategy/active_decisions.h"

#include "controller/strategy/strategy_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

constexpr int kOff = ActiveDecisions::kInactive;

TEST(ActiveDecisionsTest, EveryEdgeMattersInAFullCell) {
  auto space = testing::Nb201Space();
  ActiveDecisions active;
  const std::vector<int> convs = {3, 3, 3, 3, 3, 3};
  EXPECT_EQ(active.Effective(*space, convs), convs);
}

TEST(ActiveDecisionsTest, EdgesOutOfAZeroNodeAreInactive) {
  auto space = testing::Nb201Space();
  ActiveDecisions active;
  // 0->1 is none: node 1 is zero, so 1->2 and 1->3 cannot matter.
  EXPECT_EQ(active.Effective(*space, {0, 3, 2, 3, 4, 1}),
            (std::vector<int>{0, 3, kOff, 3, kOff, 1}));
}

TEST(ActiveDecisionsTest, LayersBeyondTheDepthAreInactive) {
  auto space = testing::ChainSpace();
  ActiveDecisions active;
  // Stage 1 depth 1 (option 0): layers 2 and 3 are inactive; stage 2 has
  // depth 2, both layers active.
  const std::vector<int> choices = {0, 1, 0, 1, 1, 1, 0, 0, 1};
  const std::vector<int> effective = active.Effective(*space, choices);
  EXPECT_EQ(effective[3], kOff);
  EXPECT_EQ(effective[4], kOff);
  EXPECT_EQ(effective[2], 0);
  EXPECT_EQ(effective[7], 0);
}

TEST(ActiveDecisionsTest, SameComputationLooksTheSame) {
  auto space = testing::Nb201Space();
  ActiveDecisions active;
  const std::vector<int> a = {0, 3, 2, 3, 4, 1};
  const std::vector<int> b = {0, 3, 1, 3, 2, 1};
  ASSERT_EQ(space->CanonicalKey(a), space->CanonicalKey(b));
  EXPECT_EQ(active.Effective(*space, a), active.Effective(*space, b));
}

}  // namespace
}  // namespace nas::controller
