// How the worker's Torch estimators classify a failure message of
// worker/train (which reports errors as strings) into the fault taxonomy of
// estimator.h.
#ifndef NAS_WORKER_TORCH_FAILURE_H_
#define NAS_WORKER_TORCH_FAILURE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace nas::worker {

// "<what>: <error>" as RESOURCE_EXHAUSTED when the device or host ran out of
// memory, UNAVAILABLE when CUDA failed (both faults of this worker), and
// INTERNAL otherwise (a fault of the trial: diverged training, bad options).
absl::Status TorchFailure(absl::string_view what, const std::string& error);

}  // namespace nas::worker

#endif  // NAS_WORKER_TORCH_FAILURE_H_
