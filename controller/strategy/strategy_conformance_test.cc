// The contract every search strategy keeps (search_strategy.h), checked for
// each one through the factory: valid proposals, no same-computation
// duplicates (also within batches and against pending trials), determinism
// and restarts, graceful exhaustion, and better than random on a hidden
// objective.
#include <ostream>
#include <set>

#include "controller/strategy/search_strategy.h"
#include "controller/strategy/strategy_test_util.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

using testing::AddCompleted;
using testing::AddPending;

struct StrategyConfig {
  const char* name;  // the test name's suffix
  const char* text;  // a StrategySpec in text format
};

void PrintTo(const StrategyConfig& config, std::ostream* os) {
  *os << config.text;
}

// Small configurations keep the suite fast; defaults are covered by the
// benchmark. gp_bayes_opt runs once per branch of its options: Thompson
// sampling on every proposal (the default), expected improvement only, and
// a mix of the two with the training cap reached (max_train 10) and the
// plain kernel (no option counts, one relevance for all features).
const StrategyConfig kStrategies[] = {
    {"random", "random {}"},
    {"evolution", "evolution {population_size: 10 sample_size: 3}"},
    {"reinforce", "reinforce {}"},
    {"local_search", "local_search {}"},
    {"local_search_first_improvement",
     "local_search {first_improvement: true}"},
    {"gp_bayes_opt_thompson",
     "gp_bayes_opt {initial_random_trials: 5 random_candidates: 50}"},
    {"gp_bayes_opt_expected_improvement",
     "gp_bayes_opt {initial_random_trials: 5 random_candidates: 50 "
     "thompson_every: -1}"},
    {"gp_bayes_opt_mixed_capped_plain_kernel",
     "gp_bayes_opt {initial_random_trials: 5 random_candidates: 50 "
     "thompson_every: 2 max_train: 10 disable_option_counts: true "
     "disable_relevance: true}"},
};

std::unique_ptr<SearchStrategy> Make(const std::string& text) {
  nas::v1::StrategySpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec));
  auto strategy = MakeSearchStrategy(spec);
  EXPECT_TRUE(strategy.ok()) << strategy.status();
  return strategy.ok() ? std::move(*strategy) : nullptr;
}

class StrategyConformance : public ::testing::TestWithParam<StrategyConfig> {
 protected:
  std::unique_ptr<SearchStrategy> NewStrategy() {
    return Make(GetParam().text);
  }
};

// Completes every pending trial with the hidden objective's score.
template <typename Objective>
void CompleteAll(SearchSnapshot& snapshot, const Objective& objective) {
  for (TrialView& t : snapshot.trials) {
    if (t.state == nas::v1::TRIAL_STATE_PENDING) {
      t.state = nas::v1::TRIAL_STATE_COMPLETED;
      t.score = objective(t.choices);
    }
  }
}

TEST_P(StrategyConformance, ValidDistinctProposalsWithPendingBatches) {
  std::vector<std::unique_ptr<space::SearchSpace>> spaces;
  spaces.push_back(testing::Nb201Space());
  spaces.push_back(testing::ChainSpace());
  for (const auto& space : spaces) {
    auto strategy = NewStrategy();
    testing::SyntheticObjective objective(*space, 3);
    SearchSnapshot snapshot{space.get(), 42, {}};
    std::set<std::string> keys;
    for (int round = 0; round < 6; ++round) {
      // Two batches in flight at once: the second is proposed while the
      // first is still pending.
      for (int batch = 0; batch < 2; ++batch) {
        auto proposals = strategy->Propose(snapshot, 6);
        ASSERT_EQ(proposals.size(), 6u) << "round " << round;
        for (const auto& choices : proposals) {
          ASSERT_EQ(space->Validate(choices), "");
          EXPECT_TRUE(keys.insert(space->CanonicalKey(choices)).second)
              << "duplicate computation " << space->Render(choices);
        }
        AddPending(snapshot, proposals);
      }
      CompleteAll(snapshot, objective);
    }
  }
}

TEST_P(StrategyConformance, DeterministicAndRebuiltFromTheSnapshot) {
  auto space = testing::Nb201Space();
  testing::SyntheticObjective objective(*space, 5);
  auto used = NewStrategy();
  SearchSnapshot snapshot{space.get(), 7, {}};
  for (int q = 0; q < 25; ++q) {
    auto proposals = used->Propose(snapshot, 1);
    ASSERT_EQ(proposals.size(), 1u);
    AddCompleted(snapshot, proposals[0], objective(proposals[0]));
  }
  AddPending(snapshot, used->Propose(snapshot, 2));
  // A fresh instance (a restarted controller) continues the same search.
  auto fresh = NewStrategy();
  EXPECT_EQ(used->Propose(snapshot, 3), fresh->Propose(snapshot, 3));
  EXPECT_EQ(used->Recommend(snapshot), fresh->Recommend(snapshot));
  // Every strategy starts from random architectures drawn from the seed.
  SearchSnapshot empty{space.get(), 7, {}};
  SearchSnapshot other_seed{space.get(), 8, {}};
  EXPECT_NE(fresh->Propose(empty, 3), fresh->Propose(other_seed, 3));
}

// A restarted controller builds a fresh strategy from the snapshot it reads
// back from PostgreSQL. At every step of a search (batches, pending trials,
// infeasible trials, two objectives) a fresh instance must propose and
// recommend exactly what the long-lived one does: no hidden in-memory state
// (population, policy, surrogate data, RNG position) may steer it.
TEST_P(StrategyConformance, EveryStepMatchesAFreshInstance) {
  auto space = testing::Nb201Space();
  testing::SyntheticObjective first(*space, 31), second(*space, 32);
  auto used = NewStrategy();
  SearchSnapshot snapshot{space.get(), 11, {}};
  for (int step = 0; step < 30; ++step) {
    const int count = 1 + step % 3;
    auto fresh = NewStrategy();
    const auto from_fresh = fresh->Propose(snapshot, count);
    const auto from_used = used->Propose(snapshot, count);
    ASSERT_EQ(from_used, from_fresh) << "step " << step;
    ASSERT_EQ(used->Recommend(snapshot), fresh->Recommend(snapshot))
        << "step " << step;
    AddPending(snapshot, from_used);
    // Complete all but the newest trial; every fifth is infeasible.
    for (size_t i = 0; i + 1 < snapshot.trials.size(); ++i) {
      TrialView& t = snapshot.trials[i];
      if (t.state != nas::v1::TRIAL_STATE_PENDING) continue;
      t.state = nas::v1::TRIAL_STATE_COMPLETED;
      if (t.number % 5 == 4) continue;
      t.objectives = {first(t.choices), second(t.choices)};
      t.score = t.objectives[0];
    }
  }
}

// Constraints: an infeasible trial (completed, no score) is never the
// recommendation, even when it would have scored best.
TEST_P(StrategyConformance, NeverRecommendsAnInfeasibleTrial) {
  auto space = testing::Nb201Space();
  testing::SyntheticObjective objective(*space, 41);
  auto strategy = NewStrategy();
  SearchSnapshot snapshot{space.get(), 2, {}};
  int infeasible = 0;
  for (int q = 0; q < 40; ++q) {
    auto proposals = strategy->Propose(snapshot, 1);
    ASSERT_EQ(proposals.size(), 1u);
    // The better half of the synthetic objective is out of bounds.
    if (objective(proposals[0]) > 0) {
      testing::AddInfeasible(snapshot, proposals[0]);
      ++infeasible;
    } else {
      AddCompleted(snapshot, proposals[0], objective(proposals[0]));
    }
    std::optional<int> pick = strategy->Recommend(snapshot);
    if (!pick) continue;
    EXPECT_TRUE(snapshot.trials[*pick].score.has_value()) << "step " << q;
    EXPECT_LE(objective(snapshot.trials[*pick].choices), 0) << "step " << q;
  }
  EXPECT_GE(infeasible, 2);  // the check above met some
}

TEST_P(StrategyConformance, RecommendsACompletedTrial) {
  auto space = testing::Nb201Space();
  auto strategy = NewStrategy();
  SearchSnapshot snapshot{space.get(), 1, {}};
  EXPECT_EQ(strategy->Recommend(snapshot), std::nullopt);
  testing::SyntheticObjective objective(*space, 9);
  for (int q = 0; q < 12; ++q) {
    auto proposals = strategy->Propose(snapshot, 1);
    AddCompleted(snapshot, proposals[0], objective(proposals[0]));
  }
  AddPending(snapshot, strategy->Propose(snapshot, 2));
  std::optional<int> pick = strategy->Recommend(snapshot);
  ASSERT_TRUE(pick.has_value());
  ASSERT_GE(*pick, 0);
  ASSERT_LT(*pick, 12);
  EXPECT_EQ(snapshot.trials[*pick].state, nas::v1::TRIAL_STATE_COMPLETED);
}

TEST_P(StrategyConformance, ExhaustsASmallSpaceGracefully) {
  // {none, skip_connect} on six edges: 64 strings, far fewer computations.
  auto space = testing::Nb201Space({"none", "skip_connect"});
  std::set<std::string> all_keys;
  std::vector<int> choices(6, 0);
  for (int code = 0; code < 64; ++code) {
    for (int e = 0; e < 6; ++e) choices[e] = (code >> e) & 1;
    all_keys.insert(space->CanonicalKey(choices));
  }
  auto strategy = NewStrategy();
  testing::SyntheticObjective objective(*space, 11);
  SearchSnapshot snapshot{space.get(), 3, {}};
  std::set<std::string> keys;
  for (int step = 0; step < 100; ++step) {
    auto proposals = strategy->Propose(snapshot, 3);
    if (proposals.empty()) break;
    for (const auto& c : proposals) {
      EXPECT_TRUE(keys.insert(space->CanonicalKey(c)).second);
    }
    AddPending(snapshot, proposals);
    CompleteAll(snapshot, objective);
  }
  EXPECT_EQ(keys, all_keys);  // every computation once, then nothing
  EXPECT_TRUE(strategy->Propose(snapshot, 4).empty());
}

TEST_P(StrategyConformance, BeatsRandomSearchOnAHiddenObjective) {
  if (std::string(GetParam().text).rfind("random", 0) == 0) GTEST_SKIP();
  auto space = testing::Nb201Space();
  constexpr int kSeeds = 6;
  constexpr int kQueries = 60;
  double strategy_total = 0, random_total = 0;
  for (int seed = 0; seed < kSeeds; ++seed) {
    testing::SyntheticObjective objective(*space, 100 + seed);
    auto strategy = NewStrategy();
    auto random = Make("random {}");
    strategy_total +=
        testing::BestAfter(*strategy, *space, objective, seed, kQueries);
    random_total +=
        testing::BestAfter(*random, *space, objective, seed, kQueries);
  }
  EXPECT_GT(strategy_total / kSeeds, random_total / kSeeds);
}

INSTANTIATE_TEST_SUITE_P(AllStrategies, StrategyConformance,
                         ::testing::ValuesIn(kStrategies),
                         [](const auto& info) { return info.param.name; });

TEST(StrategyFactoryTest, RejectsOutOfRangeConfigs) {
  for (const char* text : {
           "evolution {population_size: 1}",
           "evolution {population_size: 10 sample_size: 11}",
           "reinforce {learning_rate: -1}",
           "reinforce {baseline_decay: 1.5}",
           "gp_bayes_opt {initial_random_trials: 1}",
           "gp_bayes_opt {max_train: 5}",
       }) {
    nas::v1::StrategySpec spec;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec));
    EXPECT_EQ(MakeSearchStrategy(spec).status().code(),
              absl::StatusCode::kInvalidArgument)
        << text;
  }
}

// Each gp_bayes_opt switch reaches the strategy: on one snapshot (30
// completed trials, so max_train 10 is reached) every variant proposes
// differently from the default. A switch the factory dropped would propose
// the default's batch.
TEST(StrategyFactoryTest, EveryGpBayesOptSwitchChangesTheProposals) {
  auto space = testing::Nb201Space();
  testing::SyntheticObjective objective(*space, 21);
  SearchSnapshot snapshot{space.get(), 4, {}};
  auto random = Make("random {}");
  for (int q = 0; q < 30; ++q) {
    auto proposals = random->Propose(snapshot, 1);
    ASSERT_EQ(proposals.size(), 1u);
    AddCompleted(snapshot, proposals[0], objective(proposals[0]));
  }
  const std::string base = "gp_bayes_opt {random_candidates: 50 ";
  const auto reference = Make(base + "}")->Propose(snapshot, 4);
  ASSERT_EQ(reference.size(), 4u);
  for (const char* option :
       {"thompson_every: -1", "max_train: 10", "disable_option_counts: true",
        "disable_relevance: true"}) {
    EXPECT_NE(Make(base + option + "}")->Propose(snapshot, 4), reference)
        << option;
  }
}

}  // namespace
}  // namespace nas::controller
