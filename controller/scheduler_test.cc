// The scheduler's lifecycle decisions on a real PostgreSQL: worker faults
// requeue, trial faults fail, a search whose every attempt failed ends
// FAILED with the reason, searches no connected worker can run say so, and
// maintenance folds the trial counts.
#include "controller/scheduler.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "controller/runnability.h"
#include "controller/store/forwarding_store.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

class SchedulerTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    scheduler_ = std::make_unique<Scheduler>(&store(), Scheduler::Options());
  }

  // Leases the next trial and fails it with `fault`; returns its new state.
  nas::v1::TrialState LeaseAndFail(nas::v1::FaultKind fault,
                                   const std::string& why) {
    const nas::v1::TrialAssignment a = Lease("w-1");
    absl::StatusOr<nas::v1::TrialState> state =
        scheduler_->FailAttempt(Ref(a, "w-1"), why, fault);
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? *state : nas::v1::TRIAL_STATE_UNSPECIFIED;
  }

  nas::v1::Search Search(int64_t id) {
    absl::StatusOr<nas::v1::Search> search = store().GetSearch(id);
    EXPECT_TRUE(search.ok()) << search.status();
    return search.ok() ? *search : nas::v1::Search();
  }

  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, WorkerFaultRequeuesAndTrialFaultFails) {
  const int64_t id = NewSearch(3, 2, /*max_attempts=*/3);
  EXPECT_EQ(LeaseAndFail(nas::v1::FAULT_KIND_WORKER, "no CUDA"),
            nas::v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(GetTrial(id, 0).state(), nas::v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(LeaseAndFail(nas::v1::FAULT_KIND_UNSPECIFIED, "diverged"),
            nas::v1::TRIAL_STATE_FAILED)
      << "an older worker's failure is the trial's";
  EXPECT_EQ(GetTrial(id, 0).reason(),
            "attempt 1 on worker w-1: worker fault: no CUDA\n"
            "attempt 2 on worker w-1: diverged");
}

TEST_F(SchedulerTest, SearchWhoseEveryAttemptFailedEndsFailed) {
  const int64_t id = NewSearch(20, 5, /*max_attempts=*/1);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(LeaseAndFail(nas::v1::FAULT_KIND_TRIAL, "loss is NaN"),
              nas::v1::TRIAL_STATE_FAILED);
    auto done = scheduler_->CompleteIfDone(id);
    ASSERT_TRUE(done.ok()) << done.status();
    EXPECT_FALSE(*done) << "only " << i + 1 << " of the first 5 failed";
  }
  ASSERT_EQ(LeaseAndFail(nas::v1::FAULT_KIND_TRIAL, "loss is NaN"),
            nas::v1::TRIAL_STATE_FAILED);
  auto done = scheduler_->CompleteIfDone(id);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(*done);
  const nas::v1::Search search = Search(id);
  EXPECT_EQ(search.state(), nas::v1::SEARCH_STATE_FAILED);
  EXPECT_EQ(search.state_reason(),
            "every attempt failed: the first 5 trials ended FAILED and none "
            "COMPLETED; trial 4: attempt 1 on worker w-1: loss is NaN");
}

TEST_F(SchedulerTest, OneCompletedTrialKeepsTheSearchGoing) {
  const int64_t id = NewSearch(20, 6, /*max_attempts=*/1);
  const nas::v1::TrialAssignment first = Lease("w-1");
  ASSERT_TRUE(store().CompleteTrial(Ref(first, "w-1"), {}).ok());
  for (int i = 0; i < 5; ++i) {
    LeaseAndFail(nas::v1::FAULT_KIND_TRIAL, "diverged");
  }
  auto done = scheduler_->CompleteIfDone(id);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(*done);
  EXPECT_EQ(Search(id).state(), nas::v1::SEARCH_STATE_RUNNING);
}

TEST_F(SchedulerTest, UnrunnableSearchIsMarkedAndClearedWhenAWorkerCanRunIt) {
  const int64_t id = NewSearch(2, 0);  // chain space on Fashion-MNIST
  nas::v1::RegisterWorkerRequest tabular;
  tabular.set_host("h");
  tabular.mutable_capabilities()->set_estimator("tabular");
  tabular.mutable_capabilities()->add_can_run()->set_space(
      nas::v1::SPACE_KIND_NB201);
  ASSERT_TRUE(store().RegisterWorker(tabular).ok());
  auto changed = scheduler_->MarkUnrunnableSearches();
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 1);
  EXPECT_EQ(Search(id).state_reason(),
            "no connected worker can run this search: it needs a worker for "
            "the chain space on FASHION_MNIST; connected: 1 tabular (nb201)");
  changed = scheduler_->MarkUnrunnableSearches();
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, 0) << "an unchanged reason is not rewritten";

  nas::v1::RegisterWorkerRequest trainer = tabular;
  trainer.mutable_capabilities()->set_estimator("torch");
  nas::v1::Capability* chain = trainer.mutable_capabilities()->add_can_run();
  chain->set_space(nas::v1::SPACE_KIND_CHAIN);
  chain->add_datasets(nas::v1::DATASET_NAME_FASHION_MNIST);
  ASSERT_TRUE(store().RegisterWorker(trainer).ok());
  changed = scheduler_->MarkUnrunnableSearches();
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, 1);
  EXPECT_EQ(Search(id).state_reason(), "");
}

TEST_F(SchedulerTest, AReasonSetByOthersIsLeftAlone) {
  const int64_t id = NewSearch(2, 0);
  ASSERT_TRUE(store().SetRunningSearchReason(id, "waiting for a GPU").ok());
  auto changed = scheduler_->MarkUnrunnableSearches();  // no workers at all
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 0);
  EXPECT_EQ(Search(id).state_reason(), "waiting for a GPU");
}

TEST_F(SchedulerTest, MaintenanceFoldsTheTrialCounts) {
  const int64_t id = NewSearch(3, 3);
  Lease("w-1");
  ASSERT_GT(
      db().Query("SELECT count(*) FROM trial_count_deltas")[0][0].as<int>(), 0);
  ASSERT_TRUE(scheduler_->Maintain().ok());
  EXPECT_EQ(
      db().Query("SELECT count(*) FROM trial_count_deltas")[0][0].as<int>(), 0);
  EXPECT_EQ(Search(id).counts().pending(), 2);
  EXPECT_EQ(Search(id).counts().running(), 1);
}

// Counts not folded stay right, only slower to read: a failed fold must not
// fail the pass, which would pause lease expiry (MaintenanceLoop).
TEST_F(SchedulerTest, AFailedFoldDoesNotFailMaintenance) {
  class FoldFails final : public ForwardingStore {
   public:
    using ForwardingStore::ForwardingStore;
    absl::StatusOr<int> FoldTrialCounts() override {
      return absl::InternalError("fold failed");
    }
  } store_without_folds(&store());
  Scheduler scheduler(&store_without_folds, Scheduler::Options());
  const int64_t id = NewSearch(1, 1, /*max_attempts=*/1);
  const nas::v1::TrialAssignment a = Lease("w-1");
  ExpireLease(a.trial_id());
  absl::StatusOr<std::vector<int64_t>> completed = scheduler.Maintain();
  ASSERT_TRUE(completed.ok()) << completed.status();
  EXPECT_EQ(GetTrial(id, 0).state(), nas::v1::TRIAL_STATE_FAILED);
  EXPECT_EQ(Search(id).counts().failed(), 1);
}

// A search cancelled through the store (as CancelSearch does, or another
// replica) leaves no strategy state behind once the scheduler next looks.
TEST_F(SchedulerTest, AStoppedSearchsStrategyStateIsDropped) {
  const int64_t cancelled = NewSearch(4, 0);
  auto leased = scheduler_->Acquire("w-1", absl::ZeroDuration());
  ASSERT_TRUE(leased.ok()) << leased.status();
  ASSERT_TRUE(leased->has_value()) << "the strategy proposed nothing";
  EXPECT_EQ(scheduler_->SearchesInMemory(), 1u);

  ASSERT_TRUE(store().CancelSearch(cancelled).ok());
  const int64_t other = NewSearch(4, 0);
  leased = scheduler_->Acquire("w-1", absl::ZeroDuration());
  ASSERT_TRUE(leased.ok()) << leased.status();
  ASSERT_TRUE(leased->has_value());
  EXPECT_EQ((*leased)->search_id(), other);
  EXPECT_EQ(scheduler_->SearchesInMemory(), 1u) << "the cancelled one's went";
}

}  // namespace
}  // namespace nas::controller::testing
