// The controller's store without a database: searches, trials, epochs,
// workers and checkpoints held in memory, so that tests and `nas-controller`
// runs need no PostgreSQL. Everything is lost when the process exits.
//
// Contract: exactly that of the PostgreSQL stores (TrialStore in
// controller/store/trial_store.h, CheckpointStore in
// controller/checkpoints/checkpoint_store.h): the same results, states,
// error codes and messages, so that one conformance suite runs against
// both. Ids count from 1 like BIGSERIAL columns; worker ids are "w-" and a
// number, like the workers table's default. Times come from the Clock
// (the database's now() for PostgreSQL), truncated to microseconds as a
// timestamptz stores them, and one call reads the clock once, as one
// transaction sees one now().
//
// Thread-safe: every call holds one mutex for its whole work, which makes
// each call atomic the way a PostgreSQL transaction is (two workers never
// lease one trial; concurrent AddTrials with one expected count add once).
// Checksums of checkpoint bytes are computed outside it.
#ifndef NAS_CONTROLLER_MEMORY_STORE_MEMORY_STORE_H_
#define NAS_CONTROLLER_MEMORY_STORE_MEMORY_STORE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "controller/checkpoints/checkpoint_store.h"
#include "controller/store/trial_store.h"
#include "nas/v1/search.pb.h"
#include "nas/v1/worker_service.pb.h"

namespace nas::controller {

class MemoryStore final : public TrialStore, public CheckpointStore {
 public:
  // `clock` is not owned and must outlive the store.
  explicit MemoryStore(Clock* clock = Clock::Real());
  ~MemoryStore() override;

  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // Both interfaces ask; there is no database to count.
  DatabaseStats database_stats() const override { return {}; }

  // ---- TrialStore: searches ----
  absl::StatusOr<nas::v1::Search> CreateSearch(
      const nas::v1::SearchSpec& spec, const std::string& owner) override;
  absl::StatusOr<nas::v1::Search> GetSearch(int64_t search_id) override;
  absl::StatusOr<std::vector<nas::v1::Search>> ListSearches(
      int64_t before_id, int limit, const SearchFilter& filter) override;
  absl::StatusOr<std::vector<int64_t>> ListRunningSearchIds() override;
  absl::StatusOr<nas::v1::Search> CancelSearch(int64_t search_id) override;
  absl::StatusOr<bool> CompleteSearchIfDone(int64_t search_id) override;
  absl::StatusOr<bool> EndSearch(int64_t search_id, nas::v1::SearchState state,
                                 const std::string& reason) override;
  absl::StatusOr<nas::v1::Search> ExtendSearch(int64_t search_id,
                                               int32_t max_trials) override;
  absl::StatusOr<DeletedSearch> DeleteSearch(int64_t search_id,
                                             bool force) override;
  absl::StatusOr<nas::v1::Search> SetSearchArchived(int64_t search_id,
                                                    bool archived) override;
  absl::StatusOr<bool> SetRunningSearchReason(
      int64_t search_id, const std::string& reason) override;

  // ---- TrialStore: trials ----
  absl::StatusOr<std::vector<nas::v1::Trial>> ListTrials(
      int64_t search_id, const std::vector<nas::v1::TrialState>& states,
      int32_t after_number, int limit) override;
  absl::StatusOr<std::vector<nas::v1::Trial>> ListChangedTrials(
      int64_t search_id, int32_t after_number,
      const std::vector<SeenTrialState>& watched, int limit) override;
  absl::StatusOr<nas::v1::Trial> GetTrial(int64_t trial_id) override;
  absl::StatusOr<std::vector<nas::v1::Trial>> BestTrials(int64_t search_id,
                                                         int k) override;
  absl::Status AddTrials(int64_t search_id, int expected_count,
                         const std::vector<NewTrial>& trials) override;

  // ---- TrialStore: leases ----
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> LeaseTrial(
      const std::string& worker_id, absl::Duration lease) override;
  absl::StatusOr<EpochAck> RecordEpoch(const LeaseRef& ref,
                                       const nas::v1::EpochMetrics& metrics,
                                       absl::Duration lease) override;
  absl::StatusOr<EpochAck> RenewLease(const LeaseRef& ref,
                                      absl::Duration lease) override;
  absl::StatusOr<bool> CompleteTrial(
      const LeaseRef& ref, const nas::v1::TrialMetrics& metrics) override;
  // Returns the ending as the PostgreSQL store does, so that the callers'
  // tests see what they see in production: the ending, not the trial whole.
  absl::StatusOr<Completion> CompleteTrialAndGet(
      const LeaseRef& ref, const nas::v1::TrialMetrics& metrics,
      const ReadsWhole& reads_whole) override;
  absl::StatusOr<bool> FailTrial(const LeaseRef& ref,
                                 const std::string& reason) override;
  absl::StatusOr<nas::v1::TrialState> ReleaseTrial(
      const LeaseRef& ref, const std::string& reason) override;
  absl::StatusOr<bool> StopTrial(const LeaseRef& ref, const std::string& reason,
                                 const nas::v1::TrialMetrics& metrics,
                                 std::optional<int32_t> rung,
                                 bool paused) override;
  absl::StatusOr<bool> ResumePausedTrial(int64_t trial_id,
                                         const std::string& reason) override;
  absl::Status SetTrialRung(const LeaseRef& ref, int32_t rung) override;
  absl::StatusOr<std::vector<EpochReport>> ListEpochReports(
      int64_t search_id) override;
  absl::StatusOr<int> ExpireLeases() override;
  // Nothing to fold: the counts are plain counters (SearchRow::counts).
  absl::StatusOr<int> FoldTrialCounts() override { return 0; }

  // ---- TrialStore: workers ----
  absl::StatusOr<std::string> RegisterWorker(
      const nas::v1::RegisterWorkerRequest& worker) override;
  absl::Status TouchWorker(const std::string& worker_id) override;
  absl::StatusOr<std::vector<LiveWorker>> ListLiveWorkers(
      absl::Duration within) override;

  // ---- CheckpointStore ----
  absl::Status PutTrialUpload(const LeaseRef& ref, double merge_weight,
                              const std::string& sha256,
                              const std::string& bytes) override;
  absl::StatusOr<CheckpointInfo> TrialUploadInfo(int64_t trial_id) override;
  absl::StatusOr<std::string> ReadTrialUpload(int64_t trial_id) override;
  absl::Status PutSupernetVersion(int64_t search_id, int64_t version,
                                  int64_t parent_version,
                                  const std::vector<int64_t>& merged_trial_ids,
                                  const std::string& bytes) override;
  absl::StatusOr<int64_t> LatestSupernetVersion(int64_t search_id) override;
  absl::StatusOr<CheckpointInfo> SupernetVersionInfo(int64_t search_id,
                                                     int64_t version) override;
  absl::StatusOr<std::string> ReadSupernetVersion(int64_t search_id,
                                                  int64_t version) override;

  // Test hooks, standing in for the SQL a PostgreSQL test runs directly:
  // Sets the lease end of RUNNING trial `trial_id`; NotFound for an unknown
  // trial, FailedPrecondition when it is not RUNNING.
  absl::Status SetLeaseExpiryForTesting(int64_t trial_id,
                                        absl::Time expires_at);
  // The lease end of RUNNING trial `trial_id`; errors as above.
  absl::StatusOr<absl::Time> LeaseExpiryForTesting(int64_t trial_id);

 private:
  // A stored checkpoint. The bytes are shared and never changed, so that a
  // read copies and checks them after letting go of the mutex.
  struct Checkpoint {
    CheckpointInfo info;
    std::shared_ptr<const std::string> bytes;
  };

  // Trial counts of one kind, indexed by TrialState number.
  using StateCounts = std::array<int32_t, 7>;

  // A row of the searches table, with the indexes this store keeps.
  struct SearchRow {
    nas::v1::SearchSpec spec;  // as stored; ExtendSearch raises max_trials
    nas::v1::SearchState state = nas::v1::SEARCH_STATE_RUNNING;
    std::string state_reason;
    std::string owner;
    int32_t extra_trials = 0;
    int32_t max_attempts = 0;
    std::string objective_metric;  // RankingObjectiveOf: resolved at create
    bool maximize = true;
    absl::Time created_at;
    std::optional<absl::Time> finished_at;
    std::optional<absl::Time> archived_at;
    // Trial ids by number: numbers are 0, 1, ... without gaps.
    std::vector<int64_t> trial_ids;
    // The numbers of its PENDING trials, lowest first: what LeaseTrial
    // scans.
    std::set<int32_t> pending;
    // By kind (TrialKind number order, as kind_counts lists them).
    std::map<nas::v1::TrialKind, StateCounts> counts;
    // Merged supernet versions (>= 1) by version.
    std::map<int64_t, Checkpoint> versions;
  };

  // A row of the trials table, with its epoch reports and upload.
  struct TrialRow {
    int64_t id = 0;
    int64_t search_id = 0;
    int32_t number = 0;
    nas::v1::TrialState state = nas::v1::TRIAL_STATE_PENDING;
    // Never UNSPECIFIED: stored as TRAIN, as trials.kind stores it.
    nas::v1::TrialKind kind = nas::v1::TRIAL_KIND_TRAIN;
    nas::v1::Architecture architecture;
    std::string canonical_key;
    nas::v1::TrainingBudget budget;
    uint64_t seed = 0;
    std::optional<nas::v1::SupernetTask> task;
    int32_t attempt = 0;
    std::string worker_id;  // "" where the column is NULL
    std::optional<absl::Time> lease_expires_at;
    // Only the measured fields are set (NULL columns stay unset).
    nas::v1::TrialMetrics metrics;
    std::string reason;
    std::optional<int32_t> rung;
    int32_t promotions = 0;  // trials.promotions
    absl::Time created_at;
    std::optional<absl::Time> started_at;
    std::optional<absl::Time> finished_at;
    // Epoch reports: epoch -> attempt (latest first) -> metrics.
    std::map<int32_t,
             std::map<int32_t, nas::v1::EpochMetrics, std::greater<int32_t>>>
        epochs;
    // Its upload (checkpoint version 0), if any.
    std::optional<Checkpoint> upload;
  };

  struct WorkerRow {
    std::string name;
    std::string estimator;
    // Capability tokens; nullopt when the worker declared none.
    std::optional<std::vector<std::string>> capabilities;
    absl::Time last_seen_at;
  };

  // How FinishTrial moves a RUNNING trial.
  // kPause: stopped at a rung with its training state kept (promotion).
  enum class Ending { kComplete, kFail, kStop, kPause };

  // The clock's now, at the database's microsecond precision.
  absl::Time Now();

  SearchRow* FindSearch(int64_t search_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  TrialRow* FindTrial(int64_t trial_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The search as the API shows it, with counts and kind_counts.
  static nas::v1::Search SearchProto(int64_t search_id, const SearchRow& row);
  // The trial as the API shows it, with its learning curve.
  static nas::v1::Trial TrialProto(const TrialRow& row);
  // TrialOutline of TrialProto(row), without copying what the outline
  // drops (curve, budget, task): a strategy step reads every changed trial.
  static nas::v1::Trial TrialOutlineProto(const TrialRow& row);
  // Its learning curve: the epochs of its current attempt, preceded, when
  // that attempt resumed from a saved state, by the latest earlier report
  // of each epoch before its first.
  static std::vector<const nas::v1::EpochMetrics*> Curve(const TrialRow& trial);
  // The training states kept to resume the search's trials (paused ones,
  // expired ones) go when it ends, as kDropResumeStates does in PostgreSQL.
  void DropResumeStates(const SearchRow& search)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves `trial` to `state`, keeping the counts and indexes in step.
  void SetTrialState(TrialRow& trial, nas::v1::TrialState state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds a PENDING trial numbered `number` to search `search_id`.
  void InsertTrial(int64_t search_id, SearchRow& search, int32_t number,
                   const NewTrial& trial, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The trial of `ref` when `ref` is its current lease; NotFound for an
  // unknown trial, FailedPrecondition (naming the current attempt) for a
  // stale lease.
  absl::StatusOr<TrialRow*> CheckLease(const LeaseRef& ref)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<bool> FinishTrial(const LeaseRef& ref, Ending ending,
                                   const nas::v1::TrialMetrics* metrics,
                                   const std::string& reason,
                                   std::optional<int32_t> rung = std::nullopt);
  absl::StatusOr<Checkpoint> FindVersion(int64_t search_id, int64_t version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;

  absl::Mutex mu_;
  int64_t last_search_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_trial_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_worker_number_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int64_t, SearchRow> searches_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, TrialRow> trials_ ABSL_GUARDED_BY(mu_);
  // RUNNING trials' ids: what ExpireLeases scans.
  std::set<int64_t> running_ ABSL_GUARDED_BY(mu_);
  // By id; ListLiveWorkers orders by it as text, like ORDER BY id.
  std::map<std::string, WorkerRow> workers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_MEMORY_STORE_MEMORY_STORE_H_
