// How a worker turns a trial assignment into metrics. The seam for every
// performance-estimation strategy: training from scratch (TorchEstimator),
// and later tabular look-up, weight-sharing supernets and zero-cost proxies.
#ifndef NAS_WORKER_ESTIMATOR_H_
#define NAS_WORKER_ESTIMATOR_H_

#include <functional>

#include "absl/status/statusor.h"
#include "nas/v1/search.pb.h"
#include "nas/v1/worker_service.pb.h"

namespace nas::worker {

// Called after each epoch; returns false to stop the trial early (the
// controller said so, or the lease was lost).
using ProgressFn = std::function<bool(const nas::v1::EpochMetrics&)>;

// What Evaluate reports.
struct Evaluation {
  nas::v1::TrialMetrics metrics;
  bool stopped = false;  // ended early because ProgressFn returned false
};

class Estimator {
 public:
  virtual ~Estimator() = default;
  // Estimates the assignment's architecture. Errors are the trial's fault
  // (bad architecture, data missing, diverged training): the worker reports
  // them with FailTrial. Must not throw.
  virtual absl::StatusOr<Evaluation> Evaluate(
      const nas::v1::TrialAssignment& assignment,
      const ProgressFn& on_epoch) = 0;
};

}  // namespace nas::worker

#endif  // NAS_WORKER_ESTIMATOR_H_
