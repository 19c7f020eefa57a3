// The controller's durable state: searches, trials, per-epoch metrics and
// workers. The controller owns all state; workers never see this interface.
//
// Contract shared by every implementation (PostgresStore, MemoryStore), and
// tested against each by one suite (controller/store/conformance_*_test.cc):
// - Every method is thread-safe.
// - Time is the store's clock (the database's now(); a MemoryStore's
//   Clock), so that several controller replicas agree on lease expiry.
// - Errors: NotFound for unknown ids; FailedPrecondition for an illegal state
//   transition or a stale lease (the message names the current attempt);
//   Aborted when a concurrent writer won a race and the caller should retry;
//   Unavailable when the database cannot be reached.
// - Finished trials are immutable: no method changes a COMPLETED, FAILED,
//   STOPPED or CANCELLED trial (DeleteSearch removes them with their
//   search).
#ifndef NAS_CONTROLLER_STORE_TRIAL_STORE_H_
#define NAS_CONTROLLER_STORE_TRIAL_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/store/database_stats.h"
#include "nas/v1/search.pb.h"
#include "nas/v1/worker_service.pb.h"

namespace nas::controller {

// A trial as a strategy proposes it.
struct NewTrial {
  nas::v1::Architecture architecture;  // choices and text
  std::string canonical_key;           // equal for the same computation
  nas::v1::TrialKind kind = nas::v1::TRIAL_KIND_TRAIN;
  nas::v1::TrainingBudget budget;
  uint64_t seed = 0;
  // Set exactly for SUPERNET_SHARD and SCORE_INHERITED trials.
  std::optional<nas::v1::SupernetTask> task;
};

// True for the candidates that train in epochs within the search, which a
// search's early-stopping rule judges: TRAIN (from scratch; unspecified
// means TRAIN) and SCORE_INHERITED (fine-tuned from inherited weights; a
// spec allows early stopping with weight sharing only with fine-tuning).
// Never RETRAIN: those are the search's final answer.
inline bool IsEarlyStoppableKind(nas::v1::TrialKind kind) {
  return kind == nas::v1::TRIAL_KIND_TRAIN ||
         kind == nas::v1::TRIAL_KIND_UNSPECIFIED ||
         kind == nas::v1::TRIAL_KIND_SCORE_INHERITED;
}

// Names the lease a worker reports under.
struct LeaseRef {
  std::string worker_id;
  int64_t trial_id = 0;
  int32_t attempt = 0;  // the fencing token
};

// Which searches ListSearches returns; the default selects all.
struct SearchFilter {
  // Only this owner's searches; all owners' when nullopt.
  std::optional<std::string> owner;
  // Only searches in one of these states; all when empty.
  std::vector<nas::v1::SearchState> states;
  // Only searches whose spec.name contains this text (case-sensitive
  // substring); all when empty.
  std::string name;
  // Also archived searches (ArchiveSearch); left out by default.
  bool include_archived = false;
};

// What RecordEpoch tells the caller.
struct EpochAck {
  bool stop = false;  // the trial was ended meanwhile (e.g. search cancelled)
  // RecordEpoch, when the epoch was stored: whose it is.
  int64_t search_id = 0;
  int32_t trial_number = 0;
  nas::v1::TrialKind kind = nas::v1::TRIAL_KIND_UNSPECIFIED;
};

// What CompleteTrialAndGet tells the caller.
struct Completion {
  bool ended = false;  // this call completed the trial; false for a repeat
  // When ended, for a store that learns it while writing the ending: the
  // trial's ending (TrialEnding of the trial as GetTrial returns it right
  // after), enough to count the ending and to know its search; nullopt
  // otherwise. Not the whole trial: reading its budget, task and learning
  // curve back cost each lifecycle two statements and JSON parsing, and
  // only a watched search's event needs them.
  std::optional<nas::v1::Trial> ending;
  // `ending` is the trial whole (as GetTrial returns it), read in the
  // ending's own write because the caller's ReadsWhole said so for its
  // search.
  bool whole = false;
};

// Whether a completion should read its trial back whole, asked of the
// trial's search (known to the store only once it writes the ending): yes
// for a search with watchers, whose trial_finished event carries it.
using ReadsWhole = std::function<bool(int64_t search_id)>;

// One stored epoch report, as early stopping replays them.
struct EpochReport {
  int64_t trial_id = 0;
  int32_t trial_number = 0;
  nas::v1::TrialKind kind = nas::v1::TRIAL_KIND_UNSPECIFIED;
  nas::v1::EpochMetrics metrics;
};

// A trial's state as a caller last read it (ListChangedTrials).
struct SeenTrialState {
  int32_t number = 0;
  nas::v1::TrialState state = nas::v1::TRIAL_STATE_UNSPECIFIED;
};

// A worker registered recently, as the scheduler sees it.
struct LiveWorker {
  std::string id;
  std::string name;       // what people call it (nas-worker --name)
  std::string estimator;  // "torch", "tabular"; "" when not declared
  // Capability tokens (capability_tokens.h); nullopt: the worker declared
  // nothing (an older worker) and is offered every trial.
  std::optional<std::vector<std::string>> capabilities;
};

class TrialStore {
 public:
  virtual ~TrialStore() = default;

  // ---- searches ----
  // Stores a RUNNING search owned by `owner` (a token name; "" when
  // authentication is off), with spec::ExtraTrials(spec) extra trials
  // (common/spec/estimation.h). REQUIRES: spec already validated, defaults
  // applied.
  virtual absl::StatusOr<nas::v1::Search> CreateSearch(
      const nas::v1::SearchSpec& spec, const std::string& owner) = 0;
  // With current trial counts: `counts` over all trials, `kind_counts` one
  // entry per kind the search has trials of, in TrialKind number order.
  // The counts are kept as trials change (FoldTrialCounts), so the call
  // costs the same however many trials the search has.
  virtual absl::StatusOr<nas::v1::Search> GetSearch(int64_t search_id) = 0;
  // GetSearch without counts and kind_counts (both unset): callers on each
  // strategy step need not pay for reading them. The default counts and
  // drops them.
  virtual absl::StatusOr<nas::v1::Search> GetSearchWithoutCounts(
      int64_t search_id) {
    absl::StatusOr<nas::v1::Search> search = GetSearch(search_id);
    if (search.ok()) {
      search->clear_counts();
      search->clear_kind_counts();
    }
    return search;
  }
  // Newest first: searches with id < before_id (0: no bound) that pass
  // `filter`, at most limit.
  virtual absl::StatusOr<std::vector<nas::v1::Search>> ListSearches(
      int64_t before_id, int limit, const SearchFilter& filter) = 0;
  // Ids of RUNNING searches, oldest first.
  virtual absl::StatusOr<std::vector<int64_t>> ListRunningSearchIds() = 0;
  // RUNNING -> CANCELLED; its PENDING and RUNNING trials become CANCELLED.
  // FailedPrecondition when the search is not RUNNING.
  virtual absl::StatusOr<nas::v1::Search> CancelSearch(int64_t search_id) = 0;
  // RUNNING -> COMPLETED when it has budget.max_trials + its extra trials
  // (weight sharing's shards and retrains; fixed at CreateSearch) and all
  // are finished. Returns true iff this call completed it.
  virtual absl::StatusOr<bool> CompleteSearchIfDone(int64_t search_id) = 0;
  // RUNNING -> `state` (COMPLETED or FAILED) before the budget is used up,
  // with `reason` stored as the search's state_reason: the space is
  // exhausted, or every attempt failed. Its PENDING trials become CANCELLED;
  // RUNNING ones are left to finish. Returns false and changes nothing when
  // the search is no longer RUNNING.
  virtual absl::StatusOr<bool> EndSearch(int64_t search_id,
                                         nas::v1::SearchState state,
                                         const std::string& reason) = 0;
  // Raises max_trials (also budget.max_trials of the stored spec); the
  // extra trials stay as CreateSearch set them. A
  // COMPLETED or FAILED search goes back to RUNNING with state_reason,
  // finished_at and archived_at cleared. InvalidArgument unless max_trials
  // is larger than the current value; FailedPrecondition for a CANCELLED
  // search.
  virtual absl::StatusOr<nas::v1::Search> ExtendSearch(int64_t search_id,
                                                       int32_t max_trials) = 0;
  // Deletes the search with its trials and their epochs. Returns the search
  // as it was (CANCELLED when `force` cancelled it) and the number of trials
  // deleted. FailedPrecondition for a RUNNING search unless `force`.
  struct DeletedSearch {
    nas::v1::Search search;
    int deleted_trials = 0;
  };
  virtual absl::StatusOr<DeletedSearch> DeleteSearch(int64_t search_id,
                                                     bool force) = 0;
  // Sets archived_at to now (when not yet archived) or clears it.
  // FailedPrecondition when archiving a RUNNING search.
  virtual absl::StatusOr<nas::v1::Search> SetSearchArchived(int64_t search_id,
                                                            bool archived) = 0;

  // Sets the state_reason of a RUNNING search (why it makes no progress);
  // "" clears it. Returns false and changes nothing when the search is not
  // RUNNING, so the reason a search ended with is never overwritten.
  virtual absl::StatusOr<bool> SetRunningSearchReason(
      int64_t search_id, const std::string& reason) = 0;

  // ---- trials ----
  // Trials in number order with number > after_number (-1: from the start),
  // at most limit, only those in `states` (all when empty), each with the
  // epoch metrics of its current attempt.
  virtual absl::StatusOr<std::vector<nas::v1::Trial>> ListTrials(
      int64_t search_id, const std::vector<nas::v1::TrialState>& states,
      int32_t after_number, int limit) = 0;
  // What changed since a caller that keeps a copy of a search's trials
  // (the scheduler's strategy snapshot) last read them: every trial numbered
  // above `after_number`, and each trial named in `watched` whose state is
  // no longer the one given there, in number order, at most `limit`. Each
  // carries only what a strategy reads of it: id, search_id, number, kind,
  // state, architecture.choices and metrics (no text, budget, task, reason,
  // times or epochs), which saves reading and decoding the rest. Since
  // finished trials never change and nothing else a strategy reads of an
  // unfinished one changes without its state, a copy of trials 0 to
  // after_number updated with the result holds what a fresh ListTrials read
  // would show of those fields, when `watched` names every unfinished trial
  // of the copy. NotFound for an unknown search. REQUIRES: the numbers in
  // `watched` are distinct.
  virtual absl::StatusOr<std::vector<nas::v1::Trial>> ListChangedTrials(
      int64_t search_id, int32_t after_number,
      const std::vector<SeenTrialState>& watched, int limit) = 0;
  // One trial with its learning curve: the epoch metrics of its current
  // attempt, preceded, when that attempt resumed from a saved state, by the
  // earlier attempts' epochs before the one it resumed at. NotFound for an
  // unknown id.
  virtual absl::StatusOr<nas::v1::Trial> GetTrial(int64_t trial_id) = 0;
  // COMPLETED trials ordered best first by the search's first objective.
  // Only TRAIN and RETRAIN trials (spec::IsRankedKind, trial_kinds.h): scores with inherited
  // weights are estimates, and shards measure nothing of a candidate.
  virtual absl::StatusOr<std::vector<nas::v1::Trial>> BestTrials(
      int64_t search_id, int k) = 0;
  // Appends PENDING trials numbered expected_count, expected_count + 1, ...
  // InvalidArgument, and nothing added, when a trial's task does not fit
  // its kind (NewTrial::task).
  // Serialized per search (concurrent callers and controller replicas): if
  // the search no longer has exactly expected_count trials, returns Aborted
  // and adds nothing, so a strategy step is never lost or doubled.
  // FailedPrecondition if the search is not RUNNING.
  virtual absl::Status AddTrials(int64_t search_id, int expected_count,
                                 const std::vector<NewTrial>& trials) = 0;

  // ---- leases ----
  // Leases the oldest PENDING trial of any RUNNING search that the worker
  // can run (rows locked with SKIP LOCKED, so replicas never hand out one
  // trial twice): RUNNING, attempt + 1, worker_id set, lease until now +
  // lease. A worker can run a trial when it declared no capabilities (or is
  // not registered) or one of its capability tokens matches the trial's
  // NeedToken (capability_tokens.h: its search's space and data set, and
  // its own kind). The assignment carries the trial's task when it has
  // one; a TRAIN trial under early stopping carries its rung epochs as
  // checkpoint_epochs, and resume when an earlier attempt uploaded a state.
  // nullopt if none.
  virtual absl::StatusOr<std::optional<nas::v1::TrialAssignment>> LeaseTrial(
      const std::string& worker_id, absl::Duration lease) = 0;
  // Stores one epoch's metrics (idempotent per (trial, attempt, epoch)) and
  // extends the lease when less than half of `lease` is left of it
  // (LeaseRenewalDue). When the trial was cancelled or stopped meanwhile,
  // returns stop = true and stores nothing. FailedPrecondition when `ref`
  // is not the current lease.
  virtual absl::StatusOr<EpochAck> RecordEpoch(
      const LeaseRef& ref, const nas::v1::EpochMetrics& metrics,
      absl::Duration lease) = 0;
  // The heartbeat: extends the lease of `ref` and marks its worker seen.
  // stop = true (and nothing changes) when the trial was cancelled or
  // stopped meanwhile. FailedPrecondition when `ref` is not the current
  // lease or the trial has finished.
  virtual absl::StatusOr<EpochAck> RenewLease(const LeaseRef& ref,
                                              absl::Duration lease) = 0;
  // RUNNING -> COMPLETED with final metrics; true. Repeating it for the
  // same attempt after it succeeded (a worker retrying a reply it lost)
  // changes nothing and returns false, so that callers announce and count
  // each ending once.
  virtual absl::StatusOr<bool> CompleteTrial(
      const LeaseRef& ref, const nas::v1::TrialMetrics& metrics) = 0;
  // CompleteTrial, and the completed trial's ending (Completion::ending)
  // when the store learns it while writing (the controller counts and
  // announces it): the trial whole when `reads_whole` (may be empty: never)
  // says so for its search. The default returns no ending.
  virtual absl::StatusOr<Completion> CompleteTrialAndGet(
      const LeaseRef& ref, const nas::v1::TrialMetrics& metrics,
      const ReadsWhole& /*reads_whole*/) {
    absl::StatusOr<bool> ended = CompleteTrial(ref, metrics);
    if (!ended.ok()) return ended.status();
    return Completion{*ended, std::nullopt, false};
  }
  // RUNNING -> FAILED with the reason appended (the trial's fault).
  // Idempotent like CompleteTrial (false for a repeat).
  virtual absl::StatusOr<bool> FailTrial(const LeaseRef& ref,
                                         const std::string& reason) = 0;
  // The worker's fault (its environment, not the trial): RUNNING -> PENDING
  // while the trial has had fewer than max_attempts leases, else FAILED; a
  // line "attempt N on worker W: worker fault: <reason>" is appended.
  // Returns the trial's new state. Repeating it for the same attempt before
  // the trial is leased again returns that state and changes nothing.
  virtual absl::StatusOr<nas::v1::TrialState> ReleaseTrial(
      const LeaseRef& ref, const std::string& reason) = 0;
  // RUNNING -> STOPPED (early stopping), with the reason, the metrics it
  // ended with (its last epoch's) and its rung when it has one. Idempotent
  // like CompleteTrial (false for a repeat). A `paused` trial (promotion)
  // keeps its training state for ResumePausedTrial; otherwise the state
  // goes, as when any trial ends.
  virtual absl::StatusOr<bool> StopTrial(const LeaseRef& ref,
                                         const std::string& reason,
                                         const nas::v1::TrialMetrics& metrics,
                                         std::optional<int32_t> rung,
                                         bool paused) = 0;
  // Promotion: a paused trial goes back to PENDING (STOPPED -> PENDING,
  // promotions + 1, the reason line appended), so that its next lease
  // resumes from its kept state. False, changing nothing, when the trial is
  // not STOPPED, its search not RUNNING, or it has no kept state (it was
  // stopped for good). A paused trial's ending is not final until its
  // search ends, which deletes the kept states of its trials that did not
  // complete.
  virtual absl::StatusOr<bool> ResumePausedTrial(int64_t trial_id,
                                                 const std::string& reason) = 0;
  // Records that the RUNNING trial of lease `ref` reached rung `rung`
  // (Trial.rung). FailedPrecondition when `ref` is not the current lease.
  virtual absl::Status SetTrialRung(const LeaseRef& ref, int32_t rung) = 0;
  // The epoch reports of a search's trials, each trial's curve as GetTrial
  // shows it, ordered by trial and epoch: what early stopping rebuilds its
  // state from after a restart.
  virtual absl::StatusOr<std::vector<EpochReport>> ListEpochReports(
      int64_t search_id) = 0;
  // Every RUNNING trial whose lease has expired goes back to PENDING, or to
  // FAILED once it has had max_attempts leases; a line naming the attempt and
  // worker is appended to its reason. Returns how many trials it changed.
  virtual absl::StatusOr<int> ExpireLeases() = 0;
  // Maintenance, so that counting stays cheap (GetSearch, ListSearches):
  // folds the changes of trial states recorded since the last call into
  // each search's totals. Changes no result of any other call. Returns how
  // many recorded changes it folded: 0 for a store that keeps plain
  // counters, and 0 while another caller is folding (the changes wait for
  // the next call).
  virtual absl::StatusOr<int> FoldTrialCounts() = 0;

  // ---- workers ----
  // Records a worker; returns its new id.
  virtual absl::StatusOr<std::string> RegisterWorker(
      const nas::v1::RegisterWorkerRequest& worker) = 0;
  // NotFound when the id was never registered.
  virtual absl::Status TouchWorker(const std::string& worker_id) = 0;
  // Workers seen (registered, asked for work or renewed a lease) within
  // `within` of now, by id.
  virtual absl::StatusOr<std::vector<LiveWorker>> ListLiveWorkers(
      absl::Duration within) = 0;

  // ---- observability ----
  // The database connections' counts, for the metrics endpoint; zeros for
  // a store without a database.
  virtual DatabaseStats database_stats() const { return {}; }
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_TRIAL_STORE_H_
