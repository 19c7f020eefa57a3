#include "controller/strategy/gp_bayes_opt.h"

#include <algorithm>
#include <random>
#include <set>
#include <unordered_set>

#include "controller/strategy/strategy_test_util.h"
#include "controller/strategy/strategy_util.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

// Before the model is used, proposals are uniform draws from the seed: six
// distinct computations per batch, different batches for different seeds,
// and every op on every edge.
TEST(GpBayesOptTest, StartsWithDistinctRandomArchitectures) {
  auto space = testing::Nb201Space();
  const size_t ops = space::Nb201Ops().size();
  GpBayesOptOptions options;
  options.initial_random_trials = 6;
  constexpr int kSeeds = 20;
  std::set<std::vector<std::vector<int>>> batches;
  // uses[edge][op]: how often the first batches chose op on edge.
  std::vector<std::vector<int>> uses(6, std::vector<int>(ops, 0));
  for (uint64_t seed = 0; seed < kSeeds; ++seed) {
    SearchSnapshot snapshot{space.get(), seed, {}};
    const auto proposals = GpBayesOpt(options).Propose(snapshot, 6);
    ASSERT_EQ(proposals.size(), 6u);
    std::set<std::string> keys;
    for (const auto& choices : proposals) {
      ASSERT_EQ(space->Validate(choices), "");
      keys.insert(space->CanonicalKey(choices));
      for (size_t e = 0; e < choices.size(); ++e) ++uses[e][choices[e]];
    }
    EXPECT_EQ(keys.size(), 6u) << "seed " << seed << ": a repeated computation";
    batches.insert(proposals);
    // The same seed gives the same batch (a restarted controller).
    SearchSnapshot same{space.get(), seed, {}};
    EXPECT_EQ(GpBayesOpt(options).Propose(same, 6), proposals);
  }
  EXPECT_EQ(batches.size(), static_cast<size_t>(kSeeds))
      << "two seeds started with the same batch";
  // 120 uniform draws per edge choose each of the 5 ops 24 times on average;
  // fewer than 8 has probability 2e-5 per (edge, op).
  for (size_t e = 0; e < uses.size(); ++e) {
    for (size_t op = 0; op < ops; ++op) {
      EXPECT_GE(uses[e][op], 8) << "edge " << e << " op " << op;
    }
  }
  // One at a time, with the earlier ones pending, they stay distinct too.
  SearchSnapshot snapshot{space.get(), 5, {}};
  std::set<std::string> keys;
  for (int i = 0; i < 6; ++i) {
    auto proposals = GpBayesOpt(options).Propose(snapshot, 1);
    ASSERT_EQ(proposals.size(), 1u);
    EXPECT_TRUE(keys.insert(space->CanonicalKey(proposals[0])).second);
    testing::AddPending(snapshot, proposals);
  }
}

// Recommend trusts the model over a single observation. `lucky` scored
// best, but each of its one-decision neighbours and every other cell with
// the same ops on other edges (the same option counts) scored worst, so no
// feature explains its score and the model reads it as noise. `steady`
// scored a little less and its whole neighbourhood almost as well. A
// Recommend that returned the best observed trial would pick `lucky`; every
// kernel variant must pick in `steady`'s neighbourhood.
TEST(GpBayesOptTest, RecommendsTheBestPosteriorMeanNotTheBestObservation) {
  auto space = testing::Nb201Space();
  // Ops: 2 = nor_conv_1x1, 3 = nor_conv_3x3, 4 = avg_pool_3x3.
  const std::vector<int> lucky = {3, 3, 3, 2, 2, 2};
  const std::vector<int> steady = {4, 3, 4, 3, 4, 3};
  SearchSnapshot snapshot{space.get(), 1, {}};
  testing::AddCompleted(snapshot, lucky, 10.0);
  testing::AddCompleted(snapshot, steady, 9.0);
  double jitter = 0;  // distinct scores: no ties in the ranks
  for (const auto& n : OneDecisionNeighbours(*space, lucky)) {
    testing::AddCompleted(snapshot, n, 0.0 + (jitter += 0.01));
  }
  std::vector<int> same_counts = lucky;
  std::sort(same_counts.begin(), same_counts.end());
  do {
    if (same_counts != lucky) {
      testing::AddCompleted(snapshot, same_counts, 0.0 + (jitter += 0.01));
    }
  } while (std::next_permutation(same_counts.begin(), same_counts.end()));
  for (const auto& n : OneDecisionNeighbours(*space, steady)) {
    testing::AddCompleted(snapshot, n, 8.0 + (jitter += 0.01));
  }
  ASSERT_EQ(BestObservedTrial(snapshot), std::optional<int>(0));

  for (const bool option_counts : {true, false}) {
    for (const bool relevance : {true, false}) {
      GpBayesOptOptions options;
      options.option_counts = option_counts;
      options.relevance = relevance;
      const std::optional<int> pick = GpBayesOpt(options).Recommend(snapshot);
      ASSERT_TRUE(pick.has_value());
      EXPECT_LE(testing::Distance(snapshot.trials[*pick].choices, steady), 1)
          << "option_counts " << option_counts << " relevance " << relevance
          << " recommended trial " << *pick << ": "
          << space->Render(snapshot.trials[*pick].choices);
    }
  }
}

// With more completed trials than max_train the model is fitted to the
// best max_train / 2 by score and the most recent of the rest: the score
// of an old, middling trial then changes nothing. Without the cap the same
// change moves the fit and so the proposals, which shows the check can fail.
TEST(GpBayesOptTest, MaxTrainFitsTheBestHalfAndTheMostRecent) {
  auto space = testing::Nb201Space();
  testing::SyntheticObjective objective(*space, 70);
  std::mt19937_64 rng(7);
  SearchSnapshot snapshot{space.get(), 7, {}};
  SeenKeys seen(SearchSnapshot{space.get(), 7, {}});
  for (int i = 0; i < 40; ++i) {
    auto choices = SampleUnseen(*space, seen, rng);
    ASSERT_TRUE(choices.has_value());
    testing::AddCompleted(snapshot, *choices, objective(*choices));
  }
  std::vector<double> scores;
  for (const TrialView& t : snapshot.trials) scores.push_back(*t.score);
  std::sort(scores.begin(), scores.end());
  // Trial 0 (old) moves from wherever it ranked to just above the median:
  // with max_train 10 it is in neither the best 5 nor the last 5.
  SearchSnapshot changed = snapshot;
  changed.trials[0].score = 0.5 * (scores[20] + scores[21]);
  ASSERT_NE(*changed.trials[0].score, *snapshot.trials[0].score);
  ASSERT_LT(*snapshot.trials[0].score, scores[35]);
  ASSERT_LT(*changed.trials[0].score, scores[35]);

  GpBayesOptOptions capped;
  capped.max_train = 10;
  EXPECT_EQ(GpBayesOpt(capped).Propose(snapshot, 3),
            GpBayesOpt(capped).Propose(changed, 3));
  EXPECT_EQ(GpBayesOpt(capped).Recommend(snapshot),
            GpBayesOpt(capped).Recommend(changed));
  EXPECT_NE(GpBayesOpt().Propose(snapshot, 3), GpBayesOpt().Propose(changed, 3))
      << "the uncapped model ignored a changed score";
}

}  // namespace
}  // namespace nas::controller
