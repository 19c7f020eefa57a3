// The controller's Prometheus metrics: what the services and the scheduler
// record as it happens (trials leased and ended, lease expiries, workers
// registering, per-worker work pushed through the controller), and what is
// read from the store at each scrape (trials by state of running searches,
// connected workers, database errors). docs/metrics.md lists every series.
#ifndef NAS_CONTROLLER_METRICS_CONTROLLER_METRICS_H_
#define NAS_CONTROLLER_METRICS_CONTROLLER_METRICS_H_

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "nas/v1/search.pb.h"
#include "nas/v1/worker_service.pb.h"

namespace nas::controller {

class TrialStore;
class CheckpointStore;

// Where one AcquireTrial call spent its time (Scheduler::Acquire): in the
// store's lease queries, in strategy steps it ran itself for want of a
// PENDING trial, and waiting to be woken for a trial to be added or freed.
struct AcquirePhases {
  std::chrono::nanoseconds lease{0};
  std::chrono::nanoseconds step{0};
  std::chrono::nanoseconds wait{0};
};

class ControllerMetrics {
 public:
  // Adds the controller's families (and the process_* ones) to `registry`,
  // which must outlive this object.
  explicit ControllerMetrics(metrics::Registry* registry);

  // Reads the store-derived gauges at every scrape. The stores must
  // outlive the registry's last Render. `lease`: a worker seen within it
  // counts as connected.
  void CollectFrom(TrialStore* store, CheckpointStore* checkpoints,
                   absl::Duration lease);

  // Reads `waiting` at every scrape for nas_acquires_waiting: the
  // AcquireTrial calls waiting to be woken for work
  // (Scheduler::waiting_acquires). `waiting` must stay callable until the
  // registry's last Render.
  void CollectWaitingAcquires(std::function<int()> waiting);

  void TrialLeased(const nas::v1::TrialAssignment& assignment);
  // `trial` as stored after it ended: its state, kind, worker and times.
  void TrialEnded(const nas::v1::Trial& trial);
  void WorkerRegistered(const std::string& worker_id,
                        const nas::v1::RegisterWorkerRequest& request);
  void LeasesExpired(int count);
  // One AcquireTrial call's phases, into nas_acquire_phase_seconds.
  void AcquireTimed(const AcquirePhases& phases);

  metrics::Registry* registry() { return registry_; }

 private:
  metrics::Registry* registry_;
  metrics::Family<metrics::Counter>& leased_;
  metrics::Family<metrics::Counter>& finished_;
  metrics::Counter& expired_;
  metrics::Family<metrics::Gauge>& worker_info_;
  metrics::Family<metrics::Counter>& worker_trials_;
  metrics::Family<metrics::Counter>& worker_seconds_;
  metrics::Family<metrics::Gauge>& search_trials_;
  metrics::Gauge& searches_running_;
  metrics::Family<metrics::Gauge>& workers_connected_;
  metrics::Gauge& acquires_waiting_;
  metrics::Family<metrics::Histogram>& acquire_phases_;
  metrics::Histogram& acquire_lease_seconds_;
  metrics::Histogram& acquire_step_seconds_;
  metrics::Histogram& acquire_wait_seconds_;
  metrics::Family<metrics::Counter>& db_connections_;
  metrics::Family<metrics::Counter>& db_errors_;
  metrics::Family<metrics::Counter>& db_batches_;
  metrics::Family<metrics::Counter>& db_batched_requests_;
  metrics::Counter& collect_errors_;
  std::mutex mu_;
  // Worker id -> its name, for the per-worker series' `name` label.
  std::map<std::string, std::string> worker_names_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_METRICS_CONTROLLER_METRICS_H_
