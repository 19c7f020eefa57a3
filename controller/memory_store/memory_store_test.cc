// What only the MemoryStore needs tested: time read from its Clock (lease
// expiry, worker liveness, timestamps), its ids, its test hooks, and many
// threads at once. What it shares with the PostgreSQL stores is tested by
// the conformance suite (controller/store/*_test.cc).
#include "controller/memory_store/memory_store.h"

#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/hash/sha256.h"
#include "common/time/clock.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

nas::v1::SearchSpec Spec(int max_trials, int max_attempts = 3) {
  nas::v1::SearchSpec spec;
  spec.set_name("memory");
  spec.mutable_dataset()->set_name(nas::v1::DATASET_NAME_FASHION_MNIST);
  spec.mutable_space()->mutable_chain()->set_stem_channels(16);
  spec.mutable_budget()->set_max_trials(max_trials);
  spec.mutable_budget()->set_max_attempts(max_attempts);
  return spec;
}

std::vector<NewTrial> Trials(int n) {
  std::vector<NewTrial> trials(n);
  for (int i = 0; i < n; ++i) {
    trials[i].architecture.add_choices(i);
    trials[i].architecture.set_text(absl::StrCat("trial ", i));
    trials[i].seed = i;
  }
  return trials;
}

nas::v1::EpochMetrics Epoch(int epoch) {
  nas::v1::EpochMetrics metrics;
  metrics.set_epoch(epoch);
  metrics.set_val_accuracy(0.1 * epoch);
  return metrics;
}

LeaseRef Ref(const nas::v1::TrialAssignment& a, const std::string& worker) {
  return LeaseRef{worker, a.trial_id(), a.attempt()};
}

class MemoryStoreTest : public ::testing::Test {
 protected:
  // Creates a search with `trials` trials; returns its id.
  int64_t NewSearch(int trials, int max_attempts = 3) {
    absl::StatusOr<nas::v1::Search> search =
        store_.CreateSearch(Spec(trials, max_attempts), "");
    EXPECT_TRUE(search.ok()) << search.status();
    EXPECT_TRUE(store_.AddTrials(search->id(), 0, Trials(trials)).ok());
    return search->id();
  }

  nas::v1::TrialAssignment Lease(const std::string& worker,
                                 absl::Duration lease) {
    absl::StatusOr<std::optional<nas::v1::TrialAssignment>> a =
        store_.LeaseTrial(worker, lease);
    EXPECT_TRUE(a.ok() && a->has_value()) << a.status();
    return a.ok() && a->has_value() ? **a : nas::v1::TrialAssignment();
  }

  int Expire() {
    absl::StatusOr<int> expired = store_.ExpireLeases();
    EXPECT_TRUE(expired.ok()) << expired.status();
    return expired.value_or(-1);
  }

  FakeClock clock_;
  MemoryStore store_{&clock_};
};

TEST_F(MemoryStoreTest, LeaseExpiresWhenTheClockPassesItsEnd) {
  const int64_t id = NewSearch(1);
  const nas::v1::TrialAssignment a = Lease("w-1", absl::Seconds(30));
  EXPECT_EQ(*store_.LeaseExpiryForTesting(a.trial_id()),
            clock_.Now() + absl::Seconds(30));
  EXPECT_EQ(Expire(), 0);
  clock_.Advance(absl::Seconds(30));
  EXPECT_EQ(Expire(), 0) << "a lease ends after its last instant";
  clock_.Advance(absl::Microseconds(1));
  EXPECT_EQ(Expire(), 1);
  EXPECT_EQ(Expire(), 0);

  const nas::v1::Trial trial = *store_.GetTrial(a.trial_id());
  EXPECT_EQ(trial.state(), nas::v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(trial.worker_id(), "");
  EXPECT_EQ(trial.reason(), "attempt 1 on worker w-1: lease expired");
  EXPECT_EQ(store_.GetSearch(id)->counts().pending(), 1);
  EXPECT_EQ(store_.LeaseExpiryForTesting(a.trial_id()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(MemoryStoreTest, ReportsExtendTheLeaseFromTheClocksNow) {
  NewSearch(1);
  const nas::v1::TrialAssignment a = Lease("w", absl::Seconds(10));
  clock_.Advance(absl::Seconds(8));
  ASSERT_TRUE(
      store_.RecordEpoch(Ref(a, "w"), Epoch(1), absl::Seconds(10)).ok());
  EXPECT_EQ(*store_.LeaseExpiryForTesting(a.trial_id()),
            clock_.Now() + absl::Seconds(10));
  clock_.Advance(absl::Seconds(8));
  ASSERT_TRUE(store_.RenewLease(Ref(a, "w"), absl::Seconds(10)).ok());
  clock_.Advance(absl::Seconds(8));
  EXPECT_EQ(Expire(), 0) << "renewed 8 s ago for 10 s";
  clock_.Advance(absl::Seconds(3));
  EXPECT_EQ(Expire(), 1);
  // Expired and requeued: the old lease can neither report nor renew.
  EXPECT_EQ(store_.RenewLease(Ref(a, "w"), absl::Seconds(10)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(MemoryStoreTest, EveryAttemptExpiredFailsTheTrial) {
  NewSearch(1, /*max_attempts=*/2);
  const nas::v1::TrialAssignment first = Lease("w-a", absl::Minutes(1));
  clock_.Advance(absl::Minutes(2));
  ASSERT_EQ(Expire(), 1);
  const nas::v1::TrialAssignment second = Lease("w-b", absl::Minutes(1));
  EXPECT_EQ(second.attempt(), 2);
  clock_.Advance(absl::Minutes(2));
  ASSERT_EQ(Expire(), 1);
  const nas::v1::Trial trial = *store_.GetTrial(first.trial_id());
  EXPECT_EQ(trial.state(), nas::v1::TRIAL_STATE_FAILED);
  EXPECT_EQ(trial.worker_id(), "w-b") << "FAILED keeps the last worker";
  EXPECT_EQ(trial.finished_at().seconds(), absl::ToUnixSeconds(clock_.Now()));
}

TEST_F(MemoryStoreTest, TimesComeFromTheClockAtMicrosecondPrecision) {
  clock_.Advance(absl::Nanoseconds(1234567));  // 1234.567 us
  const nas::v1::Search created = *store_.CreateSearch(Spec(1), "");
  EXPECT_EQ(created.created_at().seconds(), 1'800'000'000);
  EXPECT_EQ(created.created_at().nanos(), 1234000) << "truncated to 1 us";
  ASSERT_TRUE(store_.AddTrials(created.id(), 0, Trials(1)).ok());
  clock_.Advance(absl::Seconds(5));
  const nas::v1::TrialAssignment a = Lease("w", absl::Seconds(30));
  clock_.Advance(absl::Seconds(7));
  ASSERT_TRUE(*store_.CompleteTrial(Ref(a, "w"), {}));
  const nas::v1::Trial trial = *store_.GetTrial(a.trial_id());
  EXPECT_EQ(trial.created_at().seconds(), 1'800'000'000);
  EXPECT_EQ(trial.started_at().seconds(), 1'800'000'005);
  EXPECT_EQ(trial.finished_at().seconds(), 1'800'000'012);
  ASSERT_TRUE(*store_.CompleteSearchIfDone(created.id()));
  clock_.Advance(absl::Seconds(1));
  const nas::v1::Search archived =
      *store_.SetSearchArchived(created.id(), true);
  EXPECT_EQ(archived.finished_at().seconds(), 1'800'000'012);
  EXPECT_EQ(archived.archived_at().seconds(), 1'800'000'013);
}

TEST_F(MemoryStoreTest, WorkersAreLiveWithinTheWindowOfTheirLastCall) {
  nas::v1::RegisterWorkerRequest request;
  request.set_host("host");
  const std::string a = *store_.RegisterWorker(request);
  const std::string b = *store_.RegisterWorker(request);
  EXPECT_EQ(a, "w-1");
  EXPECT_EQ(b, "w-2");
  auto live = [&](absl::Duration within) {
    absl::StatusOr<std::vector<LiveWorker>> workers =
        store_.ListLiveWorkers(within);
    EXPECT_TRUE(workers.ok()) << workers.status();
    std::vector<std::string> ids;
    for (const LiveWorker& w : workers.value_or(std::vector<LiveWorker>())) {
      ids.push_back(w.id);
    }
    return ids;
  };
  EXPECT_EQ(live(absl::Seconds(1)), (std::vector<std::string>{a, b}));
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(store_.TouchWorker(b).ok());
  EXPECT_EQ(live(absl::Seconds(31)), (std::vector<std::string>{a, b}));
  EXPECT_EQ(live(absl::Seconds(30)), std::vector<std::string>{b})
      << "seen exactly 30 s ago is not within 30 s";
  // A heartbeat counts as being seen.
  NewSearch(1);
  const nas::v1::TrialAssignment leased = Lease(a, absl::Minutes(5));
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(store_.RenewLease(Ref(leased, a), absl::Minutes(5)).ok());
  EXPECT_EQ(live(absl::Seconds(10)), std::vector<std::string>{a});
  EXPECT_EQ(store_.TouchWorker("w-3").code(), absl::StatusCode::kNotFound);
}

TEST_F(MemoryStoreTest, IdsCountFromOneLikeSerialColumns) {
  EXPECT_EQ(NewSearch(2), 1);
  EXPECT_EQ(NewSearch(1), 2);
  const nas::v1::TrialAssignment a = Lease("w", absl::Seconds(5));
  EXPECT_EQ(a.trial_id(), 1);
  EXPECT_EQ(Lease("w", absl::Seconds(5)).trial_id(), 2);
  EXPECT_EQ(Lease("w", absl::Seconds(5)).trial_id(), 3);
  // Deleting does not reuse ids.
  ASSERT_TRUE(store_.DeleteSearch(2, /*force=*/true).ok());
  EXPECT_EQ(NewSearch(1), 3);
  EXPECT_EQ(store_.ListTrials(3, {}, -1, 5)->at(0).id(), 4);
}

TEST_F(MemoryStoreTest, TestHooksNeedARunningTrial) {
  NewSearch(2);
  const nas::v1::TrialAssignment a = Lease("w", absl::Seconds(5));
  const absl::Time end = clock_.Now() + absl::Hours(1);
  ASSERT_TRUE(store_.SetLeaseExpiryForTesting(a.trial_id(), end).ok());
  EXPECT_EQ(*store_.LeaseExpiryForTesting(a.trial_id()), end);
  EXPECT_EQ(store_.SetLeaseExpiryForTesting(a.trial_id() + 1, end).code(),
            absl::StatusCode::kFailedPrecondition)
      << "trial 2 is PENDING";
  EXPECT_EQ(store_.SetLeaseExpiryForTesting(99, end).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_.LeaseExpiryForTesting(99).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(MemoryStoreTest, HasNoDatabaseToCount) {
  const TrialStore& trials = store_;
  const CheckpointStore& checkpoints = store_;
  EXPECT_EQ(trials.database_stats().connections_opened, 0);
  EXPECT_TRUE(checkpoints.database_stats().errors.empty());
}

TEST(MemoryStoreRealClockTest, DefaultsToTheWallClock) {
  MemoryStore store;
  const absl::Time before = absl::Now() - absl::Seconds(1);
  const nas::v1::Search search = *store.CreateSearch(Spec(1), "");
  const absl::Time created =
      absl::FromUnixSeconds(search.created_at().seconds());
  EXPECT_GE(created, absl::FromUnixSeconds(absl::ToUnixSeconds(before)));
  EXPECT_LE(created, absl::Now());
}

// Workers, each leasing, reporting and ending trials, with a controller
// expiring leases and reading meanwhile: every trial is leased once and
// ends once, and the counts add up.
TEST_F(MemoryStoreTest, ConcurrentWorkersNeverShareATrial) {
  constexpr int kTrials = 200;
  constexpr int kWorkers = 8;
  const int64_t id = NewSearch(kTrials);
  absl::Mutex mu;
  std::multiset<int64_t> leased;
  std::atomic<int> ended{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      const std::string worker = absl::StrCat("w-", w);
      for (;;) {
        absl::StatusOr<std::optional<nas::v1::TrialAssignment>> a =
            store_.LeaseTrial(worker, absl::Hours(1));
        ASSERT_TRUE(a.ok()) << a.status();
        if (!a->has_value()) return;
        {
          absl::MutexLock lock(&mu);
          leased.insert((*a)->trial_id());
        }
        const LeaseRef ref = Ref(**a, worker);
        ASSERT_TRUE(store_.RecordEpoch(ref, Epoch(1), absl::Hours(1)).ok());
        const std::string bytes = absl::StrCat("state of ", ref.trial_id);
        ASSERT_TRUE(
            store_.PutTrialUpload(ref, 1, hash::Sha256Hex(bytes), bytes).ok());
        absl::StatusOr<bool> finished = (*a)->trial_number() % 2 == 0
                                            ? store_.CompleteTrial(ref, {})
                                            : store_.FailTrial(ref, "odd");
        ASSERT_TRUE(finished.ok() && *finished) << finished.status();
        ++ended;
      }
    });
  }
  std::thread controller([&] {
    while (!done) {
      ASSERT_TRUE(store_.ExpireLeases().ok());
      ASSERT_TRUE(store_.GetSearch(id).ok());
      ASSERT_TRUE(store_.ListTrials(id, {}, -1, 1000).ok());
    }
  });
  for (std::thread& thread : threads) thread.join();
  done = true;
  controller.join();

  EXPECT_EQ(leased.size(), static_cast<size_t>(kTrials));
  EXPECT_EQ(std::set<int64_t>(leased.begin(), leased.end()).size(),
            leased.size());
  EXPECT_EQ(ended.load(), kTrials);
  const nas::v1::Search search = *store_.GetSearch(id);
  EXPECT_EQ(search.counts().completed(), kTrials / 2);
  EXPECT_EQ(search.counts().failed(), kTrials / 2);
  EXPECT_EQ(search.counts().pending() + search.counts().running(), 0);
  EXPECT_TRUE(*store_.CompleteSearchIfDone(id));
}

TEST_F(MemoryStoreTest, ConcurrentStrategyStepsAddTrialsOnce) {
  const int64_t id = store_.CreateSearch(Spec(100), "")->id();
  constexpr int kWriters = 8;
  std::atomic<int> won{0};
  std::atomic<int> aborted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&] {
      const absl::Status added = store_.AddTrials(id, 0, Trials(3));
      if (added.ok()) ++won;
      if (absl::IsAborted(added)) ++aborted;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(aborted.load(), kWriters - 1);
  EXPECT_EQ(store_.GetSearch(id)->counts().pending(), 3);
}

}  // namespace
}  // namespace nas::controller
