#include "common/space/space_size.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace nas::space {
namespace {

std::unique_ptr<SearchSpace> Nb201(std::vector<std::string> ops) {
  Nb201Config config;
  config.ops = std::move(ops);
  std::string error;
  auto space = MakeNb201Space(config, &error);
  EXPECT_NE(space, nullptr) << error;
  return space;
}

TEST(MeasureSpaceTest, CountsNb201ComputationsExactly) {
  // 2^6 cells of none/skip_connect compute k times the input, k the
  // number of all-skip paths from input to output: 0, 1, 2, 3 or 4.
  const SpaceSize small = MeasureSpace(*Nb201({"none", "skip_connect"}));
  EXPECT_EQ(small.architectures, 64u);
  EXPECT_TRUE(small.exact);
  EXPECT_EQ(small.computations, 5u);

  // The whole benchmark space: the figure nb201_cell.h explains.
  const SpaceSize full = MeasureSpace(*Nb201(Nb201Ops()));
  EXPECT_EQ(full.architectures, 15625u);
  EXPECT_TRUE(full.exact);
  EXPECT_EQ(full.computations, 5260u);
}

TEST(MeasureSpaceTest, BoundsSpacesPastTheLimit) {
  const SpaceSize bounded = MeasureSpace(*Nb201(Nb201Ops()), 1000);
  EXPECT_FALSE(bounded.exact);
  EXPECT_EQ(bounded.architectures, 15625u);
  EXPECT_EQ(bounded.computations, 15625u);
}

TEST(MeasureSpaceTest, SaturatesHugeSpaces) {
  ChainConfig config;
  for (int i = 0; i < 12; ++i) {
    ChainStageConfig stage;
    stage.depths = {1, 2, 3, 4};
    stage.widths = {8, 16, 24, 32, 48, 64};
    stage.ops = ChainOps();
    config.stages.push_back(stage);
  }
  std::string error;
  auto space = MakeChainSpace(config, &error);
  ASSERT_NE(space, nullptr) << error;
  const SpaceSize size = MeasureSpace(*space);
  EXPECT_FALSE(size.exact);
  EXPECT_EQ(size.architectures, std::numeric_limits<uint64_t>::max());
}

}  // namespace
}  // namespace nas::space
