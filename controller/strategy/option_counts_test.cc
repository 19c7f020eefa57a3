#include "controller/strategy/option_counts.h"

#include "controller/strategy/active_decisions.h"
#include "controller/strategy/strategy_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

TEST(OptionCountsTest, CountsEachOpOfACell) {
  auto space = testing::Nb201Space();
  OptionCounts counts(*space);
  // Six edges share one list of five ops: one group of five counts.
  ASSERT_EQ(counts.size(), 5);
  std::vector<int> x = {3, 3, 1, 3, 4, 1};
  counts.Append(x);
  // none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3.
  EXPECT_EQ(x, (std::vector<int>{3, 3, 1, 3, 4, 1, 0, 2, 0, 3, 1}));
}

TEST(OptionCountsTest, InactiveDecisionsCountForNothing) {
  auto space = testing::Nb201Space();
  OptionCounts counts(*space);
  ActiveDecisions active;
  // 0->1 is none: 1->2 and 1->3 are inactive.
  std::vector<int> x = active.Effective(*space, {0, 3, 2, 3, 4, 1});
  counts.Append(x);
  EXPECT_EQ(std::vector<int>(x.begin() + 6, x.end()),
            (std::vector<int>{1, 1, 0, 2, 0}));
}

TEST(OptionCountsTest, SameCountsWhereverTheOpsAre) {
  auto space = testing::Nb201Space();
  OptionCounts counts(*space);
  std::vector<int> a = {3, 1, 3, 2, 3, 2};
  std::vector<int> b = {2, 3, 2, 3, 1, 3};
  counts.Append(a);
  counts.Append(b);
  EXPECT_EQ(std::vector<int>(a.begin() + 6, a.end()),
            std::vector<int>(b.begin() + 6, b.end()));
}

TEST(OptionCountsTest, GroupsOnlyDecisionsWithTheSameOptions) {
  // Stage 1 layers share {conv3x3, ir_k3_e3, skip}, stage 2 layers
  // {ir_k5_e6, conv5x5, skip}; depth and width decisions have lists of
  // their own and are not counted.
  auto space = testing::ChainSpace();
  OptionCounts counts(*space);
  EXPECT_EQ(counts.size(), 6);
  std::vector<int> x(space->decisions().size(), 0);
  counts.Append(x);
  int total = 0;
  for (size_t i = space->decisions().size(); i < x.size(); ++i) total += x[i];
  int layer_decisions = 0;
  for (const auto& d : space->decisions()) {
    layer_decisions += d.options.size() == 3 && d.options[2] == "skip";
  }
  EXPECT_EQ(total, layer_decisions);
}

}  // namespace
}  // namespace nas::controller
