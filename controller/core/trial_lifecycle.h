// A trial's life in the controller, with no gRPC: a worker registers,
// acquires a trial, reports epochs (early stopping may stop it), renews its
// lease, and completes or fails the attempt; a search ends when its last
// trial does, when maintenance or the scheduler ends it, or when a client
// cancels or deletes it. Every store change goes with what it implies, in
// one place: waking waiting workers, the events watchers see (SearchEvents:
// trial_started, epoch_reported, trial_finished, search_done) and the
// counters (ControllerMetrics). The gRPC services only authorize, check a
// request's shape, call one method here and map the Status.
//
// Errors are the store's and the scheduler's (trial_store.h): NotFound for
// an unknown worker, trial or search; FailedPrecondition for a lease that is
// not the trial's current one or an illegal state change; Unavailable when
// the store cannot be reached. Publishing never fails a call: events are
// advisory (a watcher re-reads the store).
//
// Thread-safe: every method may be called from many threads at once.
#ifndef NAS_CONTROLLER_CORE_TRIAL_LIFECYCLE_H_
#define NAS_CONTROLLER_CORE_TRIAL_LIFECYCLE_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "controller/core/search_events.h"
#include "controller/event_hub.h"
#include "controller/pruning/pruning_book.h"
#include "controller/scheduler.h"
#include "controller/store/trial_store.h"
#include "nas/v1/search.pb.h"
#include "nas/v1/worker_service.pb.h"

namespace nas::controller {

class ControllerMetrics;

class TrialLifecycle {
 public:
  // All pointers must outlive this object; none may be null. `store` is the
  // scheduler's and the pruning book's. `clock` times what this class
  // throttles (TouchWorker writes, reuse of the search attached to events);
  // leases are timed by the store's clock.
  TrialLifecycle(TrialStore* store, Scheduler* scheduler, EventHub* hub,
                 PruningBook* pruning, ControllerMetrics* metrics,
                 Clock* clock);

  TrialLifecycle(const TrialLifecycle&) = delete;
  TrialLifecycle& operator=(const TrialLifecycle&) = delete;

  // The lease every acquired trial gets (Scheduler::lease).
  absl::Duration lease() const { return scheduler_->lease(); }

  // ---- a worker's calls ----

  // Stores the worker; returns its new id. Logs it and counts it
  // (WorkerRegistered). REQUIRES: the request's shape was checked.
  absl::StatusOr<std::string> Register(
      const nas::v1::RegisterWorkerRequest& worker);

  // Marks the worker seen (a store write at most once per quarter lease),
  // then leases it a trial, waiting up to `wait` for one; nullopt when none
  // became ready in time. A lease is counted (TrialLeased) and published as
  // trial_started. NotFound for a worker id never registered.
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> Acquire(
      const std::string& worker_id, absl::Duration wait);

  // Stores an epoch of the lease's trial and extends the lease when less
  // than half of it is left (LeaseRenewalDue), then asks
  // the search's early stopping: a rung passed is recorded on the trial
  // (promoted in the event); a stop ends the trial STOPPED, which is
  // counted and published (trial_finished, then search_done if it was the
  // search's last). Publishes epoch_reported unless the trial stopped.
  // Returns true when the worker must stop the trial: early stopping
  // stopped it now or before, or it was cancelled meanwhile. A missed
  // early-stopping decision is logged and the trial goes on.
  absl::StatusOr<bool> ReportProgress(const LeaseRef& ref,
                                      const nas::v1::EpochMetrics& metrics);

  // Extends the lease; true when the worker must stop (the trial was
  // cancelled or stopped meanwhile). Publishes nothing.
  absl::StatusOr<bool> RenewLease(const LeaseRef& ref);

  // Ends the lease's trial COMPLETED with `metrics`, wakes a waiting
  // worker, counts it (TrialEnded) and publishes trial_finished, then
  // completes the search if that was its last trial (search_done). A
  // repeat for the same attempt (a worker retrying a reply it lost) is OK
  // and stores, publishes and counts nothing more. FailedPrecondition for a
  // stale attempt.
  absl::Status Complete(const LeaseRef& ref,
                        const nas::v1::TrialMetrics& metrics);

  // A failed attempt (Scheduler::FailAttempt). A worker fault requeues the
  // trial while it has attempts left: nothing is counted or published, the
  // scheduler wakes a worker. A trial fault (or a worker fault on the last
  // attempt) ends it FAILED: counted and published like Complete, and the
  // search ends FAILED when every attempt failed (search_done). A repeat is
  // OK and does nothing more.
  absl::Status Fail(const LeaseRef& ref, const std::string& reason,
                    nas::v1::FaultKind fault);

  // OK when `ref` is the current lease of a RUNNING trial of `search_id`;
  // FailedPrecondition otherwise (who may fetch a trial's saved state).
  absl::Status CheckCurrentLease(const LeaseRef& ref, int64_t search_id);

  // ---- searches ending ----

  // Cancels a RUNNING search (its unfinished trials end CANCELLED; their
  // workers are told to stop at their next report), drops its strategy
  // state, wakes waiting workers and publishes search_done with the
  // cancelled search, which it returns. FailedPrecondition when the search
  // is not RUNNING.
  absl::StatusOr<nas::v1::Search> CancelSearch(int64_t search_id);

  // Scheduler::DeleteSearch; watchers of the deleted search get search_done
  // with the search as it was (CANCELLED when `force` cancelled it).
  absl::StatusOr<TrialStore::DeletedSearch> DeleteSearch(int64_t search_id,
                                                         bool force);

  // Publishes search_done with the search as stored now, for a search that
  // ended outside the calls above (maintenance, the scheduler itself).
  void SearchEnded(int64_t search_id);

  // One maintenance pass (Scheduler::Maintain: expires overdue leases, ends
  // searches whose trials all finished or all failed, marks searches no
  // worker can run); publishes search_done for each search it ended.
  absl::Status Maintain();

  // Publishes search_done for each search the scheduler ended on its own
  // since the last call (space exhausted, estimation plan done or failed;
  // Scheduler::TakeExhaustedSearches). Cheap: call it often.
  void AnnounceSchedulerEndings();

 private:
  // store_->TouchWorker at most once per quarter lease per worker.
  absl::Status TouchWorker(const std::string& worker_id);
  // Early stopping's word on an epoch just stored; true when the trial
  // stopped now or before. Sets *rung when the epoch was a rung it passed.
  bool ApplyPruning(const LeaseRef& ref, const EpochAck& ack,
                    const nas::v1::EpochMetrics& metrics,
                    std::optional<int>* rung);
  // After the lease's trial ended `state` (COMPLETED, FAILED, STOPPED):
  // wakes a waiting worker, counts and publishes the trial as stored, and
  // ends its search if that was its last trial.
  // `ended`: the trial's ending (TrialEnding), or the trial whole when
  // `ended_whole`, as the store returned it; the trial is read whole here
  // when the store returned nothing, or only its ending for a watched
  // search.
  void TrialEnded(const LeaseRef& ref, nas::v1::TrialState state,
                  std::optional<nas::v1::Trial> ended = std::nullopt,
                  bool ended_whole = false);

  TrialStore* const store_;
  Scheduler* const scheduler_;
  PruningBook* const pruning_;
  ControllerMetrics* const metrics_;
  Clock* const clock_;
  SearchEvents events_;
  std::mutex touched_mu_;
  // When each worker's last_seen_at was last written (TouchWorker).
  std::map<std::string, absl::Time> touched_ ABSL_GUARDED_BY(touched_mu_);
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_CORE_TRIAL_LIFECYCLE_H_
