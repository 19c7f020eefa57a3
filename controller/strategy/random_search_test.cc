#include "controller/strategy/random_search.h"

#include <set>

#include "controller/strategy/strategy_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

using testing::AddPending;

TEST(RandomSearch, ProposalsAreValidAndDistinctComputations) {
  auto space = testing::Nb201Space();
  SearchSnapshot snapshot{space.get(), 42, {}};
  RandomSearch strategy;
  std::set<std::string> keys;
  for (int round = 0; round < 20; ++round) {
    auto proposals = strategy.Propose(snapshot, 8);
    ASSERT_EQ(proposals.size(), 8u);
    for (const auto& choices : proposals) {
      EXPECT_EQ(space->Validate(choices), "");
      EXPECT_TRUE(keys.insert(space->CanonicalKey(choices)).second)
          << "duplicate computation " << space->Render(choices);
    }
    AddPending(snapshot, proposals);
  }
}

TEST(RandomSearch, DeterministicUnderSeed) {
  auto space = testing::Nb201Space();
  RandomSearch strategy;
  SearchSnapshot a{space.get(), 7, {}};
  SearchSnapshot b{space.get(), 7, {}};
  SearchSnapshot c{space.get(), 8, {}};
  EXPECT_EQ(strategy.Propose(a, 5), strategy.Propose(b, 5));
  EXPECT_NE(strategy.Propose(a, 5), strategy.Propose(c, 5));
}

TEST(RandomSearch, StopsWhenTheSpaceIsExhausted) {
  // One edge op choice: {none, skip} on six edges, with few distinct
  // computations; the strategy must return fewer proposals, not loop.
  space::Nb201Config config;
  config.ops = {"none", "skip_connect"};
  std::string error;
  auto space = space::MakeNb201Space(config, &error);
  ASSERT_NE(space, nullptr) << error;
  SearchSnapshot snapshot{space.get(), 1, {}};
  RandomSearch strategy;
  std::vector<std::vector<int>> all;
  for (int round = 0; round < 10; ++round) {
    auto proposals = strategy.Propose(snapshot, 64);
    AddPending(snapshot, proposals);
    all.insert(all.end(), proposals.begin(), proposals.end());
  }
  EXPECT_LT(all.size(), 64u);  // 2^6 strings, far fewer computations
  std::set<std::string> keys;
  for (const auto& c : all) keys.insert(space->CanonicalKey(c));
  EXPECT_EQ(keys.size(), all.size());
}

TEST(StrategyFactory, RefusesAnUnsetStrategy) {
  nas::v1::StrategySpec spec;
  EXPECT_EQ(MakeSearchStrategy(spec).status().code(),
            absl::StatusCode::kInvalidArgument);
  spec.mutable_random();
  EXPECT_TRUE(MakeSearchStrategy(spec).ok());
}

}  // namespace
}  // namespace nas::controller
