// How a worker turns a trial assignment into metrics. The seam for every
// performance-estimation strategy: training from scratch (TorchEstimator),
// and later tabular look-up, weight-sharing supernets and zero-cost proxies.
#ifndef NAS_WORKER_ESTIMATOR_H_
#define NAS_WORKER_ESTIMATOR_H_

#include <cstdint>
#include <functional>
#include <string>

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
  // Weights to keep (a tensor archive, common/tensor): a SUPERNET_SHARD's
  // trained supernet, a RETRAIN's trained network. The worker uploads them
  // (UploadCheckpoint) before it completes the trial; empty: none.
  std::string upload;
  // UploadHeader.merge_weight: the images a shard trained on.
  double merge_weight = 0;
};

// Where estimators get merged supernet versions (the controller's
// FetchCheckpoint), checked against their SHA-256.
class CheckpointSource {
 public:
  virtual ~CheckpointSource() = default;
  // The archive bytes of version `version` of the search's supernet.
  virtual absl::StatusOr<std::string> FetchSupernet(int64_t search_id,
                                                    int64_t version) = 0;
};

// Where a TRAIN trial under early stopping keeps its training state
// (TrialAssignment.checkpoint_epochs, resume): the controller's trial
// uploads, fenced by the lease.
class TrialStateStore {
 public:
  virtual ~TrialStateStore() = default;
  // Saves `bytes` as the state of the assignment's trial under its lease.
  // FailedPrecondition or NotFound: the lease is no longer current.
  virtual absl::Status SaveTrialState(const nas::v1::TrialAssignment& a,
                                      const std::string& bytes) = 0;
  // The state an earlier attempt saved (the assignment says resume).
  virtual absl::StatusOr<std::string> LoadTrialState(
      const nas::v1::TrialAssignment& a) = 0;
};

class Estimator {
 public:
  virtual ~Estimator() = default;
  // Estimates the assignment's architecture. Must not throw. The worker
  // reports errors with FailTrial, with the fault FaultOf gives: the
  // estimator returns faults of this worker's environment (data missing,
  // out of memory, no CUDA, a space it cannot run) as FAILED_PRECONDITION,
  // RESOURCE_EXHAUSTED or UNAVAILABLE, and faults of the trial (an invalid
  // architecture, diverged training) with any other code.
  virtual absl::StatusOr<Evaluation> Evaluate(
      const nas::v1::TrialAssignment& assignment,
      const ProgressFn& on_epoch) = 0;
  // What this worker can run, sent at registration: the controller leases
  // it only matching trials. Called once, before the first Evaluate.
  virtual nas::v1::Capabilities Capabilities() const = 0;
};

// Whose fault an Evaluate error is (see Estimator::Evaluate).
inline nas::v1::FaultKind FaultOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnavailable:
      return nas::v1::FAULT_KIND_WORKER;
    default:
      return nas::v1::FAULT_KIND_TRIAL;
  }
}

}  // namespace nas::worker

#endif  // NAS_WORKER_ESTIMATOR_H_
