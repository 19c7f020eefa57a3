// Leases, epochs, trial endings and lease expiry: conformance tests that
// every TrialStore passes.
#include <algorithm>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "controller/store/store_rules.h"
#include "controller/store/store_test_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

using google::protobuf::util::MessageDifferencer;

using LeaseTest = AnyStoreTest;
INSTANTIATE_FOR_EVERY_STORE(LeaseTest);

nas::v1::EpochMetrics Epoch(int epoch, double accuracy) {
  nas::v1::EpochMetrics metrics;
  metrics.set_epoch(epoch);
  metrics.set_train_loss(1.0 / epoch);
  metrics.set_val_loss(1.5 / epoch);
  metrics.set_val_accuracy(accuracy);
  metrics.set_seconds(12.25);
  return metrics;
}

// Time is controlled from the test, not waited for, so a loaded machine
// cannot expire a lease early or late: leases that must not expire are
// long, and one that must expire is moved into the past by the store's own
// clock (what ExpireLeases compares with).
constexpr absl::Duration kLongLease = absl::Minutes(30);

TEST_P(LeaseTest, AssignmentCarriesEverythingAWorkerNeeds) {
  const nas::v1::SearchSpec spec = Spec("assign", 1);
  auto search = store().CreateSearch(spec, "");
  ASSERT_TRUE(search.ok());
  NewTrial trial = Trial(5);
  trial.seed = 0xfedcba9876543210ULL;  // above INT64_MAX: stored as bits
  ASSERT_TRUE(store().AddTrials(search->id(), 0, {trial}).ok());

  const nas::v1::TrialAssignment a = Lease("w-7", absl::Seconds(90));
  EXPECT_GT(a.trial_id(), 0);
  EXPECT_EQ(a.search_id(), search->id());
  EXPECT_EQ(a.trial_number(), 0);
  EXPECT_EQ(a.attempt(), 1);
  EXPECT_EQ(a.kind(), nas::v1::TRIAL_KIND_TRAIN);
  EXPECT_TRUE(MessageDifferencer::Equals(a.dataset(), spec.dataset()));
  EXPECT_TRUE(MessageDifferencer::Equals(a.space(), spec.space()));
  EXPECT_TRUE(MessageDifferencer::Equals(a.architecture(), trial.architecture));
  EXPECT_TRUE(MessageDifferencer::Equals(a.budget(), trial.budget));
  EXPECT_EQ(a.seed(), 0xfedcba9876543210ULL);
  EXPECT_EQ(a.lease_seconds(), 90);

  const nas::v1::Trial stored = GetTrial(search->id(), 0);
  EXPECT_EQ(stored.state(), nas::v1::TRIAL_STATE_RUNNING);
  EXPECT_EQ(stored.worker_id(), "w-7");
  EXPECT_TRUE(stored.has_started_at());
}

TEST_P(LeaseTest, LeasesOldestSearchThenLowestNumber) {
  const int64_t first = NewSearch(2, 2);
  const int64_t second = NewSearch(2, 2);
  std::vector<std::pair<int64_t, int32_t>> order;
  for (int i = 0; i < 4; ++i) {
    const nas::v1::TrialAssignment a = Lease("w");
    order.emplace_back(a.search_id(), a.trial_number());
  }
  EXPECT_EQ(order, (std::vector<std::pair<int64_t, int32_t>>{
                       {first, 0}, {first, 1}, {second, 0}, {second, 1}}));
  auto none = store().LeaseTrial("w", absl::Seconds(5));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_P(LeaseTest, ConcurrentLeasesNeverShareATrial) {
  constexpr int kTrials = 40;
  constexpr int kThreads = 4;
  NewSearch(kTrials, kTrials);
  std::mutex mu;
  std::vector<int64_t> leased;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string worker = "w-" + std::to_string(t);
      for (;;) {
        auto a = store().LeaseTrial(worker, absl::Seconds(30));
        if (!a.ok()) {
          ADD_FAILURE() << a.status();
          return;
        }
        if (!a->has_value()) return;
        std::lock_guard<std::mutex> lock(mu);
        leased.push_back((*a)->trial_id());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(leased.size(), static_cast<size_t>(kTrials));
  EXPECT_EQ(std::set<int64_t>(leased.begin(), leased.end()).size(),
            leased.size());
}

TEST_P(LeaseTest, ExpiredLeasesRequeueThenFailAfterMaxAttempts) {
  const int64_t id = NewSearch(1, 1, /*max_attempts=*/2);
  const nas::v1::TrialAssignment first = Lease("w-a", kLongLease);
  auto expired = store().ExpireLeases();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 0) << "the lease has not expired yet";

  ExpireLease(first.trial_id());
  expired = store().ExpireLeases();
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(*expired, 1);
  nas::v1::Trial trial = GetTrial(id, 0);
  EXPECT_EQ(trial.state(), nas::v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(trial.attempt(), 1);
  EXPECT_EQ(trial.worker_id(), "");

  const nas::v1::TrialAssignment second = Lease("w-b", kLongLease);
  EXPECT_EQ(second.trial_id(), first.trial_id());
  EXPECT_EQ(second.attempt(), 2);
  ExpireLease(second.trial_id());
  expired = store().ExpireLeases();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 1);
  trial = GetTrial(id, 0);
  EXPECT_EQ(trial.state(), nas::v1::TRIAL_STATE_FAILED);
  EXPECT_EQ(trial.reason(),
            "attempt 1 on worker w-a: lease expired\n"
            "attempt 2 on worker w-b: lease expired");
  EXPECT_TRUE(trial.has_finished_at());
  expired = store().ExpireLeases();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 0) << "a FAILED trial is final";
  auto none = store().LeaseTrial("w-c", absl::Seconds(1));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_P(LeaseTest, RecordEpochExtendsTheLease) {
  NewSearch(1, 1);
  // Both leases are long enough that only a renewal can explain an end
  // past the first one.
  const nas::v1::TrialAssignment a = Lease("w", absl::Minutes(2));
  auto ack = store().RecordEpoch(Ref(a, "w"), Epoch(1, 0.5), kLongLease);
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_FALSE(ack->stop);
  EXPECT_GT(LeaseLeft(a.trial_id()), absl::Minutes(10))
      << "the lease was not extended";
  auto expired = store().ExpireLeases();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 0);
}

TEST_P(LeaseTest, RecordEpochKeepsALeaseWithMoreThanHalfLeft) {
  const int64_t id = NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w", absl::Minutes(10));
  // Ten minutes left of a fifteen-minute lease: more than half, kept. A
  // renewal would have set fifteen.
  auto kept =
      store().RecordEpoch(Ref(a, "w"), Epoch(1, 0.5), absl::Minutes(15));
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_FALSE(kept->stop);
  EXPECT_LT(LeaseLeft(a.trial_id()), absl::Minutes(11))
      << "a lease with more than half left was renewed";
  // The epoch was stored all the same.
  const nas::v1::Trial trial = GetTrial(id, 0);
  ASSERT_EQ(trial.epochs_size(), 1);
  EXPECT_DOUBLE_EQ(trial.epochs(0).val_accuracy(), 0.5);
  // Under a lease of 25 minutes the ten left are less than half: renewed.
  auto renewed =
      store().RecordEpoch(Ref(a, "w"), Epoch(2, 0.6), absl::Minutes(25));
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_GT(LeaseLeft(a.trial_id()), absl::Minutes(20));
}

TEST_P(LeaseTest, StaleAttemptsAreRefused) {
  const int64_t id = NewSearch(1, 1);
  const nas::v1::TrialAssignment old = Lease("w-old", kLongLease);
  ExpireLease(old.trial_id());
  ASSERT_EQ(store().ExpireLeases().value_or(-1), 1);
  // While PENDING, and after someone else leased it.
  EXPECT_EQ(store().CompleteTrial(Ref(old, "w-old"), {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  const nas::v1::TrialAssignment current = Lease("w-new");
  ASSERT_EQ(current.attempt(), 2);

  const absl::Status epoch =
      store()
          .RecordEpoch(Ref(old, "w-old"), Epoch(1, 0.1), absl::Seconds(5))
          .status();
  EXPECT_EQ(epoch.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(epoch.message(), "current attempt is 2"))
      << epoch;
  EXPECT_EQ(store().CompleteTrial(Ref(old, "w-old"), {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store().FailTrial(Ref(old, "w-old"), "late").status().code(),
            absl::StatusCode::kFailedPrecondition);
  // The right attempt from the wrong worker is refused too.
  EXPECT_EQ(store().CompleteTrial(Ref(current, "w-old"), {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  if (postgres()) {
    EXPECT_EQ(db().Query("SELECT count(*) FROM trial_epochs")[0][0].as<int>(),
              0);
  }
  EXPECT_EQ(GetTrial(id, 0).epochs_size(), 0);
  EXPECT_EQ(GetTrial(id, 0).state(), nas::v1::TRIAL_STATE_RUNNING);
  EXPECT_TRUE(store().CompleteTrial(Ref(current, "w-new"), {}).ok());
}

TEST_P(LeaseTest, RecordEpochIsIdempotentPerEpoch) {
  const int64_t id = NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w");
  ASSERT_TRUE(
      store().RecordEpoch(Ref(a, "w"), Epoch(1, 0.25), absl::Seconds(9)).ok());
  // A retry after a lost reply, even with other numbers, keeps the first.
  ASSERT_TRUE(
      store().RecordEpoch(Ref(a, "w"), Epoch(1, 0.99), absl::Seconds(9)).ok());
  ASSERT_TRUE(
      store().RecordEpoch(Ref(a, "w"), Epoch(2, 0.5), absl::Seconds(9)).ok());
  const nas::v1::Trial trial = GetTrial(id, 0);
  ASSERT_EQ(trial.epochs_size(), 2);
  EXPECT_EQ(trial.epochs(0).epoch(), 1);
  EXPECT_DOUBLE_EQ(trial.epochs(0).val_accuracy(), 0.25);
  EXPECT_DOUBLE_EQ(trial.epochs(0).train_loss(), 1.0);
  EXPECT_DOUBLE_EQ(trial.epochs(0).seconds(), 12.25);
  EXPECT_EQ(trial.epochs(1).epoch(), 2);
}

TEST_P(LeaseTest, CompleteTrialIsIdempotentAndKeepsTheFirstMetrics) {
  const int64_t id = NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w");
  nas::v1::TrialMetrics metrics;
  metrics.set_val_accuracy(0.1 + 0.2);  // not exactly representable
  metrics.set_val_loss(0.6931471805599453);
  metrics.set_test_accuracy(0.875);
  metrics.set_test_loss(0.4);
  metrics.set_params(123456789012);
  metrics.set_flops(9876543210);
  metrics.set_latency_ms(1.5e-3);
  metrics.set_train_seconds(3600.5);
  absl::StatusOr<bool> first = store().CompleteTrial(Ref(a, "w"), metrics);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first) << "the first call ends the trial";
  nas::v1::TrialMetrics other = metrics;
  other.set_val_accuracy(0.5);
  absl::StatusOr<bool> repeat = store().CompleteTrial(Ref(a, "w"), other);
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_FALSE(*repeat) << "a repeat is told apart, so it is announced once";
  const nas::v1::Trial trial = GetTrial(id, 0);
  EXPECT_EQ(trial.state(), nas::v1::TRIAL_STATE_COMPLETED);
  EXPECT_TRUE(MessageDifferencer::Equals(trial.metrics(), metrics))
      << trial.metrics().DebugString();
  EXPECT_TRUE(trial.has_finished_at());
}

// The ending a completion returns is the stored trial's (TrialEnding); a
// repeat ends nothing and returns none.
TEST_P(LeaseTest, CompleteTrialAndGetReturnsTheStoredEnding) {
  const int64_t id = NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w-3");
  ASSERT_TRUE(
      store().RecordEpoch(Ref(a, "w-3"), Epoch(1, 0.5), kLongLease).ok());
  nas::v1::TrialMetrics metrics;
  metrics.set_val_accuracy(0.1 + 0.2);
  metrics.set_params(123456789012);
  absl::StatusOr<Completion> done =
      store().CompleteTrialAndGet(Ref(a, "w-3"), metrics, nullptr);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->ended);
  const nas::v1::Trial stored = GetTrial(id, 0);
  // Both stores return it (the lifecycle counts from it).
  ASSERT_TRUE(done->ending.has_value());
  EXPECT_TRUE(MessageDifferencer::Equals(*done->ending, TrialEnding(stored)))
      << done->ending->DebugString() << "\nvs\n"
      << stored.DebugString();
  EXPECT_EQ(done->ending->search_id(), id);
  EXPECT_EQ(done->ending->state(), nas::v1::TRIAL_STATE_COMPLETED);
  EXPECT_TRUE(done->ending->has_finished_at());
  EXPECT_EQ(done->ending->epochs_size(), 0);
  absl::StatusOr<Completion> repeat =
      store().CompleteTrialAndGet(Ref(a, "w-3"), metrics, nullptr);
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_FALSE(repeat->ended);
  EXPECT_FALSE(repeat->ending.has_value());
}

// A watched search's trial comes back whole (curve included) from the
// completion's own write; another search's, in the same store, as its
// ending only.
TEST_P(LeaseTest, CompleteTrialAndGetReadsTheTrialWholeWhenAsked) {
  const int64_t watched = NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w-a");
  const int64_t unwatched = NewSearch(1, 1);
  const nas::v1::TrialAssignment b = Lease("w-b");
  ASSERT_EQ(b.search_id(), unwatched);
  ASSERT_TRUE(
      store().RecordEpoch(Ref(a, "w-a"), Epoch(1, 0.5), kLongLease).ok());
  std::vector<int64_t> asked;
  const ReadsWhole reads_whole = [&](int64_t search_id) {
    asked.push_back(search_id);
    return search_id == watched;
  };
  nas::v1::TrialMetrics metrics;
  metrics.set_val_accuracy(0.75);
  absl::StatusOr<Completion> whole =
      store().CompleteTrialAndGet(Ref(a, "w-a"), metrics, reads_whole);
  absl::StatusOr<Completion> ending =
      store().CompleteTrialAndGet(Ref(b, "w-b"), metrics, reads_whole);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_TRUE(ending.ok()) << ending.status();
  EXPECT_EQ(asked, (std::vector<int64_t>{watched, unwatched}));

  ASSERT_TRUE(whole->ending.has_value());
  EXPECT_TRUE(whole->whole);
  const nas::v1::Trial stored = GetTrial(watched, 0);
  EXPECT_TRUE(MessageDifferencer::Equals(*whole->ending, stored))
      << whole->ending->DebugString() << "\nvs\n"
      << stored.DebugString();
  EXPECT_EQ(whole->ending->epochs_size(), 1);

  ASSERT_TRUE(ending->ending.has_value());
  EXPECT_FALSE(ending->whole);
  EXPECT_TRUE(MessageDifferencer::Equals(*ending->ending,
                                         TrialEnding(GetTrial(unwatched, 0))));
}

// An estimator that measures no latency or losses (the tabular one) leaves
// them unset: NULL in SQL, unset again when read back, never 0.
TEST_P(LeaseTest, UnmeasuredMetricsAreNullNotZero) {
  const int64_t id = NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w");
  nas::v1::TrialMetrics metrics;
  metrics.set_val_accuracy(0.75);
  metrics.set_test_accuracy(0.5);
  metrics.set_params(1000);
  metrics.set_flops(0);  // measured, and zero: stays 0, not NULL
  metrics.set_train_seconds(0.01);
  ASSERT_TRUE(store().CompleteTrial(Ref(a, "w"), metrics).ok());
  const std::string where =
      " FROM trials WHERE search_id = " + std::to_string(id);
  if (postgres()) {
    EXPECT_EQ(db().Query("SELECT (val_loss IS NULL)::text || (test_loss IS "
                         "NULL)::text || (latency_ms IS NULL)::text || "
                         "coalesce(flops::text, 'null') || "
                         "coalesce(val_accuracy::text, 'null')" +
                         where)[0][0]
                  .as<std::string>(),
              "truetruetrue00.75");
    // The views show NULL as well.
    EXPECT_EQ(db().Query("SELECT count(*) FROM best_trials WHERE latency_ms "
                         "IS NULL AND search_id = " +
                         std::to_string(id))[0][0]
                  .as<int>(),
              1);
  }
  const nas::v1::Trial trial = GetTrial(id, 0);
  EXPECT_FALSE(trial.metrics().has_val_loss());
  EXPECT_FALSE(trial.metrics().has_test_loss());
  EXPECT_FALSE(trial.metrics().has_latency_ms());
  EXPECT_TRUE(trial.metrics().has_flops());
  EXPECT_TRUE(MessageDifferencer::Equals(trial.metrics(), metrics))
      << trial.metrics().DebugString();
  // BestTrials reads them back unset too.
  absl::StatusOr<std::vector<nas::v1::Trial>> best = store().BestTrials(id, 1);
  ASSERT_TRUE(best.ok()) << best.status();
  ASSERT_EQ(best->size(), 1u);
  EXPECT_FALSE((*best)[0].metrics().has_latency_ms());
}

TEST_P(LeaseTest, IllegalTransitionsAreRefused) {
  const int64_t id = NewSearch(4, 4);
  // Trial 0 was never leased: attempt 0 names no lease.
  auto listed = store().ListTrials(id, {}, -1, 1);
  ASSERT_TRUE(listed.ok());
  const LeaseRef never{"w", (*listed)[0].id(), 0};
  EXPECT_EQ(store().CompleteTrial(never, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);

  const nas::v1::TrialAssignment failed = Lease("w");     // trial 0
  const nas::v1::TrialAssignment completed = Lease("w");  // trial 1
  const nas::v1::TrialAssignment stopped = Lease("w");    // trial 2
  ASSERT_TRUE(store().FailTrial(Ref(failed, "w"), "cuda error").ok());
  absl::StatusOr<bool> failed_again =
      store().FailTrial(Ref(failed, "w"), "cuda error");
  ASSERT_TRUE(failed_again.ok()) << failed_again.status();
  EXPECT_FALSE(*failed_again) << "repeating a failure is idempotent";
  EXPECT_EQ(store().CompleteTrial(Ref(failed, "w"), {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store()
                .StopTrial(Ref(failed, "w"), "x", {}, std::nullopt, false)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(store().CompleteTrial(Ref(completed, "w"), {}).ok());
  EXPECT_EQ(store().FailTrial(Ref(completed, "w"), "late").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      store()
          .RecordEpoch(Ref(completed, "w"), Epoch(3, 0.1), absl::Seconds(5))
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(
      store()
          .StopTrial(Ref(stopped, "w"), "median rule", {}, std::nullopt, false)
          .ok());
  auto ack =
      store().RecordEpoch(Ref(stopped, "w"), Epoch(2, 0.1), absl::Seconds(5));
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_TRUE(ack->stop);
  EXPECT_EQ(store().CompleteTrial(Ref(stopped, "w"), {}).status().code(),
            absl::StatusCode::kFailedPrecondition);

  EXPECT_EQ(GetTrial(id, 0).reason(), "attempt 1 on worker w: cuda error");
  EXPECT_EQ(GetTrial(id, 1).state(), nas::v1::TRIAL_STATE_COMPLETED);
  EXPECT_EQ(GetTrial(id, 2).reason(), "attempt 1 on worker w: median rule");
  EXPECT_EQ(GetTrial(id, 3).state(), nas::v1::TRIAL_STATE_PENDING);
}

TEST_P(LeaseTest, ListTrialsFiltersPagesAndShowsCurrentAttemptEpochs) {
  const int64_t id = NewSearch(5, 5);
  const nas::v1::TrialAssignment a = Lease("w-a", kLongLease);
  ASSERT_TRUE(
      store().RecordEpoch(Ref(a, "w-a"), Epoch(1, 0.1), kLongLease).ok());
  ASSERT_TRUE(
      store().RecordEpoch(Ref(a, "w-a"), Epoch(2, 0.2), kLongLease).ok());
  ExpireLease(a.trial_id());
  ASSERT_EQ(store().ExpireLeases().value_or(-1), 1);
  const nas::v1::TrialAssignment b = Lease("w-b");
  ASSERT_EQ(b.trial_id(), a.trial_id());
  ASSERT_TRUE(
      store().RecordEpoch(Ref(b, "w-b"), Epoch(1, 0.7), absl::Seconds(9)).ok());

  const nas::v1::Trial trial = GetTrial(id, 0);
  ASSERT_EQ(trial.epochs_size(), 1) << "epochs of attempt 1 are history";
  EXPECT_DOUBLE_EQ(trial.epochs(0).val_accuracy(), 0.7);
  if (postgres()) {
    EXPECT_EQ(db().Query("SELECT count(*) FROM epoch_metrics")[0][0].as<int>(),
              3);
  }

  auto running = store().ListTrials(id, {nas::v1::TRIAL_STATE_RUNNING}, -1, 10);
  ASSERT_TRUE(running.ok());
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ((*running)[0].number(), 0);
  auto pending = store().ListTrials(
      id, {nas::v1::TRIAL_STATE_PENDING, nas::v1::TRIAL_STATE_COMPLETED}, 1, 2);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].number(), 2);
  EXPECT_EQ((*pending)[1].number(), 3);
  auto all = store().ListTrials(id, {}, -1, 100);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 5u);
}

TEST_P(LeaseTest, NonPositiveLeaseIsInvalid) {
  NewSearch(1, 1);
  EXPECT_EQ(store().LeaseTrial("w", absl::ZeroDuration()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nas::controller::testing
