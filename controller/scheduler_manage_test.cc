// The scheduler with searches changed from outside a strategy step, against
// a real PostgreSQL (needs NAS_TEST_DATABASE_URL, like nas_store_test).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/scheduler.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

// Forwards to a real store; `after_list_running` runs right after
// ListRunningSearchIds answers, as a concurrent client would.
class InterleavingStore final : public TrialStore {
 public:
  explicit InterleavingStore(TrialStore* inner) : inner_(inner) {}
  std::function<void()> after_list_running;

  absl::StatusOr<nas::v1::Search> CreateSearch(
      const nas::v1::SearchSpec& spec, const std::string& owner) override {
    return inner_->CreateSearch(spec, owner);
  }
  absl::StatusOr<nas::v1::Search> GetSearch(int64_t id) override {
    return inner_->GetSearch(id);
  }
  absl::StatusOr<std::vector<nas::v1::Search>> ListSearches(
      int64_t before_id, int limit, const std::optional<std::string>& owner,
      bool include_archived) override {
    return inner_->ListSearches(before_id, limit, owner, include_archived);
  }
  absl::StatusOr<std::vector<int64_t>> ListRunningSearchIds() override {
    auto ids = inner_->ListRunningSearchIds();
    if (after_list_running) std::exchange(after_list_running, nullptr)();
    return ids;
  }
  absl::StatusOr<nas::v1::Search> CancelSearch(int64_t id) override {
    return inner_->CancelSearch(id);
  }
  absl::StatusOr<bool> CompleteSearchIfDone(int64_t id) override {
    return inner_->CompleteSearchIfDone(id);
  }
  absl::StatusOr<bool> EndSearch(int64_t id, nas::v1::SearchState state,
                                 const std::string& reason) override {
    return inner_->EndSearch(id, state, reason);
  }
  absl::StatusOr<nas::v1::Search> ExtendSearch(int64_t id,
                                               int32_t max_trials) override {
    return inner_->ExtendSearch(id, max_trials);
  }
  absl::StatusOr<DeletedSearch> DeleteSearch(int64_t id, bool force) override {
    return inner_->DeleteSearch(id, force);
  }
  absl::StatusOr<nas::v1::Search> SetSearchArchived(int64_t id,
                                                    bool archived) override {
    return inner_->SetSearchArchived(id, archived);
  }
  absl::StatusOr<std::vector<nas::v1::Trial>> ListTrials(
      int64_t id, const std::vector<nas::v1::TrialState>& states,
      int32_t after_number, int limit) override {
    return inner_->ListTrials(id, states, after_number, limit);
  }
  absl::StatusOr<nas::v1::Trial> GetTrial(int64_t id) override {
    return inner_->GetTrial(id);
  }
  absl::StatusOr<std::vector<nas::v1::Trial>> BestTrials(int64_t id,
                                                         int k) override {
    return inner_->BestTrials(id, k);
  }
  absl::Status AddTrials(int64_t id, int expected_count,
                         const std::vector<NewTrial>& trials) override {
    return inner_->AddTrials(id, expected_count, trials);
  }
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> LeaseTrial(
      const std::string& worker_id, absl::Duration lease) override {
    return inner_->LeaseTrial(worker_id, lease);
  }
  absl::StatusOr<EpochAck> RecordEpoch(const LeaseRef& ref,
                                       const nas::v1::EpochMetrics& metrics,
                                       absl::Duration lease) override {
    return inner_->RecordEpoch(ref, metrics, lease);
  }
  absl::Status CompleteTrial(const LeaseRef& ref,
                             const nas::v1::TrialMetrics& metrics) override {
    return inner_->CompleteTrial(ref, metrics);
  }
  absl::Status FailTrial(const LeaseRef& ref,
                         const std::string& reason) override {
    return inner_->FailTrial(ref, reason);
  }
  absl::Status StopTrial(const LeaseRef& ref,
                         const std::string& reason) override {
    return inner_->StopTrial(ref, reason);
  }
  absl::StatusOr<int> ExpireLeases() override { return inner_->ExpireLeases(); }
  absl::StatusOr<std::string> RegisterWorker(
      const nas::v1::RegisterWorkerRequest& worker) override {
    return inner_->RegisterWorker(worker);
  }
  absl::Status TouchWorker(const std::string& worker_id) override {
    return inner_->TouchWorker(worker_id);
  }

 private:
  TrialStore* const inner_;
};

using SchedulerManageTest = StoreTest;

// A search deleted between the maintenance pass's listing and its
// completion check is gone, not an error: an error would mark the database
// unhealthy and hold lease expiry back for a whole lease length.
TEST_F(SchedulerManageTest, MaintainSkipsASearchDeletedMeanwhile) {
  const int64_t deleted = NewSearch(1, 0);
  const int64_t done = NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w-1");
  ASSERT_TRUE(store().CompleteTrial(Ref(a, "w-1"), {}).ok());

  InterleavingStore interleaving(&store());
  interleaving.after_list_running = [&] {
    ASSERT_TRUE(store().DeleteSearch(deleted, /*force=*/true).ok());
  };
  Scheduler scheduler(&interleaving, Scheduler::Options());
  absl::StatusOr<std::vector<int64_t>> completed = scheduler.Maintain();
  ASSERT_TRUE(completed.ok()) << completed.status();
  EXPECT_EQ(*completed, std::vector<int64_t>{done});
}

// Enqueued trials are leased before the strategy proposes anything.
TEST_F(SchedulerManageTest, EnqueuedTrialsAreLeasedFirst) {
  auto search = store().CreateSearch(Spec("warm", 4), "");
  ASSERT_TRUE(search.ok()) << search.status();
  Scheduler scheduler(&store(), Scheduler::Options());
  nas::v1::Architecture arch;
  arch.set_text("stage1.depth=1 stage1.width=16 stage1.layer1.op=skip");
  auto enqueued = scheduler.EnqueueTrials(search->id(), {arch});
  ASSERT_TRUE(enqueued.ok()) << enqueued.status();
  ASSERT_EQ(enqueued->size(), 1u);
  EXPECT_EQ((*enqueued)[0].number(), 0);

  auto leased = scheduler.Acquire("w-1", absl::Seconds(5));
  ASSERT_TRUE(leased.ok() && leased->has_value()) << leased.status();
  EXPECT_EQ((*leased)->trial_number(), 0);
  EXPECT_EQ((*leased)->architecture().text(),
            (*enqueued)[0].architecture().text());
}

}  // namespace
}  // namespace nas::controller::testing
