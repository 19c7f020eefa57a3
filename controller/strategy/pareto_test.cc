#include "controller/strategy/pareto.h"

#include <limits>

#include "gtest/gtest.h"

namespace nas::controller {
namespace {

using Points = std::vector<std::vector<double>>;
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(ParetoTest, DominanceNeedsOneStrictImprovement) {
  EXPECT_TRUE(Dominates({2, 2}, {1, 2}));
  EXPECT_TRUE(Dominates({2, 3}, {1, 2}));
  EXPECT_FALSE(Dominates({1, 2}, {2, 2}));
  EXPECT_FALSE(Dominates({2, 2}, {2, 2}));  // equal points: neither
  EXPECT_FALSE(Dominates({3, 1}, {1, 3}));  // a trade-off: neither
  EXPECT_FALSE(Dominates({1, 3}, {3, 1}));
}

TEST(ParetoTest, FrontsPeelLayers) {
  //   0:(1,5) 1:(3,3) 2:(5,1) front 0; 3:(2,2) 4:(2,2) dominated by 1 only;
  //   5:(1,1) dominated by 3 and 4 too; 6:(3,3) equals 1.
  const Points points = {{1, 5}, {3, 3}, {5, 1}, {2, 2},
                         {2, 2}, {1, 1}, {3, 3}};
  const std::vector<std::vector<int>> fronts = NonDominatedFronts(points);
  ASSERT_EQ(fronts.size(), 3u);
  EXPECT_EQ(fronts[0], (std::vector<int>{0, 1, 2, 6}));
  EXPECT_EQ(fronts[1], (std::vector<int>{3, 4}));
  EXPECT_EQ(fronts[2], (std::vector<int>{5}));
  EXPECT_TRUE(NonDominatedFronts({}).empty());
}

TEST(ParetoTest, CrowdingGivesExtremesInfinityAndNormalizesGaps) {
  // One front along a line: x in {0, 1, 3, 10}, y = -x.
  const Points points = {{0, 0}, {1, -1}, {3, -3}, {10, -10}};
  const std::vector<double> d = CrowdingDistances(points, {0, 1, 2, 3});
  EXPECT_EQ(d[0], kInf);
  EXPECT_EQ(d[3], kInf);
  // Each objective contributes (next - previous) / range.
  EXPECT_DOUBLE_EQ(d[1], 2 * (3.0 - 0.0) / 10);
  EXPECT_DOUBLE_EQ(d[2], 2 * (10.0 - 1.0) / 10);
  // Fronts of one or two points keep every member.
  EXPECT_EQ(CrowdingDistances(points, {1, 2}),
            (std::vector<double>{kInf, kInf}));
}

TEST(ParetoTest, NsgaOrderIsFrontThenCrowding) {
  const Points points = {{0, 10}, {4, 6}, {5, 5}, {10, 0}, {1, 1}, {6, 4}};
  // Front 0: 0, 1, 2, 3, 5. Extremes 0 and 3 first; among 1 (4,6), 2 (5,5)
  // and 5 (6,4): 1 has neighbours 0 and 2 -> (5-0)/10 + (10-5)/10 = 1.0;
  // 2 has 1 and 5 -> 0.2 + 0.2 = 0.4; 5 has 2 and 3 -> 0.5 + 0.5 = 1.0.
  // Then the dominated 4.
  EXPECT_EQ(NsgaOrder(points), (std::vector<int>{0, 3, 1, 5, 2, 4}));
}

}  // namespace
}  // namespace nas::controller
