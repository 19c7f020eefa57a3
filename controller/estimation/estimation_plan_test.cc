#include "controller/estimation/estimation_plan.h"

#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

using Action = EstimationStep::Action;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

nas::v1::SearchSpec Spec(int rounds, int shards, int max_trials, int top_k) {
  nas::v1::SearchSpec spec;
  spec.set_seed(11);
  spec.add_objectives()->set_metric("val_accuracy");
  spec.mutable_objectives(0)->set_direction(nas::v1::DIRECTION_MAXIMIZE);
  spec.mutable_budget()->set_max_trials(max_trials);
  spec.mutable_budget()->set_parallelism(2);
  auto* ws = spec.mutable_estimation()->mutable_weight_sharing();
  ws->mutable_supernet()->set_rounds(rounds);
  ws->mutable_supernet()->set_shards_per_round(shards);
  ws->mutable_supernet()->set_learning_rate(0.1);
  ws->set_retrain_top_k(top_k);
  return spec;
}

class Trials {
 public:
  nas::v1::Trial& Add(nas::v1::TrialKind kind, nas::v1::TrialState state) {
    nas::v1::Trial& t = trials_.emplace_back();
    t.set_id(100 + static_cast<int>(trials_.size()));
    t.set_number(static_cast<int>(trials_.size()) - 1);
    t.set_kind(kind);
    t.set_state(state);
    return t;
  }
  nas::v1::Trial& Shard(int round, int index, nas::v1::TrialState state) {
    nas::v1::Trial& t = Add(nas::v1::TRIAL_KIND_SUPERNET_SHARD, state);
    t.mutable_task()->set_round(round);
    t.mutable_task()->set_shard_index(index);
    return t;
  }
  nas::v1::Trial& Candidate(const std::string& text, double accuracy,
                            nas::v1::TrialState state =
                                nas::v1::TRIAL_STATE_COMPLETED) {
    nas::v1::Trial& t = Add(nas::v1::TRIAL_KIND_SCORE_INHERITED, state);
    t.mutable_architecture()->set_text(text);
    if (state == nas::v1::TRIAL_STATE_COMPLETED) {
      t.mutable_metrics()->set_val_accuracy(accuracy);
    }
    return t;
  }
  const std::vector<nas::v1::Trial>& all() const { return trials_; }

 private:
  std::vector<nas::v1::Trial> trials_;
};

TEST(WeightSharingPlanTest, RoundsAddShardsThenMergeWhenAllCompleted) {
  const auto spec = Spec(2, 2, 4, 2);
  Trials trials;
  EstimationStep step = NextEstimationStep(spec, trials.all(), 0, false);
  EXPECT_EQ(step.action, Action::kAddShards);
  EXPECT_EQ(step.round, 0);

  trials.Shard(0, 0, nas::v1::TRIAL_STATE_COMPLETED);
  trials.Shard(0, 1, nas::v1::TRIAL_STATE_RUNNING);
  EXPECT_EQ(NextEstimationStep(spec, trials.all(), 0, false).action,
            Action::kWait);

  Trials done;
  done.Shard(0, 1, nas::v1::TRIAL_STATE_COMPLETED);  // ids follow shard order
  done.Shard(0, 0, nas::v1::TRIAL_STATE_COMPLETED);
  step = NextEstimationStep(spec, done.all(), 0, false);
  EXPECT_EQ(step.action, Action::kMerge);
  EXPECT_EQ(step.round, 0);
  EXPECT_THAT(step.merge_trial_ids, ElementsAre(102, 101));

  // Version 1 merged: round 1 comes next, whatever round 0 looked like.
  step = NextEstimationStep(spec, done.all(), 1, false);
  EXPECT_EQ(step.action, Action::kAddShards);
  EXPECT_EQ(step.round, 1);
}

TEST(WeightSharingPlanTest, AFailedShardFailsTheSearchNamingIt) {
  const auto spec = Spec(3, 2, 4, 2);
  Trials trials;
  trials.Shard(0, 0, nas::v1::TRIAL_STATE_COMPLETED);
  trials.Shard(0, 1, nas::v1::TRIAL_STATE_FAILED)
      .set_reason("attempt 1: x\nattempt 3: out of memory");
  const EstimationStep step =
      NextEstimationStep(spec, trials.all(), 0, false);
  EXPECT_EQ(step.action, Action::kFail);
  EXPECT_THAT(step.reason, HasSubstr("supernet round 1 of 3: shard 2 of 2"));
  EXPECT_THAT(step.reason, HasSubstr("FAILED: attempt 3: out of memory"));
}

TEST(WeightSharingPlanTest, CandidatesFillFreeSlotsUpToMaxTrials) {
  const auto spec = Spec(1, 1, 3, 2);  // parallelism 2
  Trials trials;
  trials.Shard(0, 0, nas::v1::TRIAL_STATE_COMPLETED);
  EstimationStep step = NextEstimationStep(spec, trials.all(), 1, false);
  EXPECT_EQ(step.action, Action::kProposeCandidates);
  EXPECT_EQ(step.free_slots, 2);
  trials.Candidate("a", 0, nas::v1::TRIAL_STATE_RUNNING);
  trials.Candidate("b", 0.5);
  step = NextEstimationStep(spec, trials.all(), 1, false);
  EXPECT_EQ(step.action, Action::kProposeCandidates);
  EXPECT_EQ(step.free_slots, 1);  // max_trials 3 - 2 proposed
  trials.Candidate("c", 0, nas::v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(NextEstimationStep(spec, trials.all(), 1, false).action,
            Action::kWait);
}

TEST(WeightSharingPlanTest, RetrainsTheBestFeasibleCandidatesOnce) {
  auto spec = Spec(1, 1, 4, 2);
  spec.add_constraints()->set_metric("params");
  spec.mutable_constraints(0)->set_op(nas::v1::COMPARISON_LESS_EQUAL);
  spec.mutable_constraints(0)->set_bound(1000);
  Trials trials;
  trials.Shard(0, 0, nas::v1::TRIAL_STATE_COMPLETED);
  trials.Candidate("ok", 0.7).mutable_metrics()->set_params(10);
  trials.Candidate("best_but_too_big", 0.95)
      .mutable_metrics()->set_params(5000);
  trials.Candidate("failed", 0, nas::v1::TRIAL_STATE_FAILED);
  trials.Candidate("second", 0.9).mutable_metrics()->set_params(10);
  EstimationStep step = NextEstimationStep(spec, trials.all(), 1, false);
  EXPECT_EQ(step.action, Action::kAddRetrains);
  EXPECT_THAT(step.retrain_trial_ids, ElementsAre(105, 102));

  // Once retrains exist, the search waits for them, then completes.
  nas::v1::Trial& r1 = trials.Add(nas::v1::TRIAL_KIND_RETRAIN,
                                  nas::v1::TRIAL_STATE_RUNNING);
  trials.Add(nas::v1::TRIAL_KIND_RETRAIN, nas::v1::TRIAL_STATE_COMPLETED);
  EXPECT_EQ(NextEstimationStep(spec, trials.all(), 1, false).action,
            Action::kWait);
  r1.set_state(nas::v1::TRIAL_STATE_FAILED);
  step = NextEstimationStep(spec, trials.all(), 1, false);
  EXPECT_EQ(step.action, Action::kComplete);
  EXPECT_EQ(step.reason, "");
}

// Early stopping over fine-tuning: a candidate stopped at a rung was judged
// on fewer epochs than the others, so it is never retrained, however high
// its last score; a score task carries the fine-tuning budget.
TEST(WeightSharingPlanTest, StoppedCandidatesAreNotRetrained) {
  auto spec = Spec(1, 1, 3, 2);
  nas::v1::TrainingBudget* fine_tune = spec.mutable_estimation()
                                           ->mutable_weight_sharing()
                                           ->mutable_candidates()
                                           ->mutable_fine_tune();
  fine_tune->set_epochs(3);
  fine_tune->set_learning_rate(0.01);
  Trials trials;
  trials.Shard(0, 0, nas::v1::TRIAL_STATE_COMPLETED);
  trials.Candidate("stopped", 0, nas::v1::TRIAL_STATE_STOPPED)
      .mutable_metrics()
      ->set_val_accuracy(0.99);
  trials.Candidate("finished", 0.8);
  trials.Candidate("finished_too", 0.7);
  const EstimationStep step =
      NextEstimationStep(spec, trials.all(), 1, false);
  EXPECT_EQ(step.action, Action::kAddRetrains);
  EXPECT_THAT(step.retrain_trial_ids, ElementsAre(103, 104));

  const nas::v1::SupernetTask task = ScoreTask(spec, 1);
  EXPECT_EQ(task.fine_tune().epochs(), 3);
  EXPECT_EQ(task.fine_tune().learning_rate(), 0.01);
  EXPECT_FALSE(ScoreTask(Spec(1, 1, 3, 2), 1).has_fine_tune());
}

TEST(WeightSharingPlanTest, AnExhaustedStrategyMovesOnToRetraining) {
  const auto spec = Spec(1, 1, 10, 3);
  Trials trials;
  trials.Shard(0, 0, nas::v1::TRIAL_STATE_COMPLETED);
  trials.Candidate("a", 0.5);
  trials.Candidate("b", 0.6, nas::v1::TRIAL_STATE_RUNNING);
  EXPECT_EQ(NextEstimationStep(spec, trials.all(), 1, true).action,
            Action::kWait);  // b's score may still matter
  Trials done;
  done.Shard(0, 0, nas::v1::TRIAL_STATE_COMPLETED);
  done.Candidate("a", 0.5);
  done.Candidate("c", 0.4);
  EstimationStep step = NextEstimationStep(spec, done.all(), 1, true);
  EXPECT_EQ(step.action, Action::kAddRetrains);
  EXPECT_THAT(step.retrain_trial_ids, ElementsAre(102, 103));
  done.Add(nas::v1::TRIAL_KIND_RETRAIN, nas::v1::TRIAL_STATE_COMPLETED);
  done.Add(nas::v1::TRIAL_KIND_RETRAIN, nas::v1::TRIAL_STATE_COMPLETED);
  step = NextEstimationStep(spec, done.all(), 1, true);
  EXPECT_EQ(step.action, Action::kComplete);
  EXPECT_THAT(step.reason, HasSubstr("space exhausted"));
  EXPECT_THAT(step.reason, HasSubstr("the best 2 were retrained"));
}

TEST(WeightSharingPlanTest, NothingScoredOrEveryRetrainFailedFails) {
  const auto spec = Spec(1, 1, 2, 1);
  Trials trials;
  trials.Shard(0, 0, nas::v1::TRIAL_STATE_COMPLETED);
  trials.Candidate("a", 0, nas::v1::TRIAL_STATE_FAILED);
  trials.Candidate("b", 0, nas::v1::TRIAL_STATE_FAILED);
  EstimationStep step = NextEstimationStep(spec, trials.all(), 1, false);
  EXPECT_EQ(step.action, Action::kFail);
  EXPECT_THAT(step.reason, HasSubstr("none of the 2 candidates was scored"));

  Trials retrained;
  retrained.Shard(0, 0, nas::v1::TRIAL_STATE_COMPLETED);
  retrained.Candidate("a", 0.5);
  retrained.Candidate("b", 0.4);
  retrained.Add(nas::v1::TRIAL_KIND_RETRAIN, nas::v1::TRIAL_STATE_FAILED)
      .set_reason("diverged");
  step = NextEstimationStep(spec, retrained.all(), 1, false);
  EXPECT_EQ(step.action, Action::kFail);
  EXPECT_THAT(step.reason, HasSubstr("every retraining failed; trial #3: diverged"));
}

TEST(WeightSharingPlanTest, ShardsSplitOneCosineScheduleByRound) {
  const auto spec = Spec(4, 3, 4, 1);
  const nas::v1::SupernetTask first = ShardTask(spec, 0, 0);
  EXPECT_DOUBLE_EQ(first.learning_rate(), 0.1);  // the peak, for every round
  EXPECT_DOUBLE_EQ(first.schedule_from(), 0);
  EXPECT_DOUBLE_EQ(first.schedule_to(), 0.25);
  const nas::v1::SupernetTask third = ShardTask(spec, 2, 1);
  EXPECT_DOUBLE_EQ(third.learning_rate(), 0.1);
  EXPECT_DOUBLE_EQ(third.schedule_from(), 0.5);
  EXPECT_DOUBLE_EQ(third.schedule_to(), 0.75);
  const nas::v1::SupernetTask last = ShardTask(spec, 3, 2);
  EXPECT_DOUBLE_EQ(last.schedule_from(), 0.75);
  EXPECT_DOUBLE_EQ(last.schedule_to(), 1);  // the rate reaches zero
  EXPECT_EQ(last.checkpoint_version(), 3);
  EXPECT_EQ(last.shard_index(), 2);
  EXPECT_EQ(last.num_shards(), 3);
  EXPECT_EQ(last.init_seed(), 11u);
}

}  // namespace
}  // namespace nas::controller

namespace nas::controller {
namespace {

// Zero cost has no supernet: candidates right away, ranked by their proxy
// score (not by an objective they did not measure), the best k trained.
TEST(ZeroCostPlanTest, ScoresThenTrainsTheBestByProxy) {
  nas::v1::SearchSpec spec;
  spec.add_objectives()->set_metric("val_accuracy");
  spec.mutable_objectives(0)->set_direction(nas::v1::DIRECTION_MAXIMIZE);
  spec.mutable_budget()->set_max_trials(3);
  spec.mutable_budget()->set_parallelism(2);
  spec.mutable_estimation()->mutable_zero_cost()->set_score("synflow");
  spec.mutable_estimation()->mutable_zero_cost()->set_train_top_k(2);

  Trials trials;
  EstimationStep step = NextEstimationStep(spec, trials.all(), 0, false);
  EXPECT_EQ(step.action, Action::kProposeCandidates);
  EXPECT_EQ(step.free_slots, 2);
  for (double score : {5.0, 9.0, 7.0}) {
    nas::v1::Trial& t =
        trials.Add(nas::v1::TRIAL_KIND_ZERO_COST, nas::v1::TRIAL_STATE_COMPLETED);
    t.mutable_metrics()->set_zero_cost_score(score);
  }
  EXPECT_EQ(CandidateTrials(trials.all()).size(), 3u);
  step = NextEstimationStep(spec, trials.all(), 0, false);
  ASSERT_EQ(step.action, Action::kAddRetrains);
  EXPECT_THAT(step.retrain_trial_ids, ElementsAre(102, 103));

  // A constraint on a metric the proxy measures applies; one it does not
  // measure leaves a candidate unscored.
  spec.add_constraints()->set_metric("params");
  spec.mutable_constraints(0)->set_op(nas::v1::COMPARISON_LESS_EQUAL);
  spec.mutable_constraints(0)->set_bound(1000);
  nas::v1::Trial scored = trials.all()[1];
  scored.mutable_metrics()->set_params(500);
  EXPECT_EQ(CandidateScore(spec, scored), 9.0);
  scored.mutable_metrics()->set_params(5000);
  EXPECT_EQ(CandidateScore(spec, scored), std::nullopt);
}

}  // namespace
}  // namespace nas::controller
