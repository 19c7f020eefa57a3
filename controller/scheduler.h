// Hands trials to workers. When no trial is pending, asks each running
// search's strategy for as many new trials as it has free slots
// (parallelism minus trials in flight, capped by max_trials), stores them,
// then leases one. Trial ids and numbers are assigned by the store before
// any worker sees a trial.
#ifndef NAS_CONTROLLER_SCHEDULER_H_
#define NAS_CONTROLLER_SCHEDULER_H_

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/space/space.h"
#include "controller/checkpoints/checkpoint_store.h"
#include "controller/estimation/estimation_plan.h"
#include "controller/store/trial_store.h"
#include "controller/strategy/search_strategy.h"

namespace nas::controller {

struct AcquirePhases;
class ControllerMetrics;
class PruningBook;

class Scheduler {
 public:
  struct Options {
    absl::Duration lease = absl::Seconds(60);
    // How often a waiting Acquire re-checks the store, to see work created
    // by another controller replica.
    absl::Duration poll_interval = absl::Milliseconds(500);
    // Told of lease expiries; may be null.
    ControllerMetrics* metrics = nullptr;
    // Names the paused trials to promote (early stopping with promote,
    // scheduler_promote.cc); without it none is ever resumed.
    PruningBook* pruning = nullptr;
  };

  // `store` and `checkpoints` must outlive the scheduler. Without a
  // checkpoint store, weight-sharing searches fail with a reason saying so.
  Scheduler(TrialStore* store, Options options,
            CheckpointStore* checkpoints = nullptr);

  // Leases the next trial to `worker_id`, waiting up to `wait` for one.
  // nullopt when none became ready in time.
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> Acquire(
      const std::string& worker_id, absl::Duration wait);

  // Wakes every waiting Acquire call: a search was created or extended, or
  // trials were requeued, so new work may be ready.
  void Notify();
  // Wakes up to `count` waiting Acquire calls, for work that needs that
  // many workers: a trial that ended frees one slot (its own worker usually
  // asks next), a strategy step adds some trials. Waking every waiter for
  // it set off a herd of leases that cost every caller.
  void WakeSome(int count);
  // After a trial of `search_id` ended: fills the slot it freed now, so
  // that the worker that asks next (usually the one that just finished)
  // leases at once instead of missing, stepping the strategy and leasing
  // again. Steps only that search. Wakes a waiter for each trial added,
  // after adding it, so that the waiter's lease finds it. When the step
  // cannot run here (another is under way, or it failed), wakes one
  // waiter instead, to step the strategy itself.
  void RefillFreedSlots(int64_t search_id);

  // Acquire calls now waiting to be woken for work.
  int waiting_acquires() const { return waiting_acquires_.load(); }

  // One maintenance pass: expires overdue leases, ends searches whose
  // trials are all finished (or all failed), marks searches no connected
  // worker can run (state_reason, see runnability.h) and folds the store's
  // trial counts (TrialStore::FoldTrialCounts). Returns the ids of searches
  // it ended.
  absl::StatusOr<std::vector<int64_t>> Maintain();

  // The ids of searches this scheduler ended itself since the last call:
  // COMPLETED because their strategy found no untried computation ("space
  // exhausted: ..." in state_reason), or ended by a weight-sharing plan
  // (estimation_plan.h); each is returned once, so that the
  // caller logs it and tells its watchers. A search ends so when its
  // strategy proposes nothing for free slots and none of its trials is in
  // flight: strategies never propose a computation twice, so nothing could
  // ever be added again.
  std::vector<int64_t> TakeExhaustedSearches();

  // Ends `search_id` if all its trials are finished (COMPLETED), or, with
  // `check_failures`, FAILED with the reason when every attempt failed
  // (runnability.h, FailureWindow); true if it did. Callers that know no
  // trial failed (one just completed) pass false and save a read.
  absl::StatusOr<bool> CompleteIfDone(int64_t search_id,
                                      bool check_failures = true);

  // A worker reports that an attempt failed. A trial fault (or UNSPECIFIED,
  // from older workers) ends the trial FAILED; a worker fault returns it to
  // PENDING while it has attempts left. Logs the failure with its reason.
  // Returns the trial's new state. *repeated (when given) is set when a
  // trial fault repeats one already recorded for this attempt.
  absl::StatusOr<nas::v1::TrialState> FailAttempt(const LeaseRef& ref,
                                                  const std::string& reason,
                                                  nas::v1::FaultKind fault,
                                                  bool* repeated = nullptr);

  // Sets or clears the "no connected worker can run this search" reason of
  // every RUNNING search. Returns how many reasons it changed.
  absl::StatusOr<int> MarkUnrunnableSearches();

  absl::Duration lease() const { return options_.lease; }
  // A worker counts as connected when seen within this long: it calls
  // AcquireTrial at least every 30 s while idle and RenewLease every third
  // of a lease while busy.
  absl::Duration connected_window() const {
    return std::max(options_.lease, absl::Seconds(45));
  }

  // How many searches' strategy state this replica holds. A search's goes
  // once it no longer runs, however it ended (cancelled, completed by
  // another replica, deleted), and is rebuilt from its trials if it runs
  // again.
  size_t SearchesInMemory();

  // ---- managing searches (scheduler_manage.cc) ----
  // Each keeps this replica's cached strategy state in step with the store;
  // other replicas rebuild theirs from the trials they read.

  // Adds `architectures` (choices or canonical text, see
  // SearchService.EnqueueTrials) to a RUNNING search as PENDING trials
  // numbered next, after every trial already there; returns them.
  // InvalidArgument naming architectures[i] when one is not in the search's
  // space; FailedPrecondition when the search is not RUNNING or its
  // budget.max_trials has no room for all of them. All or nothing.
  absl::StatusOr<std::vector<nas::v1::Trial>> EnqueueTrials(
      int64_t search_id,
      const std::vector<nas::v1::Architecture>& architectures);
  // TrialStore::ExtendSearch, then wakes waiting workers: a search back to
  // RUNNING gets a strategy rebuilt from its trials, as after a restart.
  absl::StatusOr<nas::v1::Search> ExtendSearch(int64_t search_id,
                                               int32_t max_trials);
  // TrialStore::CancelSearch, dropping the search's strategy state, then
  // wakes waiting workers so that each looks at the work left afresh.
  absl::StatusOr<nas::v1::Search> CancelSearch(int64_t search_id);
  // TrialStore::DeleteSearch, dropping the search's strategy state.
  absl::StatusOr<TrialStore::DeletedSearch> DeleteSearch(int64_t search_id,
                                                         bool force);

 private:
  struct SearchContext {
    nas::v1::SearchSpec spec;
    std::unique_ptr<space::SearchSpace> space;
    std::unique_ptr<SearchStrategy> strategy;
    // From-scratch searches: what the strategy sees, kept in step with the
    // store by RefreshSnapshot, with the index of its canonical keys.
    SearchSnapshot snapshot;
    std::unordered_set<std::string> keys;
    // Every trial numbered below this was finished when read, and finished
    // trials never change (but for a paused trial this scheduler resumes,
    // which lowers it): a refresh watches the unfinished ones from here on.
    int32_t reread_from = 0;
    // Promotion: paused trials the store refused to resume (no kept
    // state), so that each step does not ask again.
    std::unordered_set<int64_t> unresumable;
  };

  // TrialStore::FoldTrialCounts, for Maintain; logs a failure.
  void FoldTrialCounts();

  // Proposes trials for every running search with free slots. Returns how
  // many trials it added. REQUIRES: replenish_mu_ held.
  // Acquire, adding the time of each of its phases to `phases`.
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> AcquireTimed(
      const std::string& worker_id, absl::Duration wait, AcquirePhases* phases);
  absl::StatusOr<int> ReplenishLocked();

  absl::StatusOr<int> ReplenishSearch(int64_t search_id);
  // Brings context->snapshot up to the store's trials of a from-scratch
  // search. Reads only the trials that changed since the last refresh (new
  // ones, and those then in flight whose state moved on:
  // TrialStore::ListChangedTrials), so that a step's cost grows neither
  // with the search's history nor with its parallelism; the snapshot equals
  // one read whole, so a restarted controller proposes what this one would.
  absl::Status RefreshSnapshot(int64_t search_id,
                               const nas::v1::SearchSpec& spec,
                               SearchContext* context);
  // ReplenishSearch for a weight-sharing or zero-cost search: one step of
  // its plan (estimation_plan.h).
  absl::StatusOr<int> ReplenishByPlan(const nas::v1::Search& search,
                                      SearchContext* context);
  // Averages the uploads of a finished round's shards, weighted by the
  // images each trained on, into the next supernet version.
  absl::Status MergeRound(int64_t search_id, const EstimationStep& step);
  // Ends a search (COMPLETED or FAILED) on its plan's word.
  absl::StatusOr<int> EndByPlan(int64_t search_id, nas::v1::SearchState state,
                                const std::string& reason);
  absl::StatusOr<SearchContext*> Context(const nas::v1::Search& search);
  // The "every attempt failed" rule of CompleteIfDone.
  absl::StatusOr<bool> FailIfEveryAttemptFailed(int64_t search_id);

  // ---- promotion (scheduler_promote.cc) ----
  // Whether the search pauses and promotes trials (spec::PromotesTrials),
  // read from the store once per search.
  absl::StatusOr<bool> Promotes(int64_t search_id);
  // Resumes up to `slots` of the search's promotable paused trials (highest
  // rung first), keeping the snapshot in step. Returns how many it resumed.
  // REQUIRES: replenish_mu_ held, the snapshot refreshed.
  absl::StatusOr<int> ResumePromoted(int64_t search_id, SearchContext* context,
                                     int slots);
  // CompleteIfDone's store check for a promoting search: first a strategy
  // step, under replenish_mu_, so that a paused trial that earned its
  // promotion is resumed rather than left behind by a search completed
  // without it.
  absl::StatusOr<bool> CompletePromotingSearchIfDone(int64_t search_id);

  TrialStore* const store_;
  const Options options_;
  CheckpointStore* const checkpoints_;

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  uint64_t wake_generation_ = 0;
  std::atomic<int> waiting_acquires_{0};

  // Serializes strategy steps within this replica; the store serializes them
  // across replicas (AddTrials' expected count).
  std::mutex replenish_mu_;
  std::map<int64_t, std::unique_ptr<SearchContext>> contexts_;
  // Guarded by replenish_mu_; see TakeExhaustedSearches.
  std::vector<int64_t> exhausted_;

  // Promotes' answers; search specs do not change.
  std::mutex promotes_mu_;
  std::map<int64_t, bool> promotes_;
};

// The state_reason of a search ended because its space is exhausted after
// `distinct_tried` distinct computations, e.g. "space exhausted: all 5
// distinct computations of the space were tried, fewer than max_trials
// (200)".
std::string SpaceExhaustedReason(const space::SearchSpace& space,
                                 int distinct_tried, int max_trials);

// Derives a trial's training seed from its search's seed and its number.
uint64_t TrialSeed(uint64_t search_seed, int trial_number);

// Trials of every state.
int TotalTrials(const nas::v1::TrialCounts& counts);

// The trial numbered `number` of a search with `spec` for the architecture
// `choices` (valid in `space`), however it was chosen (strategy or
// EnqueueTrials): rendered, keyed, with the search's training budget and
// the number's seed.
NewTrial MakeTrial(const space::SearchSpace& space,
                   const nas::v1::SearchSpec& spec,
                   const std::vector<int>& choices, int number);

// The trial numbered `number` for `choices` in a search with `spec`, as its
// estimation scores a proposed candidate: MakeTrial for training from
// scratch, a SCORE_INHERITED trial of supernet `version` for weight
// sharing, a ZERO_COST trial for zero cost.
NewTrial MakeCandidate(const space::SearchSpace& space,
                       const nas::v1::SearchSpec& spec,
                       const std::vector<int>& choices, int number,
                       int64_t version);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_SCHEDULER_H_
