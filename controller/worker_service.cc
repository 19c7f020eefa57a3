#include "controller/worker_service.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_util.h"
#include "controller/checkpoints/upload_assembler.h"
#include "controller/request_checks.h"
#include "spdlog/spdlog.h"

namespace nas::controller {
namespace {

constexpr int kMaxWaitMs = 30000;
constexpr size_t kMaxReasonBytes = 4096;
constexpr size_t kMaxLabelBytes = 256;
// Far more than the spaces and data sets there are; bounds the worker row.
constexpr int kMaxCapabilities = 64;

absl::Status CheckLease(const std::string& worker_id, int64_t trial_id,
                        int32_t attempt) {
  if (worker_id.empty()) {
    return absl::InvalidArgumentError(
        "worker_id: required; call RegisterWorker first");
  }
  if (absl::Status s = CheckId("trial_id", trial_id); !s.ok()) return s;
  if (attempt < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attempt: must be the attempt of the lease (>= 1), got ", attempt));
  }
  return absl::OkStatus();
}

// The calls on a held lease (progress, completion, failure) need the worker
// role and a well-formed lease before anything else. `Request` is one of
// their requests: it has worker_id(), trial_id() and attempt().
template <typename Request>
absl::Status CheckLeaseCall(const Authorizer& auth,
                            const grpc::ServerContext& context,
                            const Request& request) {
  if (absl::Status s = auth.Authorize(context, Role::kWorker).status();
      !s.ok()) {
    return s;
  }
  return CheckLease(request.worker_id(), request.trial_id(), request.attempt());
}

template <typename Request>
LeaseRef ToLeaseRef(const Request& request) {
  return LeaseRef{request.worker_id(), request.trial_id(), request.attempt()};
}

absl::Status NoCheckpointStore() {
  return absl::FailedPreconditionError(
      "this controller has no checkpoint store");
}

// Sends `bytes` in chunks of at most kCheckpointChunkBytes, the first with
// the size and SHA-256.
grpc::Status StreamChunks(const std::string& bytes, const std::string& sha256,
                          grpc::ServerWriter<nas::v1::CheckpointChunk>* writer) {
  const int64_t size = static_cast<int64_t>(bytes.size());
  int64_t offset = 0;
  do {
    nas::v1::CheckpointChunk chunk;
    if (offset == 0) {
      chunk.set_size(size);
      chunk.set_sha256(sha256);
    }
    const int64_t length = std::min(kCheckpointChunkBytes, size - offset);
    chunk.set_data(bytes.substr(static_cast<size_t>(offset),
                                static_cast<size_t>(length)));
    if (!writer->Write(chunk)) {
      return grpc::Status(grpc::StatusCode::CANCELLED,
                          "the worker stopped reading the checkpoint");
    }
    offset += length;
  } while (offset < size);
  return grpc::Status::OK;
}

}  // namespace

WorkerServiceImpl::WorkerServiceImpl(TrialLifecycle* lifecycle,
                                     CheckpointStore* checkpoints,
                                     const Authorizer* auth,
                                     int64_t max_checkpoint_bytes)
    : lifecycle_(lifecycle),
      checkpoints_(checkpoints),
      auth_(auth),
      max_checkpoint_bytes_(max_checkpoint_bytes) {}

grpc::Status WorkerServiceImpl::RegisterWorker(
    grpc::ServerContext* context, const nas::v1::RegisterWorkerRequest* request,
    nas::v1::RegisterWorkerResponse* response) {
  if (absl::Status s = auth_->Authorize(*context, Role::kWorker).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (request->host().empty() || request->host().size() > kMaxLabelBytes ||
      request->device_name().size() > kMaxLabelBytes ||
      request->name().size() > kMaxLabelBytes ||
      request->capabilities().estimator().size() > kMaxLabelBytes) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("host: required, and host, name, device_name and "
                     "capabilities.estimator at most ",
                     kMaxLabelBytes, " bytes")));
  }
  for (const nas::v1::Capability& c : request->capabilities().can_run()) {
    if (request->capabilities().can_run_size() > kMaxCapabilities ||
        c.datasets_size() > kMaxCapabilities) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("capabilities: at most ", kMaxCapabilities,
                       " entries in can_run and in each one's datasets")));
    }
  }
  if (request->device_memory_bytes() < 0) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "device_memory_bytes: must not be negative"));
  }
  absl::StatusOr<std::string> id = lifecycle_->Register(*request);
  if (!id.ok()) return ToGrpcStatus(id.status());
  response->set_worker_id(*id);
  response->set_lease_seconds(
      static_cast<int32_t>(absl::ToInt64Seconds(lifecycle_->lease())));
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::AcquireTrial(
    grpc::ServerContext* context, const nas::v1::AcquireTrialRequest* request,
    nas::v1::AcquireTrialResponse* response) {
  if (absl::Status s = auth_->Authorize(*context, Role::kWorker).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (request->wait_ms() < 0 || request->wait_ms() > kMaxWaitMs) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "wait_ms: must be between 0 and ", kMaxWaitMs, ", got ",
        request->wait_ms())));
  }
  // Never wait past the client's own deadline.
  absl::Duration wait = absl::Milliseconds(request->wait_ms());
  const auto deadline = context->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    wait = std::min(wait, absl::FromChrono(deadline) - absl::Now() -
                              absl::Milliseconds(100));
  }
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> leased =
      lifecycle_->Acquire(request->worker_id(), wait);
  if (!leased.ok()) return ToGrpcStatus(leased.status());
  if (leased->has_value()) *response->mutable_assignment() = **leased;
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::ReportProgress(
    grpc::ServerContext* context, const nas::v1::ReportProgressRequest* request,
    nas::v1::ReportProgressResponse* response) {
  if (absl::Status s = CheckLeaseCall(*auth_, *context, *request); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s = CheckEpochMetrics(request->metrics()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<bool> stop =
      lifecycle_->ReportProgress(ToLeaseRef(*request), request->metrics());
  if (!stop.ok()) return ToGrpcStatus(stop.status());
  response->set_stop(*stop);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::RenewLease(
    grpc::ServerContext* context, const nas::v1::RenewLeaseRequest* request,
    nas::v1::RenewLeaseResponse* response) {
  if (absl::Status s = CheckLeaseCall(*auth_, *context, *request); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<bool> stop = lifecycle_->RenewLease(ToLeaseRef(*request));
  if (!stop.ok()) return ToGrpcStatus(stop.status());
  response->set_stop(*stop);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::CompleteTrial(
    grpc::ServerContext* context, const nas::v1::CompleteTrialRequest* request,
    nas::v1::CompleteTrialResponse*) {
  if (absl::Status s = CheckLeaseCall(*auth_, *context, *request); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s = CheckTrialMetrics(request->metrics()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  return ToGrpcStatus(
      lifecycle_->Complete(ToLeaseRef(*request), request->metrics()));
}

grpc::Status WorkerServiceImpl::FailTrial(
    grpc::ServerContext* context, const nas::v1::FailTrialRequest* request,
    nas::v1::FailTrialResponse*) {
  if (absl::Status s = CheckLeaseCall(*auth_, *context, *request); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (request->reason().empty()) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("reason: required; say what went wrong"));
  }
  if (!nas::v1::FaultKind_IsValid(request->fault())) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("fault: unknown FaultKind ", request->fault(),
                     "; use FAULT_KIND_TRIAL or FAULT_KIND_WORKER")));
  }
  return ToGrpcStatus(lifecycle_->Fail(
      ToLeaseRef(*request), request->reason().substr(0, kMaxReasonBytes),
      request->fault()));
}

grpc::Status WorkerServiceImpl::UploadCheckpoint(
    grpc::ServerContext* context,
    grpc::ServerReader<nas::v1::UploadCheckpointRequest>* reader,
    nas::v1::UploadCheckpointResponse* response) {
  if (absl::Status s = auth_->Authorize(*context, Role::kWorker).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (checkpoints_ == nullptr) return ToGrpcStatus(NoCheckpointStore());
  UploadAssembler upload(max_checkpoint_bytes_);
  nas::v1::UploadCheckpointRequest message;
  while (reader->Read(&message)) {
    if (absl::Status s = upload.Add(message); !s.ok()) return ToGrpcStatus(s);
  }
  if (absl::Status s = upload.Finish(); !s.ok()) return ToGrpcStatus(s);
  const nas::v1::UploadHeader& header = upload.header();
  if (absl::Status s = checkpoints_->PutTrialUpload(
          LeaseRef{header.worker_id(), header.trial_id(), header.attempt()},
          header.merge_weight(), header.sha256(), upload.bytes());
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  spdlog::info(
      "worker {} uploaded the weights of trial {} attempt {} ({} bytes)",
      header.worker_id(), header.trial_id(), header.attempt(), header.size());
  response->set_size(header.size());
  response->set_sha256(header.sha256());
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::FetchCheckpoint(
    grpc::ServerContext* context,
    const nas::v1::FetchCheckpointRequest* request,
    grpc::ServerWriter<nas::v1::CheckpointChunk>* writer) {
  if (absl::Status s = auth_->Authorize(*context, Role::kWorker).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (checkpoints_ == nullptr) return ToGrpcStatus(NoCheckpointStore());
  if (request->worker_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "worker_id: required; call RegisterWorker first"));
  }
  if (absl::Status s = CheckId("search_id", request->search_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (request->trial_id() != 0) return FetchTrialState(*request, writer);
  if (request->version() < 1) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "version: supernet versions start at 1, got ", request->version())));
  }
  absl::StatusOr<CheckpointInfo> info = checkpoints_->SupernetVersionInfo(
      request->search_id(), request->version());
  if (!info.ok()) return ToGrpcStatus(info.status());
  absl::StatusOr<std::string> bytes = checkpoints_->ReadSupernetVersion(
      request->search_id(), request->version());
  if (!bytes.ok()) return ToGrpcStatus(bytes.status());
  if (grpc::Status sent = StreamChunks(*bytes, info->sha256, writer);
      !sent.ok()) {
    return sent;
  }
  const int64_t size = static_cast<int64_t>(bytes->size());
  spdlog::info("worker {} fetched search {} supernet version {} ({} bytes)",
               request->worker_id(), request->search_id(), request->version(),
               size);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::FetchTrialState(
    const nas::v1::FetchCheckpointRequest& request,
    grpc::ServerWriter<nas::v1::CheckpointChunk>* writer) {
  if (request.version() != 0) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "version: must be 0 with trial_id (a trial's state has no version)"));
  }
  if (absl::Status s = CheckLease(request.worker_id(), request.trial_id(),
                                  request.attempt());
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  // Only the current lease may read the state it goes on from.
  if (absl::Status s = lifecycle_->CheckCurrentLease(
          LeaseRef{request.worker_id(), request.trial_id(), request.attempt()},
          request.search_id());
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<CheckpointInfo> info =
      checkpoints_->TrialUploadInfo(request.trial_id());
  if (!info.ok()) return ToGrpcStatus(info.status());
  absl::StatusOr<std::string> bytes =
      checkpoints_->ReadTrialUpload(request.trial_id());
  if (!bytes.ok()) return ToGrpcStatus(bytes.status());
  if (grpc::Status sent = StreamChunks(*bytes, info->sha256, writer);
      !sent.ok()) {
    return sent;
  }
  spdlog::info(
      "worker {} fetched the saved state of trial {} (attempt {}'s, {} bytes)",
      request.worker_id(), request.trial_id(), info->attempt, bytes->size());
  return grpc::Status::OK;
}

}  // namespace nas::controller
