// The PostgreSQL TrialStore's class. Internal to nas_store: users include
// postgres_store.h. Methods on searches and workers are in
// postgres_store.cc, those that manage submitted searches (extend, delete,
// archive) in postgres_manage.cc, those on trials and leases in
// postgres_trials.cc, their group commit in postgres_batches.cc, trial
// counts in postgres_counts.cc.
//
// Every method runs one transaction (READ COMMITTED) on a pooled
// connection, through PgPool::Transact; LeaseTrial, RecordEpoch and
// CompleteTrial share theirs with concurrent callers of the same method
// (group commit, postgres_batches.cc). Writers lock what they read: a
// search row (FOR UPDATE) for per-search decisions (AddTrials, CancelSearch,
// CompleteSearchIfDone, ExtendSearch, DeleteSearch), a trial row for lease
// checks, SKIP LOCKED for leasing. Nothing throws: PgPool maps libpqxx
// exceptions to statuses.
#ifndef NAS_CONTROLLER_STORE_POSTGRES_STORE_IMPL_H_
#define NAS_CONTROLLER_STORE_POSTGRES_STORE_IMPL_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "controller/store/group_commit.h"
#include "controller/store/pg_pool.h"
#include "controller/store/trial_store.h"

namespace nas::controller {

class PostgresStore final : public TrialStore {
 public:
  PostgresStore(const std::string& url, int pool_size);

  // Applies the schema migrations; called once by OpenPostgresStore.
  absl::Status Migrate();

  absl::StatusOr<nas::v1::Search> CreateSearch(
      const nas::v1::SearchSpec& spec, const std::string& owner) override;
  absl::StatusOr<nas::v1::Search> GetSearch(int64_t search_id) override;
  absl::StatusOr<nas::v1::Search> GetSearchWithoutCounts(
      int64_t search_id) override;
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

  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> LeaseTrial(
      const std::string& worker_id, absl::Duration lease) override;
  absl::StatusOr<EpochAck> RecordEpoch(const LeaseRef& ref,
                                       const nas::v1::EpochMetrics& metrics,
                                       absl::Duration lease) override;
  absl::StatusOr<EpochAck> RenewLease(const LeaseRef& ref,
                                      absl::Duration lease) override;
  absl::StatusOr<nas::v1::TrialState> ReleaseTrial(
      const LeaseRef& ref, const std::string& reason) override;
  absl::StatusOr<bool> CompleteTrial(
      const LeaseRef& ref, const nas::v1::TrialMetrics& metrics) override;
  absl::StatusOr<Completion> CompleteTrialAndGet(
      const LeaseRef& ref, const nas::v1::TrialMetrics& metrics,
      const ReadsWhole& reads_whole) override;
  absl::StatusOr<bool> FailTrial(const LeaseRef& ref,
                                 const std::string& reason) override;
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
  absl::StatusOr<int> FoldTrialCounts() override;

  absl::StatusOr<std::string> RegisterWorker(
      const nas::v1::RegisterWorkerRequest& worker) override;
  absl::Status TouchWorker(const std::string& worker_id) override;
  absl::StatusOr<std::vector<LiveWorker>> ListLiveWorkers(
      absl::Duration within) override;
  DatabaseStats database_stats() const override;

 private:
  // How FinishTrial moves a RUNNING trial (a completion is batched).
  // kPause: stopped at a rung with its training state kept (promotion).
  enum class Ending { kFail, kStop, kPause };
  // True when this call ended the trial, false for a repeat.
  absl::StatusOr<bool> FinishTrial(const LeaseRef& ref, Ending ending,
                                   const nas::v1::TrialMetrics* metrics,
                                   const std::string& reason,
                                   std::optional<int32_t> rung = std::nullopt);

  // Group commit (postgres_batches.cc): leases, epoch reports and
  // completions of concurrent workers written by one transaction each, with
  // multi-row statements; for reports and completions their WHERE is the
  // lease check. For a report or completion whose lease does not match
  // there (stale, stopped, a repeat), Refused* say exactly why.
  struct EpochRequest {
    LeaseRef ref;
    nas::v1::EpochMetrics metrics;
    int64_t lease_micros = 0;
  };
  struct CompletionRequest {
    LeaseRef ref;
    nas::v1::TrialMetrics metrics;
    ReadsWhole reads_whole;  // empty: never
  };
  struct LeaseRequest {
    std::string worker_id;
    int64_t lease_micros = 0;
    absl::Duration lease;
  };
  using LeaseResult = absl::StatusOr<std::optional<nas::v1::TrialAssignment>>;
  std::vector<LeaseResult> LeaseTrialBatch(
      const std::vector<const LeaseRequest*>& batch);
  // `retry`: whether a request that did not land (its batch failed as a
  // whole, or the WHERE refused a lease that is current after all) may run
  // once more, as a batch of one without retry.
  std::vector<absl::StatusOr<EpochAck>> RecordEpochBatch(
      const std::vector<const EpochRequest*>& batch, bool retry = true);
  std::vector<absl::StatusOr<Completion>> CompleteTrialBatch(
      const std::vector<const CompletionRequest*>& batch, bool retry = true);
  // The answer to a request its batch's WHERE refused: the lease check's
  // error, a stop, or (a repeat) what was recorded before. A request whose
  // lease is current after all (twice in one batch) runs again as a batch
  // of one when `may_retry`.
  absl::StatusOr<EpochAck> RefusedEpoch(const EpochRequest& request,
                                        bool may_retry);
  absl::StatusOr<Completion> RefusedCompletion(const CompletionRequest& request,
                                               bool may_retry);
  // CompleteSearchIfDone: which of the searches have no open trial, in one
  // statement; those go on to CompleteSearchLocked.
  std::vector<absl::StatusOr<bool>> CompleteSearchBatch(
      const std::vector<const int64_t*>& batch);
  // Completes the search if, under its row lock, it has all its trials and
  // all are finished.
  absl::StatusOr<bool> CompleteSearchLocked(int64_t search_id);

  // Lease batches: the workers' declared capabilities (the text of their
  // array; nullopt: none declared), each group of alike workers leased
  // with one query. Read from the workers table once per worker: a
  // worker's capabilities never change after it registered.
  using Capabilities = std::optional<std::string>;
  std::vector<Capabilities> CapabilitiesOf(
      pqxx::transaction_base& tx,
      const std::vector<const LeaseRequest*>& batch);

  PgPool pool_;
  std::mutex capabilities_mu_;
  std::map<std::string, Capabilities> capabilities_
      ABSL_GUARDED_BY(capabilities_mu_);
  GroupCommitter<EpochRequest, absl::StatusOr<EpochAck>> epochs_;
  GroupCommitter<CompletionRequest, absl::StatusOr<Completion>> completions_;
  GroupCommitter<LeaseRequest, LeaseResult> leases_;
  GroupCommitter<int64_t, absl::StatusOr<bool>> search_checks_;
};

// Helpers shared by the two .cc files; each runs inside the caller's
// transaction and throws like libpqxx.

// The search with its trial counts (unless !counts), optionally locking its
// row. NotFound when there is no such search.
absl::StatusOr<nas::v1::Search> LoadSearch(pqxx::transaction_base& tx,
                                           int64_t search_id, bool lock,
                                           bool counts = true);
// Fills counts and kind_counts of each search in `searches` from their
// folded counts and deltas (postgres_counts.cc); returns how many deltas
// it read.
int LoadCounts(pqxx::transaction_base& tx,
               std::vector<nas::v1::Search>* searches);
// LoadCounts, and when it read many deltas, folds them (FoldCounts) and
// commits `tx`, so that the next read is cheap again. For read-only
// transactions.
void LoadCountsAndFoldIfMany(pqxx::work& tx,
                             std::vector<nas::v1::Search>* searches);
// Moves every delta row into trial_counts; returns how many it moved, 0
// when another transaction holds kTrialCountsLockKey.
int FoldCounts(pqxx::work& tx);
// Leasing (postgres_trials.cc): the PENDING trials of RUNNING searches that
// a worker with capabilities $1 (text[]; NULL: a worker offered everything)
// may run, oldest search and lowest number first, at most $2 of them,
// locked with SKIP LOCKED.
std::string LeaseCandidatesSql();
// The assignment of a row that LeaseCandidatesSql selected (`spec`: its
// spec column, parsed), leased as attempt `attempt` for `lease`.
absl::StatusOr<nas::v1::TrialAssignment> AssignmentFromRow(
    const pqxx::row& row, const nas::v1::SearchSpec& spec, int32_t attempt,
    absl::Duration lease);
// Adds the epochs of each trial's current attempt.
void LoadEpochs(pqxx::transaction_base& tx,
                std::vector<nas::v1::Trial>* trials);

// The statement ListChangedTrials prepares. Its parameters: the search's
// id, after_number, the watched trials' numbers and states, the limit.
// Exposed for the query-plan test (postgres_plans_test.cc).
const std::string& ListChangedTrialsSql();

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_POSTGRES_STORE_IMPL_H_
