#include "controller/strategy/local_search.h"

#include <set>

#include "controller/strategy/strategy_test_util.h"
#include "controller/strategy/strategy_util.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

using testing::Distance;

// Scores: 10 at the start, `better` at one neighbour, 0 elsewhere.
struct Landscape {
  std::vector<int> start = {3, 3, 3, 3, 3, 3};
  std::vector<int> peak = {3, 3, 3, 1, 3, 3};
  bool peak_is_better = true;
  double operator()(const std::vector<int>& c) const {
    if (c == start) return 10;
    if (c == peak) return peak_is_better ? 20 : 5;
    return 0;
  }
};

// Evaluates the start's whole neighbourhood through the strategy.
void EvaluateNeighbourhood(LocalSearch& search, SearchSnapshot& snapshot,
                           const Landscape& landscape) {
  testing::AddCompleted(snapshot, landscape.start, landscape(landscape.start));
  while (true) {
    auto proposals = search.Propose(snapshot, 1);
    ASSERT_EQ(proposals.size(), 1u);
    if (Distance(proposals[0], landscape.start) != 1) {
      testing::AddPending(snapshot, proposals);  // the next step, unscored
      return;
    }
    testing::AddCompleted(snapshot, proposals[0], landscape(proposals[0]));
  }
}

TEST(LocalSearchTest, EvaluatesEveryNeighbourThenMovesToTheBest) {
  auto space = testing::Nb201Space();
  LocalSearch search;
  Landscape landscape;
  SearchSnapshot snapshot{space.get(), 1, {}};
  EvaluateNeighbourhood(search, snapshot, landscape);
  std::set<std::string> keys;
  for (const auto& neighbour : OneDecisionNeighbours(*space, landscape.start)) {
    keys.insert(space->CanonicalKey(neighbour));
  }
  // All neighbours (one per computation) and the start were tried...
  EXPECT_EQ(snapshot.trials.size(), keys.size() + 2);
  // ...and the step after the neighbourhood is next to the peak.
  EXPECT_EQ(Distance(snapshot.trials.back().choices, landscape.peak), 1);
}

TEST(LocalSearchTest, RestartsFarAwayAtALocalOptimum) {
  auto space = testing::Nb201Space();
  LocalSearch search;
  Landscape landscape;
  landscape.peak_is_better = false;
  SearchSnapshot snapshot{space.get(), 1, {}};
  EvaluateNeighbourhood(search, snapshot, landscape);
  const std::vector<int>& restart = snapshot.trials.back().choices;
  EXPECT_GE(Distance(restart, landscape.start), 3);
  // The new run explores around the restart point.
  snapshot.trials.back().state = nas::v1::TRIAL_STATE_COMPLETED;
  snapshot.trials.back().score = 1;
  for (const auto& next : search.Propose(snapshot, 4)) {
    EXPECT_EQ(Distance(next, restart), 1);
  }
}

TEST(LocalSearchTest, BatchesWaitingOnTheNeighbourhoodLookAhead) {
  auto space = testing::Nb201Space();
  LocalSearch search;
  const std::vector<int> centre = {3, 3, 3, 3, 3, 3};
  SearchSnapshot snapshot{space.get(), 4, {}};
  testing::AddCompleted(snapshot, centre, 10);
  auto neighbours = search.Propose(snapshot, 100);
  ASSERT_GT(neighbours.size(), 10u);
  // The whole neighbourhood comes first.
  size_t first_far = 0;
  while (first_far < neighbours.size() &&
         Distance(neighbours[first_far], centre) == 1) {
    ++first_far;
  }
  EXPECT_GE(first_far, 20u);
  // Half of it completes, the best at `leader`; the rest stays pending.
  std::vector<int> leader;
  double best = -1;
  for (size_t i = 0; i < first_far; ++i) {
    testing::AddPending(snapshot, {neighbours[i]});
    if (i % 2 == 0) {
      const double score = static_cast<double>(i);
      snapshot.trials.back().state = nas::v1::TRIAL_STATE_COMPLETED;
      snapshot.trials.back().score = score;
      if (score > best) {
        best = score;
        leader = neighbours[i];
      }
    }
  }
  // More proposals look ahead around the leader, the likely next centre.
  for (const auto& c : search.Propose(snapshot, 5)) {
    EXPECT_EQ(Distance(c, leader), 1);
    EXPECT_EQ(Distance(c, centre), 2);
  }
}

TEST(LocalSearchTest, FirstImprovementMovesAtOnce) {
  auto space = testing::Nb201Space();
  LocalSearch search(/*first_improvement=*/true);
  Landscape landscape;
  SearchSnapshot snapshot{space.get(), 2, {}};
  testing::AddCompleted(snapshot, landscape.start, landscape(landscape.start));
  // Neighbours until the peak (the one improvement) is evaluated; the very
  // next proposal is already a neighbour of the peak.
  for (int step = 0; step < 30; ++step) {
    auto proposals = search.Propose(snapshot, 1);
    ASSERT_EQ(proposals.size(), 1u);
    testing::AddCompleted(snapshot, proposals[0], landscape(proposals[0]));
    if (proposals[0] == landscape.peak) break;
  }
  ASSERT_EQ(snapshot.trials.back().choices, landscape.peak);
  // Best improvement would first finish the start's neighbourhood, most of
  // which is two decisions from the peak.
  for (int step = 0; step < 6; ++step) {
    const auto next = search.Propose(snapshot, 1);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(Distance(next[0], landscape.peak), 1);
    testing::AddCompleted(snapshot, next[0], 0);
  }
}

}  // namespace
}  // namespace nas::controller
