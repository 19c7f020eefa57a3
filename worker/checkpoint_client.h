// The worker's side of checkpoint streaming (WorkerService.FetchCheckpoint
// and UploadCheckpoint): merged supernet versions come down checked against
// their size and SHA-256, a trial's weights go up in chunks with a header
// that names its lease.
//
// It uses the channel the worker's other calls use, so the same TLS
// credentials and bearer token (common/client/channel.h) go with every call.
//
// Errors of FetchSupernet follow the estimator's fault taxonomy
// (estimator.h), since estimators return them as they are:
//  * UNAVAILABLE: the controller could not be reached or the stream broke
//    (after retrying for fetch_retry_window): a worker fault;
//  * FAILED_PRECONDITION: this worker may not fetch (no worker id yet,
//    unauthenticated, permission denied, a controller without the RPC): a
//    worker fault;
//  * DATA_LOSS: the bytes did not match the size or SHA-256 announced, twice
//    in a row (or the controller found its stored copy corrupt): every
//    worker would get the same bytes, so a trial fault;
//  * NOT_FOUND: the version does not exist: a trial fault.
// Upload makes one attempt and leaves retrying to the caller (WorkerLoop):
//  * UNAVAILABLE: not reached or the stream broke;
//  * FAILED_PRECONDITION or NOT_FOUND: the lease is not current (stale);
//  * DATA_LOSS: the controller saw other bytes than were sent (it says so,
//    or its reply names another size or checksum);
//  * anything else as the controller answered.
//
// Thread-safe.
#ifndef NAS_WORKER_CHECKPOINT_CLIENT_H_
#define NAS_WORKER_CHECKPOINT_CLIENT_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "nas/v1/worker_service.grpc.pb.h"
#include "worker/estimator.h"

namespace nas::worker {

struct CheckpointClientOptions {
  // Deadline of one fetch or upload, all chunks together.
  absl::Duration transfer_timeout = absl::Minutes(10);
  // How long FetchSupernet retries an unreachable controller.
  absl::Duration fetch_retry_window = absl::Minutes(1);
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  // Bytes per upload message; the protocol allows at most 1 MiB.
  int64_t chunk_bytes = int64_t{1} << 20;
};

// The lease an upload belongs to (UploadHeader's fencing fields).
struct UploadLease {
  std::string worker_id;
  int64_t trial_id = 0;
  int32_t attempt = 0;
};

class CheckpointClient : public CheckpointSource, public TrialStateStore {
 public:
  explicit CheckpointClient(std::shared_ptr<grpc::Channel> channel,
                            CheckpointClientOptions options = {});

  // The id RegisterWorker gave; FetchSupernet sends it. Set by the worker
  // loop after every registration.
  void set_worker_id(const std::string& worker_id);

  // See the errors above.
  absl::StatusOr<std::string> FetchSupernet(int64_t search_id,
                                            int64_t version) override;

  // A TRAIN trial's training state (early stopping): saved as the upload of
  // its lease, retried like a fetch while the controller is unreachable;
  // loaded by a later attempt with the errors of FetchSupernet.
  absl::Status SaveTrialState(const nas::v1::TrialAssignment& assignment,
                              const std::string& bytes) override;
  absl::StatusOr<std::string> LoadTrialState(
      const nas::v1::TrialAssignment& assignment) override;

  // Uploads `bytes` (REQUIRES: not empty) for `lease`: a header message
  // (size, SHA-256, merge_weight), then chunks of at most chunk_bytes.
  // OK once the controller has stored them and echoed their size and
  // checksum. See the errors above.
  absl::Status Upload(const UploadLease& lease, std::string_view bytes,
                      double merge_weight);

 private:
  // FetchCheckpoint with `request` (worker_id filled in), retried as the
  // errors above say; `what` starts every error message.
  absl::StatusOr<std::string> Fetch(
      const nas::v1::FetchCheckpointRequest& request, const std::string& what);
  // One FetchCheckpoint call.
  absl::StatusOr<std::string> FetchOnce(nas::v1::FetchCheckpointRequest request,
                                        const std::string& what);

  const std::unique_ptr<nas::v1::WorkerService::Stub> stub_;
  const CheckpointClientOptions options_;
  std::mutex mu_;
  std::string worker_id_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nas::worker

#endif  // NAS_WORKER_CHECKPOINT_CLIENT_H_
