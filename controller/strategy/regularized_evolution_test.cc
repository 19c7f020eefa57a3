#include "controller/strategy/regularized_evolution.h"

#include "controller/strategy/strategy_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

using testing::Distance;

TEST(RegularizedEvolutionTest, ChildrenMutateOneDecisionOfTheLivingPopulation) {
  auto space = testing::Nb201Space();
  RegularizedEvolution evolution({/*population_size=*/4, /*sample_size=*/2});
  SearchSnapshot snapshot{space.get(), 5, {}};
  // A superb old trial, then four recent ones far from it: only the four
  // recent ones are alive, so no child may descend from the old one.
  testing::AddCompleted(snapshot, {0, 0, 0, 0, 0, 0}, 100);
  const std::vector<std::vector<int>> recent = {
      {3, 3, 3, 3, 3, 3}, {4, 3, 3, 3, 3, 3}, {3, 4, 3, 3, 3, 3},
      {3, 3, 4, 3, 3, 3}};
  for (size_t i = 0; i < recent.size(); ++i) {
    testing::AddCompleted(snapshot, recent[i], static_cast<double>(i));
  }
  for (const auto& child : evolution.Propose(snapshot, 8)) {
    int nearest = 99;
    for (const auto& parent : recent) {
      nearest = std::min(nearest, Distance(child, parent));
    }
    EXPECT_EQ(nearest, 1) << space->Render(child);
    EXPECT_GT(Distance(child, {0, 0, 0, 0, 0, 0}), 1);
  }
}

TEST(RegularizedEvolutionTest, TournamentOfTheWholePopulationPicksTheBest) {
  auto space = testing::Nb201Space();
  RegularizedEvolution evolution({/*population_size=*/3, /*sample_size=*/3});
  SearchSnapshot snapshot{space.get(), 9, {}};
  testing::AddCompleted(snapshot, {1, 1, 1, 1, 1, 1}, 1);
  testing::AddCompleted(snapshot, {3, 3, 3, 3, 3, 3}, 3);
  testing::AddCompleted(snapshot, {2, 2, 2, 2, 2, 2}, 2);
  for (const auto& child : evolution.Propose(snapshot, 5)) {
    EXPECT_EQ(Distance(child, {3, 3, 3, 3, 3, 3}), 1);
  }
}

TEST(RegularizedEvolutionTest, StartsWithRandomArchitectures) {
  auto space = testing::Nb201Space();
  RegularizedEvolution evolution({/*population_size=*/10, /*sample_size=*/3});
  SearchSnapshot snapshot{space.get(), 9, {}};
  testing::AddCompleted(snapshot, {3, 3, 3, 3, 3, 3}, 1);
  // With one of ten initial trials done, the rest are random: at most a
  // chance few of nine land next to the first.
  int neighbours = 0;
  for (const auto& c : evolution.Propose(snapshot, 9)) {
    neighbours += Distance(c, {3, 3, 3, 3, 3, 3}) == 1;
  }
  EXPECT_LE(neighbours, 2);
}

}  // namespace
}  // namespace nas::controller
