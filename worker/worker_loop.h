// A worker's life: register (with the estimator's capabilities), then
// repeatedly acquire a trial, estimate it and report the result. While it
// holds a lease a heartbeat thread renews it every third of the lease, so an
// epoch may take far longer than the lease; the lease only bounds how long
// a dead worker goes unnoticed. A worker fault (FaultOf) returns the trial to
// the controller, and a worker that faults again and again backs off longer
// each time and says why.
// Survives a controller that is briefly unreachable: every call is retried
// with exponential backoff, and a finished result is held and re-sent until
// the controller takes it or refuses it (stale lease).
// Weights a trial produced (Evaluation::upload) are uploaded before the trial
// is completed, while the heartbeat still holds the lease.
#ifndef NAS_WORKER_WORKER_LOOP_H_
#define NAS_WORKER_WORKER_LOOP_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "nas/v1/worker_service.grpc.pb.h"
#include "worker/checkpoint_client.h"
#include "worker/estimator.h"

namespace nas::worker {

struct WorkerOptions {
  // host, name, device, memory; the capabilities come from the estimator.
  nas::v1::RegisterWorkerRequest identity;
  // How long one AcquireTrial waits on the controller for work.
  absl::Duration acquire_wait = absl::Seconds(10);
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  // How long a finished result is re-sent while the controller is down.
  absl::Duration report_retry_window = absl::Minutes(10);
  // Exit after this many trials (0: never); for tests and batch jobs.
  int max_trials = 0;
  // After a worker fault, wait this long before asking for work, doubled
  // for each further fault in a row up to max_fault_backoff.
  absl::Duration fault_backoff = absl::Seconds(5);
  absl::Duration max_fault_backoff = absl::Minutes(5);
};

class WorkerLoop {
 public:
  // `estimator` must outlive the loop. `checkpoints` uploads trials'
  // weights; the loop gives it the worker id after each registration, so
  // that an estimator fetching through the same client can use it. Null:
  // the loop makes its own on `channel`. When given, it must outlive the
  // loop.
  WorkerLoop(std::shared_ptr<grpc::Channel> channel, Estimator* estimator,
             WorkerOptions options, CheckpointClient* checkpoints = nullptr);

  // Runs until `stop` becomes true or max_trials are done. Returns the
  // number of trials it ran.
  int Run(const std::atomic<bool>& stop);
  // False when the controller refused RegisterWorker (e.g. a wrong token)
  // or Run was stopped before registering.
  bool registered() const { return !worker_id_.empty(); }

 private:
  // Calls `rpc` until it returns a status other than UNAVAILABLE or
  // DEADLINE_EXCEEDED, `window` passes, or `stop` is set.
  grpc::Status Retry(const std::function<grpc::Status()>& rpc,
                     absl::Duration window, const std::atomic<bool>& stop,
                     const char* what);
  bool Register(const std::atomic<bool>& stop);
  // Returns the fault when the trial failed with one, else UNSPECIFIED.
  nas::v1::FaultKind RunTrial(const nas::v1::TrialAssignment& assignment,
                              const std::atomic<bool>& stop);
  // Uploads evaluation.upload for the trial: retried like a report while
  // the controller is unreachable, and once more after a checksum mismatch.
  // Sets *lease_lost when the controller refused it as stale (the trial is
  // then abandoned). Otherwise returns OK or the error to fail the trial
  // with, coded for FaultOf: a worker fault (UNAVAILABLE) when the upload
  // could not get through or arrived corrupted twice, a trial fault
  // (INVALID_ARGUMENT) when the controller refused the weights themselves.
  absl::Status UploadWeights(const nas::v1::TrialAssignment& assignment,
                             const Evaluation& evaluation,
                             const std::atomic<bool>& stop, bool* lease_lost);
  // After a worker fault: sleeps (interruptibly) for the backoff of the
  // `faults_in_a_row`-th fault and logs why.
  void BackOff(int faults_in_a_row, const std::atomic<bool>& stop);

  std::unique_ptr<nas::v1::WorkerService::Stub> stub_;
  Estimator* const estimator_;
  std::unique_ptr<CheckpointClient> owned_checkpoints_;
  CheckpointClient* const checkpoints_;
  const WorkerOptions options_;
  std::string worker_id_;
  std::string last_fault_;  // the reason of the last worker fault
};

}  // namespace nas::worker

#endif  // NAS_WORKER_WORKER_LOOP_H_
