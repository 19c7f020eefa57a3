// A TrialStore that forwards every call to another store: the base for test
// stores that intercept one or two calls (to interleave a concurrent client,
// inject a fault) and leave the rest to a real store. Add new TrialStore
// methods here, once, rather than in each such test.
#ifndef NAS_CONTROLLER_STORE_FORWARDING_STORE_H_
#define NAS_CONTROLLER_STORE_FORWARDING_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include "controller/store/trial_store.h"

namespace nas::controller {

class ForwardingStore : public TrialStore {
 public:
  // `inner` must outlive this store.
  explicit ForwardingStore(TrialStore* inner) : inner_(inner) {}

  absl::StatusOr<nas::v1::Search> CreateSearch(
      const nas::v1::SearchSpec& spec, const std::string& owner) override {
    return inner_->CreateSearch(spec, owner);
  }
  absl::StatusOr<nas::v1::Search> GetSearch(int64_t id) override {
    return inner_->GetSearch(id);
  }
  absl::StatusOr<nas::v1::Search> GetSearchWithoutCounts(int64_t id) override {
    return inner_->GetSearchWithoutCounts(id);
  }
  absl::StatusOr<std::vector<nas::v1::Search>> ListSearches(
      int64_t before_id, int limit, const SearchFilter& filter) override {
    return inner_->ListSearches(before_id, limit, filter);
  }
  absl::StatusOr<std::vector<int64_t>> ListRunningSearchIds() override {
    return inner_->ListRunningSearchIds();
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
  absl::StatusOr<bool> SetRunningSearchReason(
      int64_t id, const std::string& reason) override {
    return inner_->SetRunningSearchReason(id, reason);
  }
  absl::StatusOr<std::vector<nas::v1::Trial>> ListTrials(
      int64_t id, const std::vector<nas::v1::TrialState>& states,
      int32_t after_number, int limit) override {
    return inner_->ListTrials(id, states, after_number, limit);
  }
  absl::StatusOr<std::vector<nas::v1::Trial>> ListChangedTrials(
      int64_t id, int32_t after_number,
      const std::vector<SeenTrialState>& watched, int limit) override {
    return inner_->ListChangedTrials(id, after_number, watched, limit);
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
  absl::StatusOr<EpochAck> RenewLease(const LeaseRef& ref,
                                      absl::Duration lease) override {
    return inner_->RenewLease(ref, lease);
  }
  absl::StatusOr<bool> CompleteTrial(
      const LeaseRef& ref, const nas::v1::TrialMetrics& metrics) override {
    return inner_->CompleteTrial(ref, metrics);
  }
  absl::StatusOr<Completion> CompleteTrialAndGet(
      const LeaseRef& ref, const nas::v1::TrialMetrics& metrics,
      const ReadsWhole& reads_whole) override {
    return inner_->CompleteTrialAndGet(ref, metrics, reads_whole);
  }
  absl::StatusOr<bool> FailTrial(const LeaseRef& ref,
                                 const std::string& reason) override {
    return inner_->FailTrial(ref, reason);
  }
  absl::StatusOr<nas::v1::TrialState> ReleaseTrial(
      const LeaseRef& ref, const std::string& reason) override {
    return inner_->ReleaseTrial(ref, reason);
  }
  absl::StatusOr<bool> StopTrial(const LeaseRef& ref, const std::string& reason,
                                 const nas::v1::TrialMetrics& metrics,
                                 std::optional<int32_t> rung,
                                 bool paused) override {
    return inner_->StopTrial(ref, reason, metrics, rung, paused);
  }
  absl::StatusOr<bool> ResumePausedTrial(int64_t trial_id,
                                         const std::string& reason) override {
    return inner_->ResumePausedTrial(trial_id, reason);
  }
  absl::Status SetTrialRung(const LeaseRef& ref, int32_t rung) override {
    return inner_->SetTrialRung(ref, rung);
  }
  absl::StatusOr<std::vector<EpochReport>> ListEpochReports(
      int64_t search_id) override {
    return inner_->ListEpochReports(search_id);
  }
  absl::StatusOr<int> ExpireLeases() override { return inner_->ExpireLeases(); }
  absl::StatusOr<int> FoldTrialCounts() override {
    return inner_->FoldTrialCounts();
  }
  absl::StatusOr<std::string> RegisterWorker(
      const nas::v1::RegisterWorkerRequest& worker) override {
    return inner_->RegisterWorker(worker);
  }
  absl::Status TouchWorker(const std::string& worker_id) override {
    return inner_->TouchWorker(worker_id);
  }
  absl::StatusOr<std::vector<LiveWorker>> ListLiveWorkers(
      absl::Duration within) override {
    return inner_->ListLiveWorkers(within);
  }
  DatabaseStats database_stats() const override {
    return inner_->database_stats();
  }

 private:
  TrialStore* const inner_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_FORWARDING_STORE_H_
