// TrialStore::ListChangedTrials, what a strategy step reads to bring its
// copy of a search's trials up to date, in every TrialStore.
#include <cstdint>
#include <map>
#include <vector>

#include "controller/store/store_rules.h"
#include "controller/store/store_test_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

using google::protobuf::util::MessageDifferencer;

using ChangedTrialsTest = AnyStoreTest;
INSTANTIATE_FOR_EVERY_STORE(ChangedTrialsTest);

constexpr absl::Duration kLongLease = absl::Minutes(30);

std::vector<int32_t> Numbers(const std::vector<nas::v1::Trial>& trials) {
  std::vector<int32_t> numbers;
  for (const nas::v1::Trial& trial : trials) numbers.push_back(trial.number());
  return numbers;
}

TEST_P(ChangedTrialsTest, ListsNewTrialsAndWatchedOnesWhoseStateMovedOn) {
  const int64_t id = NewSearch(8, 6);
  const nas::v1::TrialAssignment running = Lease("w-0", kLongLease);
  const nas::v1::TrialAssignment done = Lease("w-1", kLongLease);
  const nas::v1::TrialAssignment stopped = Lease("w-2", kLongLease);
  const nas::v1::TrialAssignment failed = Lease("w-3", kLongLease);
  nas::v1::TrialMetrics metrics;
  metrics.set_val_accuracy(0.75);
  metrics.set_params(1234);
  ASSERT_TRUE(store().CompleteTrial(Ref(done, "w-1"), metrics).ok());
  nas::v1::EpochMetrics epoch;
  epoch.set_epoch(1);
  epoch.set_val_accuracy(0.25);
  ASSERT_TRUE(store().RecordEpoch(Ref(stopped, "w-2"), epoch, kLongLease).ok());
  nas::v1::TrialMetrics last;
  last.set_val_accuracy(0.25);
  ASSERT_TRUE(store()
                  .StopTrial(Ref(stopped, "w-2"), "median rule", last, 1, false)
                  .ok());
  ASSERT_TRUE(store().FailTrial(Ref(failed, "w-3"), "nan loss").ok());

  // The caller saw trials 0-4 with 0-3 PENDING or RUNNING (1 and 2 moved
  // on since), 4 PENDING (unchanged) and 3 FAILED already (unwatched).
  const std::vector<SeenTrialState> watched = {
      {0, nas::v1::TRIAL_STATE_RUNNING},
      {1, nas::v1::TRIAL_STATE_RUNNING},
      {2, nas::v1::TRIAL_STATE_PENDING},
      {4, nas::v1::TRIAL_STATE_PENDING}};
  auto changed = store().ListChangedTrials(id, 4, watched, 100);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(Numbers(*changed), (std::vector<int32_t>{1, 2, 5}));

  // Each is ListTrials' trial, less what a strategy does not read.
  auto all = store().ListTrials(id, {}, -1, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 6u);
  ASSERT_EQ((*all)[2].epochs_size(), 1) << "a curve that is left out";
  for (const nas::v1::Trial& trial : *changed) {
    const nas::v1::Trial& full = (*all)[trial.number()];
    EXPECT_TRUE(MessageDifferencer::Equals(trial, TrialOutline(full)))
        << "got " << trial.ShortDebugString() << "\nwant "
        << TrialOutline(full).ShortDebugString();
  }
  EXPECT_EQ((*changed)[0].state(), nas::v1::TRIAL_STATE_COMPLETED);
  EXPECT_DOUBLE_EQ((*changed)[0].metrics().val_accuracy(), 0.75);
  EXPECT_EQ((*changed)[0].metrics().params(), 1234);
  EXPECT_EQ((*changed)[1].state(), nas::v1::TRIAL_STATE_STOPPED);
  EXPECT_EQ((*changed)[2].state(), nas::v1::TRIAL_STATE_PENDING);
  EXPECT_EQ((*changed)[2].architecture().choices_size(), 3);
}

TEST_P(ChangedTrialsTest, UpdatedCopyEqualsAFreshRead) {
  const int64_t id = NewSearch(10, 6);
  // The caller's copy, by number, as of a read of every trial.
  std::map<int32_t, nas::v1::Trial> copy;
  auto refresh = [&] {
    std::vector<SeenTrialState> watched;
    for (const auto& [number, trial] : copy) {
      if (trial.state() == nas::v1::TRIAL_STATE_PENDING ||
          trial.state() == nas::v1::TRIAL_STATE_RUNNING) {
        watched.push_back({number, trial.state()});
      }
    }
    const int32_t after = static_cast<int32_t>(copy.size()) - 1;
    auto changed = store().ListChangedTrials(id, after, watched, 100);
    ASSERT_TRUE(changed.ok()) << changed.status();
    for (const nas::v1::Trial& trial : *changed) copy[trial.number()] = trial;
    auto all = store().ListTrials(id, {}, -1, 100);
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_EQ(copy.size(), all->size());
    for (const nas::v1::Trial& trial : *all) {
      EXPECT_TRUE(
          MessageDifferencer::Equals(copy[trial.number()], TrialOutline(trial)))
          << "trial " << trial.number();
    }
  };
  refresh();
  const nas::v1::TrialAssignment a = Lease("w", kLongLease);
  refresh();
  // Back to PENDING and leased again: the same state as the copy's.
  ASSERT_EQ(store()
                .ReleaseTrial(Ref(a, "w"), "oom")
                .value_or(nas::v1::TRIAL_STATE_UNSPECIFIED),
            nas::v1::TRIAL_STATE_PENDING);
  const nas::v1::TrialAssignment again = Lease("w", kLongLease);
  ASSERT_EQ(again.trial_id(), a.trial_id());
  nas::v1::TrialMetrics metrics;
  metrics.set_val_accuracy(0.5);
  ASSERT_TRUE(store().CompleteTrial(Ref(again, "w"), metrics).ok());
  const nas::v1::TrialAssignment b = Lease("w", kLongLease);
  ASSERT_TRUE(store().AddTrials(id, 6, {Trial(6), Trial(7)}).ok());
  refresh();
  ASSERT_TRUE(store().FailTrial(Ref(b, "w"), "diverged").ok());
  ASSERT_TRUE(
      store().EndSearch(id, nas::v1::SEARCH_STATE_COMPLETED, "enough").ok());
  refresh();  // the PENDING ones were cancelled
}

TEST_P(ChangedTrialsTest, LimitsAndUnknownSearches) {
  const int64_t id = NewSearch(5, 5);
  Lease("w", kLongLease);
  const std::vector<SeenTrialState> watched = {
      {0, nas::v1::TRIAL_STATE_PENDING}};
  auto two = store().ListChangedTrials(id, 0, watched, 2);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(Numbers(*two), (std::vector<int32_t>{0, 1}));
  auto none = store().ListChangedTrials(id, 0, watched, 0);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  // A watched trial above after_number is listed once, as a new one; a
  // number the search does not have is no change.
  auto once = store().ListChangedTrials(
      id, 2,
      {{3, nas::v1::TRIAL_STATE_RUNNING}, {9, nas::v1::TRIAL_STATE_PENDING}},
      10);
  ASSERT_TRUE(once.ok()) << once.status();
  EXPECT_EQ(Numbers(*once), (std::vector<int32_t>{3, 4}));
  auto up_to_date =
      store().ListChangedTrials(id, 4, {{0, nas::v1::TRIAL_STATE_RUNNING}}, 10);
  ASSERT_TRUE(up_to_date.ok()) << up_to_date.status();
  EXPECT_TRUE(up_to_date->empty());

  const int64_t empty = NewSearch(5, 0);
  auto no_trials = store().ListChangedTrials(empty, -1, {}, 10);
  ASSERT_TRUE(no_trials.ok()) << no_trials.status();
  EXPECT_TRUE(no_trials->empty());
  EXPECT_EQ(store().ListChangedTrials(987654, -1, {}, 10).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace nas::controller::testing
