// WithStrategyDefaults: the stored spec names the values that run, and
// building a strategy from it changes nothing.
#include <vector>

#include "controller/strategy/search_strategy.h"
#include "controller/strategy/strategy_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

// Proposals of `spec`'s strategy over a short simulated search, so that
// two specs can be compared by what they do.
std::vector<std::vector<int>> Simulate(const nas::v1::StrategySpec& spec) {
  auto strategy = MakeSearchStrategy(spec);
  EXPECT_TRUE(strategy.ok()) << strategy.status();
  if (!strategy.ok()) return {};
  auto space = Nb201Space();
  SearchSnapshot snapshot{space.get(), /*seed=*/7, {}};
  std::vector<std::vector<int>> all;
  for (int step = 0; step < 30; ++step) {
    auto proposals = (*strategy)->Propose(snapshot, 1);
    if (proposals.empty()) break;
    all.push_back(proposals[0]);
    double score = 0;
    for (int c : proposals[0]) score += (c == 3) - 0.1 * c;
    AddCompleted(snapshot, proposals[0], score);
  }
  return all;
}

TEST(WithStrategyDefaults, FillsEveryDefaultOfEachStrategy) {
  nas::v1::StrategySpec evolution;
  evolution.mutable_evolution();
  const nas::v1::StrategySpec e = WithStrategyDefaults(evolution);
  EXPECT_EQ(e.evolution().population_size(), 20);
  EXPECT_EQ(e.evolution().sample_size(), 5);

  nas::v1::StrategySpec small;
  small.mutable_evolution()->set_population_size(3);
  EXPECT_EQ(WithStrategyDefaults(small).evolution().sample_size(), 3);

  nas::v1::StrategySpec reinforce;
  reinforce.mutable_reinforce();
  const nas::v1::StrategySpec r = WithStrategyDefaults(reinforce);
  EXPECT_EQ(r.reinforce().learning_rate(), 0.2);
  EXPECT_EQ(r.reinforce().entropy_weight(), 0.05);
  EXPECT_EQ(r.reinforce().baseline_decay(), 0.9);

  nas::v1::StrategySpec gp;
  gp.mutable_gp_bayes_opt();
  const nas::v1::StrategySpec g = WithStrategyDefaults(gp);
  EXPECT_EQ(g.gp_bayes_opt().initial_random_trials(), 5);
  EXPECT_EQ(g.gp_bayes_opt().local_starts(), 10);
  EXPECT_EQ(g.gp_bayes_opt().random_candidates(), 200);
  EXPECT_EQ(g.gp_bayes_opt().max_train(), 300);
  EXPECT_EQ(g.gp_bayes_opt().thompson_every(), 1);
  EXPECT_EQ(g.gp_bayes_opt().thompson_candidates(), 100);
}

TEST(WithStrategyDefaults, KeepsWhatTheUserSetIncludingOff) {
  nas::v1::StrategySpec reinforce;
  reinforce.mutable_reinforce()->set_entropy_weight(-1);  // bonus off
  reinforce.mutable_reinforce()->set_learning_rate(0.5);
  const nas::v1::StrategySpec r = WithStrategyDefaults(reinforce);
  EXPECT_EQ(r.reinforce().entropy_weight(), -1);
  EXPECT_EQ(r.reinforce().learning_rate(), 0.5);

  nas::v1::StrategySpec gp;
  gp.mutable_gp_bayes_opt()->set_thompson_every(-1);  // never
  gp.mutable_gp_bayes_opt()->set_disable_relevance(true);
  const nas::v1::StrategySpec g = WithStrategyDefaults(gp);
  EXPECT_EQ(g.gp_bayes_opt().thompson_every(), -1);
  EXPECT_TRUE(g.gp_bayes_opt().disable_relevance());
}

TEST(WithStrategyDefaults, TheFilledSpecRunsTheSameStrategy) {
  std::vector<nas::v1::StrategySpec> specs(4);
  specs[0].mutable_evolution()->set_population_size(4);
  specs[1].mutable_reinforce();
  specs[2].mutable_reinforce()->set_entropy_weight(-1);
  specs[3].mutable_gp_bayes_opt()->set_thompson_every(-1);
  for (const nas::v1::StrategySpec& spec : specs) {
    const nas::v1::StrategySpec filled = WithStrategyDefaults(spec);
    EXPECT_EQ(Simulate(spec), Simulate(filled)) << spec.ShortDebugString();
    // Filling twice is filling once.
    EXPECT_EQ(WithStrategyDefaults(filled).SerializeAsString(),
              filled.SerializeAsString());
  }
}

}  // namespace
}  // namespace nas::controller::testing
