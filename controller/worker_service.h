// gRPC adapter for nas.v1.WorkerService: authorizes, checks the request's
// shape, makes one TrialLifecycle call and maps its Status. Checkpoint
// uploads and fetches stream bytes between the worker and the
// CheckpointStore.
#ifndef NAS_CONTROLLER_WORKER_SERVICE_H_
#define NAS_CONTROLLER_WORKER_SERVICE_H_

#include <cstdint>

#include "controller/checkpoints/checkpoint_store.h"
#include "controller/core/trial_lifecycle.h"
#include "controller/security/authorizer.h"
#include "nas/v1/worker_service.grpc.pb.h"

namespace nas::controller {

class WorkerServiceImpl final : public nas::v1::WorkerService::Service {
 public:
  // All pointers must outlive the service. Every call needs the worker role
  // (or admin). Uploads larger than max_checkpoint_bytes are refused.
  // `checkpoints` may be null for a controller that serves no checkpoints
  // (uploads and fetches then fail).
  WorkerServiceImpl(TrialLifecycle* lifecycle, CheckpointStore* checkpoints,
                    const Authorizer* auth, int64_t max_checkpoint_bytes);

  grpc::Status RegisterWorker(grpc::ServerContext* context,
                              const nas::v1::RegisterWorkerRequest* request,
                              nas::v1::RegisterWorkerResponse* response) override;
  grpc::Status AcquireTrial(grpc::ServerContext* context,
                            const nas::v1::AcquireTrialRequest* request,
                            nas::v1::AcquireTrialResponse* response) override;
  grpc::Status ReportProgress(grpc::ServerContext* context,
                              const nas::v1::ReportProgressRequest* request,
                              nas::v1::ReportProgressResponse* response) override;
  grpc::Status RenewLease(grpc::ServerContext* context,
                          const nas::v1::RenewLeaseRequest* request,
                          nas::v1::RenewLeaseResponse* response) override;
  grpc::Status CompleteTrial(grpc::ServerContext* context,
                             const nas::v1::CompleteTrialRequest* request,
                             nas::v1::CompleteTrialResponse* response) override;
  grpc::Status FailTrial(grpc::ServerContext* context,
                         const nas::v1::FailTrialRequest* request,
                         nas::v1::FailTrialResponse* response) override;
  grpc::Status UploadCheckpoint(
      grpc::ServerContext* context,
      grpc::ServerReader<nas::v1::UploadCheckpointRequest>* reader,
      nas::v1::UploadCheckpointResponse* response) override;
  grpc::Status FetchCheckpoint(
      grpc::ServerContext* context,
      const nas::v1::FetchCheckpointRequest* request,
      grpc::ServerWriter<nas::v1::CheckpointChunk>* writer) override;

 private:
  // FetchCheckpoint of a trial's saved training state (request.trial_id).
  grpc::Status FetchTrialState(const nas::v1::FetchCheckpointRequest& request,
                               grpc::ServerWriter<nas::v1::CheckpointChunk>*
                                   writer);

  TrialLifecycle* const lifecycle_;
  CheckpointStore* const checkpoints_;
  const Authorizer* const auth_;
  const int64_t max_checkpoint_bytes_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_WORKER_SERVICE_H_
