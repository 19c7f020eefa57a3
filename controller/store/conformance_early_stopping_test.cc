// What early stopping keeps in every TrialStore: STOPPED trials with
// their last metrics and rung, rungs of running trials, the epoch reports a
// restarted controller replays, and the learning curve of a resumed trial.
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

using EarlyStoppingStoreTest = AnyStoreTest;
INSTANTIATE_FOR_EVERY_STORE(EarlyStoppingStoreTest);

constexpr absl::Duration kLongLease = absl::Minutes(30);

nas::v1::EpochMetrics Epoch(int epoch, double accuracy, double seconds = 2) {
  nas::v1::EpochMetrics metrics;
  metrics.set_epoch(epoch);
  metrics.set_train_loss(1.0 / epoch);
  metrics.set_val_loss(1.5 / epoch);
  metrics.set_val_accuracy(accuracy);
  metrics.set_seconds(seconds);
  return metrics;
}

std::vector<int> EpochNumbers(const nas::v1::Trial& trial) {
  std::vector<int> epochs;
  for (const nas::v1::EpochMetrics& e : trial.epochs()) {
    epochs.push_back(e.epoch());
  }
  return epochs;
}

TEST_P(EarlyStoppingStoreTest, StoppedTrialKeepsItsCurveLastMetricsAndRung) {
  const int64_t id = NewSearch(2, 2);
  const nas::v1::TrialAssignment a = Lease("w", kLongLease);
  auto ack = store().RecordEpoch(Ref(a, "w"), Epoch(1, 0.5, 2.5), kLongLease);
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_FALSE(ack->stop);
  EXPECT_EQ(ack->search_id, id);
  EXPECT_EQ(ack->trial_number, 0);
  EXPECT_EQ(ack->kind, nas::v1::TRIAL_KIND_TRAIN);
  ASSERT_TRUE(store().SetTrialRung(Ref(a, "w"), 0).ok());
  EXPECT_EQ(GetTrial(id, 0).rung(), 0);
  ASSERT_TRUE(
      store().RecordEpoch(Ref(a, "w"), Epoch(2, 0.55, 3.0), kLongLease).ok());

  nas::v1::TrialMetrics last;
  last.set_val_accuracy(0.55);
  last.set_val_loss(0.75);
  ASSERT_TRUE(
      store()
          .StopTrial(Ref(a, "w"), "rung 1 (epoch 2): below", last, 1, false)
          .ok());
  const nas::v1::Trial t = GetTrial(id, 0);
  EXPECT_EQ(t.state(), nas::v1::TRIAL_STATE_STOPPED);
  EXPECT_EQ(t.rung(), 1);
  EXPECT_EQ(t.reason(), "attempt 1 on worker w: rung 1 (epoch 2): below");
  EXPECT_EQ(t.metrics().val_accuracy(), 0.55);
  EXPECT_EQ(t.metrics().val_loss(), 0.75);
  EXPECT_FALSE(t.metrics().has_test_accuracy());
  EXPECT_DOUBLE_EQ(t.metrics().train_seconds(), 5.5);  // the epochs' sum
  EXPECT_EQ(EpochNumbers(t), (std::vector<int>{1, 2}));
  EXPECT_TRUE(t.has_finished_at());
  // Repeated: idempotent. Never among the best trials.
  EXPECT_TRUE(store().StopTrial(Ref(a, "w"), "again", last, 1, false).ok());
  auto best = store().BestTrials(id, 5);
  ASSERT_TRUE(best.ok());
  EXPECT_TRUE(best->empty());
  // A trial without rungs has none.
  EXPECT_FALSE(GetTrial(id, 1).has_rung());
  if (postgres()) {
    EXPECT_EQ(
        db().Query("SELECT rung FROM trial_history WHERE number = 0")[0][0]
            .as<int>(),
        1);
  }
}

TEST_P(EarlyStoppingStoreTest, ListEpochReportsGivesEveryTrialsCurve) {
  const int64_t id = NewSearch(3, 3);
  const nas::v1::TrialAssignment a = Lease("w", kLongLease);
  const nas::v1::TrialAssignment b = Lease("w", kLongLease);
  ASSERT_TRUE(store().RecordEpoch(Ref(a, "w"), Epoch(1, 0.4), kLongLease).ok());
  ASSERT_TRUE(store().RecordEpoch(Ref(b, "w"), Epoch(1, 0.6), kLongLease).ok());
  ASSERT_TRUE(store().RecordEpoch(Ref(a, "w"), Epoch(2, 0.5), kLongLease).ok());
  auto reports = store().ListEpochReports(id);
  ASSERT_TRUE(reports.ok()) << reports.status();
  ASSERT_EQ(reports->size(), 3u);
  EXPECT_EQ((*reports)[0].trial_id, a.trial_id());
  EXPECT_EQ((*reports)[0].trial_number, 0);
  EXPECT_EQ((*reports)[0].kind, nas::v1::TRIAL_KIND_TRAIN);
  EXPECT_EQ((*reports)[0].metrics.epoch(), 1);
  EXPECT_EQ((*reports)[1].metrics.epoch(), 2);
  EXPECT_EQ((*reports)[2].trial_id, b.trial_id());
  EXPECT_EQ((*reports)[2].metrics.val_accuracy(), 0.6);
}

// A trial whose second attempt resumed from a state saved after epoch 2
// reports from epoch 3 on: its curve shows the first attempt's epochs 1-2
// and the second's from 3. A second attempt that started over shows only
// its own.
TEST_P(EarlyStoppingStoreTest, ResumedAttemptShowsTheWholeCurve) {
  const int64_t id = NewSearch(2, 2);
  const nas::v1::TrialAssignment first = Lease("w1", kLongLease);
  const nas::v1::TrialAssignment other = Lease("w1", kLongLease);
  for (int e = 1; e <= 3; ++e) {
    ASSERT_TRUE(
        store()
            .RecordEpoch(Ref(first, "w1"), Epoch(e, 0.1 * e), kLongLease)
            .ok());
    ASSERT_TRUE(
        store()
            .RecordEpoch(Ref(other, "w1"), Epoch(e, 0.1 * e), kLongLease)
            .ok());
  }
  // The worker dies: both trials go back to PENDING.
  ExpireAllLeases();
  ASSERT_TRUE(store().ExpireLeases().ok());
  const nas::v1::TrialAssignment resumed = Lease("w2", kLongLease);
  const nas::v1::TrialAssignment restarted = Lease("w2", kLongLease);
  ASSERT_EQ(resumed.attempt(), 2);
  ASSERT_TRUE(
      store().RecordEpoch(Ref(resumed, "w2"), Epoch(3, 0.33), kLongLease).ok());
  ASSERT_TRUE(store()
                  .RecordEpoch(Ref(restarted, "w2"), Epoch(1, 0.11), kLongLease)
                  .ok());

  const nas::v1::Trial r = GetTrial(id, 0);
  EXPECT_EQ(EpochNumbers(r), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(r.epochs(2).val_accuracy(), 0.33);  // the resumed attempt's
  EXPECT_EQ(EpochNumbers(GetTrial(id, 1)), (std::vector<int>{1}));
  EXPECT_EQ(GetTrial(id, 1).epochs(0).val_accuracy(), 0.11);
}

TEST_P(EarlyStoppingStoreTest, AssignmentCarriesRungEpochs) {
  nas::v1::SearchSpec spec = Spec("asha", 2);
  spec.mutable_training()->set_epochs(9);
  nas::v1::AshaConfig* asha = spec.mutable_early_stopping()->mutable_asha();
  asha->set_min_epochs(1);
  asha->set_max_epochs(9);
  asha->set_reduction_factor(3);
  auto search = store().CreateSearch(spec, "");
  ASSERT_TRUE(search.ok()) << search.status();
  ASSERT_TRUE(store().AddTrials(search->id(), 0, {Trial(0)}).ok());
  const nas::v1::TrialAssignment a = Lease("w", kLongLease);
  EXPECT_EQ(std::vector<int>(a.checkpoint_epochs().begin(),
                             a.checkpoint_epochs().end()),
            (std::vector<int>{1, 3}));
  EXPECT_FALSE(a.resume());
  // Without early stopping: nothing to save.
  NewSearch(1, 1);
  EXPECT_EQ(Lease("w", kLongLease).checkpoint_epochs_size(), 0);
}

}  // namespace
}  // namespace nas::controller::testing
