#include "controller/core/trial_lifecycle.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/metrics/controller_metrics.h"
#include "controller/store/capability_tokens.h"
#include "spdlog/spdlog.h"

namespace nas::controller {
namespace {

// trial_started's trial: the assignment as the worker got it.
nas::v1::Trial StartedTrial(const nas::v1::TrialAssignment& a,
                            const std::string& worker_id) {
  nas::v1::Trial started;
  started.set_id(a.trial_id());
  started.set_search_id(a.search_id());
  started.set_number(a.trial_number());
  started.set_state(nas::v1::TRIAL_STATE_RUNNING);
  started.set_kind(a.kind());
  *started.mutable_architecture() = a.architecture();
  *started.mutable_budget() = a.budget();
  if (a.has_task()) *started.mutable_task() = a.task();
  started.set_attempt(a.attempt());
  started.set_worker_id(worker_id);
  return started;
}

}  // namespace

TrialLifecycle::TrialLifecycle(TrialStore* store, Scheduler* scheduler,
                               EventHub* hub, PruningBook* pruning,
                               ControllerMetrics* metrics, Clock* clock)
    : store_(store),
      scheduler_(scheduler),
      pruning_(pruning),
      metrics_(metrics),
      clock_(clock),
      events_(store, hub, clock) {}

absl::Status TrialLifecycle::TouchWorker(const std::string& worker_id) {
  // A worker asking for work many times a second is alive; writing that
  // down once per quarter lease keeps it well inside the lease-long window
  // that counts workers as connected, and spares a commit per lifecycle.
  // Only ids the store knew are remembered, so an unknown one still gets
  // the store's NotFound.
  const absl::Time now = clock_->Now();
  {
    std::lock_guard<std::mutex> lock(touched_mu_);
    auto it = touched_.find(worker_id);
    if (it != touched_.end() && now - it->second < scheduler_->lease() / 4) {
      return absl::OkStatus();
    }
  }
  if (absl::Status s = store_->TouchWorker(worker_id); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(touched_mu_);
  touched_[worker_id] = now;
  return absl::OkStatus();
}

absl::StatusOr<std::string> TrialLifecycle::Register(
    const nas::v1::RegisterWorkerRequest& worker) {
  absl::StatusOr<std::string> id = store_->RegisterWorker(worker);
  if (!id.ok()) return id;
  spdlog::info(
      "worker {} registered: {} on {} ({}), runs {}", *id,
      worker.name().empty() ? worker.host() : worker.name(), worker.host(),
      worker.device_name(),
      worker.has_capabilities()
          ? absl::StrCat(
                worker.capabilities().estimator(), " [",
                absl::StrJoin(CapabilityTokens(worker.capabilities()), " "),
                "]")
          : std::string("every trial (no capabilities declared)"));
  metrics_->WorkerRegistered(*id, worker);
  return id;
}

absl::StatusOr<std::optional<nas::v1::TrialAssignment>> TrialLifecycle::Acquire(
    const std::string& worker_id, absl::Duration wait) {
  if (absl::Status s = TouchWorker(worker_id); !s.ok()) return s;
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> leased =
      scheduler_->Acquire(worker_id, std::max(wait, absl::ZeroDuration()));
  if (!leased.ok() || !leased->has_value()) return leased;
  const nas::v1::TrialAssignment& a = **leased;
  metrics_->TrialLeased(a);
  if (events_.Watched(a.search_id())) {
    nas::v1::SearchEvent event;
    *event.mutable_trial_started() = StartedTrial(a, worker_id);
    events_.Publish(a.search_id(), std::move(event));
  }
  return leased;
}

bool TrialLifecycle::ApplyPruning(const LeaseRef& ref, const EpochAck& ack,
                                  const nas::v1::EpochMetrics& metrics,
                                  std::optional<int>* rung) {
  if (!IsEarlyStoppableKind(ack.kind)) return false;
  absl::StatusOr<std::optional<PruneDecision>> decision =
      pruning_->Decide(ack.search_id, ref.trial_id, ack.trial_number, metrics);
  if (!decision.ok()) {
    // The trial goes on: a decision missed costs compute, not results.
    spdlog::warn("trial {}: no early-stopping decision for epoch {}: {}",
                 ref.trial_id, metrics.epoch(), decision.status().ToString());
    return false;
  }
  if (!decision->has_value()) return false;
  const PruneDecision& d = **decision;
  if (!d.stop) {
    if (d.rung.has_value()) {
      *rung = d.rung;
      if (absl::Status s = store_->SetTrialRung(ref, *d.rung); !s.ok()) {
        spdlog::warn("trial {}: rung {} not recorded: {}", ref.trial_id,
                     *d.rung, s.ToString());
      }
    }
    return false;
  }
  nas::v1::TrialMetrics last;
  last.set_val_accuracy(metrics.val_accuracy());
  last.set_val_loss(metrics.val_loss());
  absl::StatusOr<bool> stopped_now =
      store_->StopTrial(ref, d.reason, last, d.rung, d.pause);
  if (!stopped_now.ok()) {
    spdlog::warn("trial {}: not stopped: {}", ref.trial_id,
                 stopped_now.status().ToString());
    return false;
  }
  // A repeated report of the epoch that stopped it: already announced.
  if (!*stopped_now) return true;
  spdlog::info("trial {} (search {}, #{}) stopped: {}", ref.trial_id,
               ack.search_id, ack.trial_number, d.reason);
  TrialEnded(ref, nas::v1::TRIAL_STATE_STOPPED);
  return true;
}

absl::StatusOr<bool> TrialLifecycle::ReportProgress(
    const LeaseRef& ref, const nas::v1::EpochMetrics& metrics) {
  absl::StatusOr<EpochAck> ack =
      store_->RecordEpoch(ref, metrics, scheduler_->lease());
  if (!ack.ok()) return ack.status();
  if (ack->stop) return true;
  std::optional<int> rung;
  if (ApplyPruning(ref, *ack, metrics, &rung)) return true;
  if (events_.Watched(ack->search_id)) {
    nas::v1::SearchEvent event;
    nas::v1::EpochReported* epoch = event.mutable_epoch_reported();
    epoch->set_trial_id(ref.trial_id);
    epoch->set_trial_number(ack->trial_number);
    *epoch->mutable_metrics() = metrics;
    if (rung.has_value()) {
      epoch->set_promoted(true);
      epoch->set_rung(*rung);
    }
    events_.Publish(ack->search_id, std::move(event));
  }
  return false;
}

absl::StatusOr<bool> TrialLifecycle::RenewLease(const LeaseRef& ref) {
  absl::StatusOr<EpochAck> ack = store_->RenewLease(ref, scheduler_->lease());
  if (!ack.ok()) return ack.status();
  return ack->stop;
}

absl::Status TrialLifecycle::Complete(const LeaseRef& ref,
                                      const nas::v1::TrialMetrics& metrics) {
  // A watched search's trial_finished event carries the trial whole: read
  // by the completion's own batch rather than once more after it.
  absl::StatusOr<Completion> completion = store_->CompleteTrialAndGet(
      ref, metrics,
      [this](int64_t search_id) { return events_.Watched(search_id); });
  if (!completion.ok()) return completion.status();
  // A worker retrying a reply it lost: the ending was announced and counted
  // the first time.
  if (completion->ended) {
    TrialEnded(ref, nas::v1::TRIAL_STATE_COMPLETED,
               std::move(completion->ending), completion->whole);
  }
  return absl::OkStatus();
}

absl::Status TrialLifecycle::Fail(const LeaseRef& ref,
                                  const std::string& reason,
                                  nas::v1::FaultKind fault) {
  bool repeated = false;
  absl::StatusOr<nas::v1::TrialState> state =
      scheduler_->FailAttempt(ref, reason, fault, &repeated);
  if (!state.ok()) return state.status();
  // A requeued trial has not ended; the scheduler already woke the workers.
  // A repeated failure was announced the first time.
  if (*state == nas::v1::TRIAL_STATE_FAILED && !repeated) {
    TrialEnded(ref, nas::v1::TRIAL_STATE_FAILED);
  }
  return absl::OkStatus();
}

void TrialLifecycle::TrialEnded(const LeaseRef& ref, nas::v1::TrialState state,
                                std::optional<nas::v1::Trial> ended,
                                bool ended_whole) {
  // The freed slot wakes a waiter only once a trial fills it (in
  // RefillFreedSlots): woken before, the waiter would look, miss and wait
  // again.
  // The search id, number and kind come from the store: the worker's
  // request does not carry them, and a worker must not be trusted to.
  const bool whole = !ended.has_value() || ended_whole;
  absl::StatusOr<nas::v1::Trial> trial =
      ended.has_value() ? *std::move(ended) : store_->GetTrial(ref.trial_id);
  if (!trial.ok()) {
    // Still counted, by what the lease says; maintenance ends the search
    // if this was its last trial, and tells its watchers then.
    spdlog::warn("trial {} ended {} but is unreadable, not announced: {}",
                 ref.trial_id, nas::v1::TrialState_Name(state),
                 trial.status().ToString());
    nas::v1::Trial known;
    known.set_id(ref.trial_id);
    known.set_state(state);
    known.set_attempt(ref.attempt);
    known.set_worker_id(ref.worker_id);
    metrics_->TrialEnded(known);
    scheduler_->WakeSome(1);  // to step the strategy for the freed slot
    return;
  }
  metrics_->TrialEnded(*trial);
  const int64_t search_id = trial->search_id();
  if (events_.Watched(search_id)) {
    // Watchers see the trial whole (architecture, budget, curve), which the
    // store's ending leaves out. Read here only when a watcher attached
    // after the completion's batch asked.
    if (!whole) trial = store_->GetTrial(ref.trial_id);
    if (trial.ok()) {
      nas::v1::SearchEvent event;
      *event.mutable_trial_finished() = *std::move(trial);
      events_.Publish(search_id, std::move(event));
    } else {
      spdlog::warn("trial {} ended {} but is unreadable, not announced: {}",
                   ref.trial_id, nas::v1::TrialState_Name(state),
                   trial.status().ToString());
    }
  }
  // Only a failure can trigger the every-attempt-failed rule.
  absl::StatusOr<bool> done = scheduler_->CompleteIfDone(
      search_id, state == nas::v1::TRIAL_STATE_FAILED);
  if (!done.ok()) {
    // Maintenance checks again within its interval.
    spdlog::warn("search {}: not checked for completion: {}", search_id,
                 done.status().ToString());
  } else if (*done) {
    events_.PublishDone(search_id);
    return;
  }
  scheduler_->RefillFreedSlots(search_id);
}

absl::Status TrialLifecycle::CheckCurrentLease(const LeaseRef& ref,
                                               int64_t search_id) {
  absl::StatusOr<nas::v1::Trial> trial = store_->GetTrial(ref.trial_id);
  if (!trial.ok()) return trial.status();
  if (trial->search_id() != search_id ||
      trial->state() != nas::v1::TRIAL_STATE_RUNNING ||
      trial->attempt() != ref.attempt || trial->worker_id() != ref.worker_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", ref.trial_id, " of search ", search_id,
                     ": attempt ", ref.attempt, " of worker ", ref.worker_id,
                     " is not its current lease"));
  }
  return absl::OkStatus();
}

absl::StatusOr<nas::v1::Search> TrialLifecycle::CancelSearch(
    int64_t search_id) {
  absl::StatusOr<nas::v1::Search> search = scheduler_->CancelSearch(search_id);
  if (search.ok()) events_.PublishDone(*search);
  return search;
}

absl::StatusOr<TrialStore::DeletedSearch> TrialLifecycle::DeleteSearch(
    int64_t search_id, bool force) {
  absl::StatusOr<TrialStore::DeletedSearch> deleted =
      scheduler_->DeleteSearch(search_id, force);
  // Watchers of a search deleted while running end as if it was cancelled.
  if (deleted.ok()) events_.PublishDone(deleted->search);
  return deleted;
}

void TrialLifecycle::SearchEnded(int64_t search_id) {
  events_.PublishDone(search_id);
}

absl::Status TrialLifecycle::Maintain() {
  absl::StatusOr<std::vector<int64_t>> completed = scheduler_->Maintain();
  if (!completed.ok()) return completed.status();
  for (int64_t id : *completed) SearchEnded(id);
  return absl::OkStatus();
}

void TrialLifecycle::AnnounceSchedulerEndings() {
  for (int64_t id : scheduler_->TakeExhaustedSearches()) SearchEnded(id);
}

}  // namespace nas::controller
