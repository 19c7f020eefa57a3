// gRPC adapter for nas.v1.WorkerService. Publishes progress to the event hub
// after each successful store change; checkpoints go to the CheckpointStore.
#ifndef NAS_CONTROLLER_WORKER_SERVICE_H_
#define NAS_CONTROLLER_WORKER_SERVICE_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "controller/checkpoints/checkpoint_store.h"
#include "controller/event_hub.h"
#include "controller/pruning/pruning_book.h"
#include "controller/scheduler.h"
#include "controller/security/authorizer.h"
#include "controller/store/trial_store.h"
#include "nas/v1/worker_service.grpc.pb.h"

namespace nas::controller {

class ControllerMetrics;

class WorkerServiceImpl final : public nas::v1::WorkerService::Service {
 public:
  // All pointers must outlive the service. Every call needs the worker role
  // (or admin). Uploads larger than max_checkpoint_bytes are refused.
  // Epoch reports of TRAIN trials go through `pruning`: a trial its
  // search's early stopping rule stops ends STOPPED and is told to stop.
  // Leases, ends and registrations are counted in `metrics`.
  WorkerServiceImpl(TrialStore* store, CheckpointStore* checkpoints,
                    Scheduler* scheduler, EventHub* hub, PruningBook* pruning,
                    const Authorizer* auth, int64_t max_checkpoint_bytes,
                    ControllerMetrics* metrics);

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
  // store_->TouchWorker at most once per quarter lease per worker.
  absl::Status TouchWorker(const std::string& worker_id);
  // After a trial ends: wake waiting workers, finish the search if that was
  // its last trial, and tell watchers.
  void OnTrialEnded(int64_t search_id, const nas::v1::Trial& trial);
  // Sends `event` to the search's watchers with the search attached (its
  // state and counts). Reading the search counts its trials, a cost that
  // grows with the search, and every lifecycle publishes three events; so
  // the search is read at most once per kEventSearchMaxAge and reused in
  // between, except for search_done, which is read afresh.
  void Publish(int64_t search_id, nas::v1::SearchEvent event);
  // Early stopping's word on an epoch just stored; true when the trial was
  // stopped. Sets *rung when the epoch was a rung the trial passed.
  bool ApplyPruning(const LeaseRef& ref, const EpochAck& ack,
                    const nas::v1::EpochMetrics& metrics,
                    std::optional<int>* rung);
  // FetchCheckpoint of a trial's saved training state (request.trial_id).
  grpc::Status FetchTrialState(const nas::v1::FetchCheckpointRequest& request,
                               grpc::ServerWriter<nas::v1::CheckpointChunk>*
                                   writer);

  TrialStore* const store_;
  CheckpointStore* const checkpoints_;
  Scheduler* const scheduler_;
  EventHub* const hub_;
  PruningBook* const pruning_;
  const Authorizer* const auth_;
  const int64_t max_checkpoint_bytes_;
  ControllerMetrics* const metrics_;
  std::mutex touched_mu_;
  // When each worker's last_seen_at was last written (TouchWorker).
  std::map<std::string, absl::Time> touched_ ABSL_GUARDED_BY(touched_mu_);
  struct EventSearch {
    nas::v1::Search search;
    absl::Time read_at;
  };
  std::mutex event_searches_mu_;
  // The search last attached to each watched search's events (Publish).
  std::map<int64_t, EventSearch> event_searches_
      ABSL_GUARDED_BY(event_searches_mu_);
};

// How stale the search attached to a trial or epoch event may be.
inline constexpr absl::Duration kEventSearchMaxAge = absl::Milliseconds(200);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_WORKER_SERVICE_H_
