#include "controller/metrics/controller_metrics.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/spec/trial_kinds.h"
#include "controller/checkpoints/checkpoint_store.h"
#include "controller/store/trial_store.h"
#include "google/protobuf/util/time_util.h"

namespace nas::controller {
namespace {

using metrics::Counter;
using metrics::Family;
using metrics::Gauge;

// "SCORE_INHERITED", as trials.kind spells it (unset counts as TRAIN).
std::string KindLabel(nas::v1::TrialKind kind) {
  return spec::NamesOf(kind).stored;
}

// "TRIAL_STATE_COMPLETED" -> "completed".
std::string StateLabel(nas::v1::TrialState state) {
  return absl::AsciiStrToLower(
      absl::StripPrefix(nas::v1::TrialState_Name(state), "TRIAL_STATE_"));
}

// Moves a counter up to `total`, a count kept elsewhere that only grows.
void CatchUp(Counter& counter, double total) {
  counter.Increment(total - counter.value());
}

}  // namespace

ControllerMetrics::ControllerMetrics(metrics::Registry* registry)
    : registry_(registry),
      leased_(registry->AddCounter(
          "nas_trials_leased_total",
          "Trial leases handed to workers (a retried trial counts again).",
          {"kind"})),
      finished_(registry->AddCounter(
          "nas_trials_finished_total",
          "Trials that ended, by kind and outcome (completed, failed, "
          "stopped). Its rate is the lifecycles per second.",
          {"kind", "outcome"})),
      expired_(registry
                   ->AddCounter("nas_lease_expiries_total",
                                "Leases that expired because their worker "
                                "went silent; the trial was retried or "
                                "failed.")
                   .With({})),
      worker_info_(registry->AddGauge(
          "nas_worker_info",
          "1 for each worker that registered with this controller process, "
          "with its host and device.",
          {"worker", "name", "host", "device_type", "device"})),
      worker_trials_(registry->AddCounter(
          "nas_worker_trials_total",
          "Trials each worker finished, by outcome (pushed through the "
          "controller as workers report).",
          {"worker", "name", "outcome"})),
      worker_seconds_(registry->AddCounter(
          "nas_worker_trial_seconds_total",
          "Seconds from lease to end of the trials each worker finished; "
          "divided by nas_worker_trials_total, seconds per trial.",
          {"worker", "name"})),
      search_trials_(registry->AddGauge(
          "nas_search_trials",
          "Trials of each running search by state, read at scrape time.",
          {"search", "name", "state"})),
      searches_running_(
          registry
              ->AddGauge("nas_searches_running", "Searches in state RUNNING.")
              .With({})),
      workers_connected_(registry->AddGauge(
          "nas_workers_connected",
          "Workers seen within one lease length, by estimator.",
          {"estimator"})),
      acquires_waiting_(registry
                            ->AddGauge("nas_acquires_waiting",
                                       "AcquireTrial calls waiting for work "
                                       "to be added or freed, read at scrape "
                                       "time: workers idle for want of "
                                       "trials.")
                            .With({})),
      acquire_phases_(registry->AddHistogram(
          "nas_acquire_phase_seconds",
          "Time each AcquireTrial call spent per phase: lease (the store's "
          "lease queries), step (strategy steps it ran for want of a "
          "PENDING trial), wait (waiting to be woken for a trial to be "
          "added or freed). Every call observes all three, zero included.",
          {"phase"}, metrics::LatencyBuckets())),
      acquire_lease_seconds_(acquire_phases_.With({"lease"})),
      acquire_step_seconds_(acquire_phases_.With({"step"})),
      acquire_wait_seconds_(acquire_phases_.With({"wait"})),
      db_connections_(registry->AddCounter(
          "nas_database_connections_opened_total",
          "PostgreSQL connections opened, by pool: the first ones, then "
          "one per reconnect after a lost connection.",
          {"pool"})),
      db_errors_(registry->AddCounter(
          "nas_database_errors_total",
          "Database calls that failed, by pool and status code "
          "(UNAVAILABLE: connection lost or server down).",
          {"pool", "code"})),
      db_batches_(registry->AddCounter(
          "nas_database_batches_total",
          "Group commits: transactions that wrote the requests of several "
          "concurrent callers at once, by pool and operation.",
          {"pool", "op"})),
      db_batched_requests_(registry->AddCounter(
          "nas_database_batched_requests_total",
          "Requests written by group commits, by pool and operation; over "
          "nas_database_batches_total, the mean batch size.",
          {"pool", "op"})),
      collect_errors_(registry
                          ->AddCounter("nas_metrics_collect_errors_total",
                                       "Scrapes whose store-derived gauges "
                                       "could not be read (left as before).")
                          .With({})) {
  metrics::AddProcessMetrics(registry);
}

void ControllerMetrics::CollectFrom(TrialStore* store,
                                    CheckpointStore* checkpoints,
                                    absl::Duration lease) {
  registry_->AddCollector([this, store, checkpoints, lease] {
    absl::StatusOr<std::vector<int64_t>> running =
        store->ListRunningSearchIds();
    if (running.ok()) {
      search_trials_.Clear();
      searches_running_.Set(static_cast<double>(running->size()));
      for (int64_t id : *running) {
        absl::StatusOr<nas::v1::Search> search = store->GetSearch(id);
        if (!search.ok()) continue;  // ended or deleted meanwhile
        const nas::v1::TrialCounts& c = search->counts();
        const std::string sid = absl::StrCat(id);
        const std::string& name = search->spec().name();
        for (const auto& [state, count] :
             std::vector<std::pair<const char*, int>>{
                 {"pending", c.pending()},
                 {"running", c.running()},
                 {"completed", c.completed()},
                 {"failed", c.failed()},
                 {"stopped", c.stopped()},
                 {"cancelled", c.cancelled()}}) {
          search_trials_.With({sid, name, state}).Set(count);
        }
      }
    } else {
      collect_errors_.Increment();
    }
    absl::StatusOr<std::vector<LiveWorker>> workers =
        store->ListLiveWorkers(lease);
    if (workers.ok()) {
      workers_connected_.Clear();
      for (const LiveWorker& w : *workers) {
        workers_connected_.With({w.estimator.empty() ? "undeclared"
                                                     : w.estimator})
            .Add(1);
      }
    } else {
      collect_errors_.Increment();
    }
    for (const auto& [pool, stats] :
         std::vector<std::pair<const char*, DatabaseStats>>{
             {"trials", store->database_stats()},
             {"checkpoints", checkpoints != nullptr
                                 ? checkpoints->database_stats()
                                 : DatabaseStats{}}}) {
      CatchUp(db_connections_.With({pool}), stats.connections_opened);
      for (const auto& [code, n] : stats.errors) {
        CatchUp(db_errors_.With({pool, code}), n);
      }
      for (const auto& [op, batching] : stats.batching) {
        CatchUp(db_batches_.With({pool, op}), batching.batches);
        CatchUp(db_batched_requests_.With({pool, op}), batching.requests);
      }
    }
  });
}

void ControllerMetrics::CollectWaitingAcquires(std::function<int()> waiting) {
  registry_->AddCollector([this, waiting = std::move(waiting)] {
    acquires_waiting_.Set(static_cast<double>(waiting()));
  });
}

void ControllerMetrics::TrialLeased(
    const nas::v1::TrialAssignment& assignment) {
  leased_.With({KindLabel(assignment.kind())}).Increment();
}

void ControllerMetrics::TrialEnded(const nas::v1::Trial& trial) {
  const std::string outcome = StateLabel(trial.state());
  finished_.With({KindLabel(trial.kind()), outcome}).Increment();
  if (trial.worker_id().empty()) return;
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = worker_names_.find(trial.worker_id());
    if (it != worker_names_.end()) name = it->second;
  }
  worker_trials_.With({trial.worker_id(), name, outcome}).Increment();
  if (trial.has_started_at() && trial.has_finished_at()) {
    const double seconds =
        google::protobuf::util::TimeUtil::DurationToMilliseconds(
            trial.finished_at() - trial.started_at()) /
        1000.0;
    worker_seconds_.With({trial.worker_id(), name}).Increment(seconds);
  }
}

void ControllerMetrics::WorkerRegistered(
    const std::string& worker_id,
    const nas::v1::RegisterWorkerRequest& request) {
  const std::string name =
      request.name().empty() ? request.host() : request.name();
  {
    std::lock_guard<std::mutex> lock(mu_);
    worker_names_[worker_id] = name;
  }
  std::string device_type = absl::AsciiStrToLower(absl::StripPrefix(
      nas::v1::DeviceType_Name(request.device_type()), "DEVICE_TYPE_"));
  worker_info_
      .With({worker_id, name, request.host(), device_type,
             request.device_name()})
      .Set(1);
}

void ControllerMetrics::LeasesExpired(int count) {
  if (count > 0) expired_.Increment(count);
}

void ControllerMetrics::AcquireTimed(const AcquirePhases& phases) {
  using Seconds = std::chrono::duration<double>;
  acquire_lease_seconds_.Observe(Seconds(phases.lease).count());
  acquire_step_seconds_.Observe(Seconds(phases.step).count());
  acquire_wait_seconds_.Observe(Seconds(phases.wait).count());
}

}  // namespace nas::controller
