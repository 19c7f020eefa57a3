#include "controller/worker_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_util.h"
#include "controller/checkpoints/upload_assembler.h"
#include "controller/metrics/controller_metrics.h"
#include "controller/request_checks.h"
#include "controller/store/capability_tokens.h"
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

WorkerServiceImpl::WorkerServiceImpl(TrialStore* store,
                                     CheckpointStore* checkpoints,
                                     Scheduler* scheduler, EventHub* hub,
                                     PruningBook* pruning,
                                     const Authorizer* auth,
                                     int64_t max_checkpoint_bytes,
                                     ControllerMetrics* metrics)
    : store_(store),
      checkpoints_(checkpoints),
      scheduler_(scheduler),
      hub_(hub),
      pruning_(pruning),
      auth_(auth),
      max_checkpoint_bytes_(max_checkpoint_bytes),
      metrics_(metrics) {}

void WorkerServiceImpl::Publish(int64_t search_id, nas::v1::SearchEvent event) {
  if (!hub_->HasSubscribers(search_id)) return;
  const bool last = event.has_search_done();
  const absl::Time now = absl::Now();
  if (!last) {
    std::lock_guard<std::mutex> lock(event_searches_mu_);
    auto it = event_searches_.find(search_id);
    if (it != event_searches_.end() &&
        now - it->second.read_at < kEventSearchMaxAge) {
      *event.mutable_search() = it->second.search;
    }
  }
  if (!event.has_search()) {
    absl::StatusOr<nas::v1::Search> search = store_->GetSearch(search_id);
    if (!search.ok()) return;
    *event.mutable_search() = *std::move(search);
    std::lock_guard<std::mutex> lock(event_searches_mu_);
    if (last) {
      event_searches_.erase(search_id);
    } else {
      // Searches that ended elsewhere (cancelled, or done on another
      // replica) leave entries behind; drop the stale ones now and then.
      if (event_searches_.size() >= 256) {
        for (auto it = event_searches_.begin(); it != event_searches_.end();) {
          it = now - it->second.read_at >= kEventSearchMaxAge
                   ? event_searches_.erase(it)
                   : std::next(it);
        }
      }
      event_searches_[search_id] = {event.search(), now};
    }
  }
  hub_->Publish(search_id, event);
}

void WorkerServiceImpl::OnTrialEnded(int64_t search_id,
                                     const nas::v1::Trial& trial) {
  scheduler_->WakeSome(1);
  metrics_->TrialEnded(trial);
  nas::v1::SearchEvent event;
  *event.mutable_trial_finished() = trial;
  Publish(search_id, event);
  // Only a failure can trigger the every-attempt-failed rule.
  absl::StatusOr<bool> done = scheduler_->CompleteIfDone(
      search_id, trial.state() == nas::v1::TRIAL_STATE_FAILED);
  if (done.ok() && *done) {
    nas::v1::SearchEvent finished;
    finished.mutable_search_done();
    Publish(search_id, finished);
  }
}

absl::Status WorkerServiceImpl::TouchWorker(const std::string& worker_id) {
  // A worker asking for work many times a second is alive; writing that
  // down once per quarter lease keeps it well inside the lease-long window
  // that counts workers as connected, and spares a commit per lifecycle.
  // Only ids the store knew are remembered, so an unknown one still gets
  // the store's NotFound.
  const absl::Time now = absl::Now();
  {
    std::lock_guard<std::mutex> lock(touched_mu_);
    auto it = touched_.find(worker_id);
    if (it != touched_.end() && now - it->second < scheduler_->lease() / 4) {
      return absl::OkStatus();
    }
  }
  if (absl::Status s = store_->TouchWorker(worker_id); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(touched_mu_);
  touched_[worker_id] = now;
  return absl::OkStatus();
}

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
  absl::StatusOr<std::string> id = store_->RegisterWorker(*request);
  if (!id.ok()) return ToGrpcStatus(id.status());
  spdlog::info(
      "worker {} registered: {} on {} ({}), runs {}", *id,
      request->name().empty() ? request->host() : request->name(),
      request->host(), request->device_name(),
      request->has_capabilities()
          ? absl::StrCat(
                request->capabilities().estimator(), " [",
                absl::StrJoin(CapabilityTokens(request->capabilities()), " "),
                "]")
          : std::string("every trial (no capabilities declared)"));
  metrics_->WorkerRegistered(*id, *request);
  response->set_worker_id(*id);
  response->set_lease_seconds(
      static_cast<int32_t>(absl::ToInt64Seconds(scheduler_->lease())));
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
  if (absl::Status s = TouchWorker(request->worker_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  // Never wait past the client's own deadline.
  absl::Duration wait = absl::Milliseconds(request->wait_ms());
  const auto deadline = context->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    wait = std::min(wait, absl::FromChrono(deadline) - absl::Now() -
                              absl::Milliseconds(100));
  }
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> leased =
      scheduler_->Acquire(request->worker_id(),
                          std::max(wait, absl::ZeroDuration()));
  if (!leased.ok()) return ToGrpcStatus(leased.status());
  if (!leased->has_value()) return grpc::Status::OK;
  const nas::v1::TrialAssignment& a = **leased;
  *response->mutable_assignment() = a;
  metrics_->TrialLeased(a);

  nas::v1::SearchEvent event;
  nas::v1::Trial* started = event.mutable_trial_started();
  started->set_id(a.trial_id());
  started->set_search_id(a.search_id());
  started->set_number(a.trial_number());
  started->set_state(nas::v1::TRIAL_STATE_RUNNING);
  started->set_kind(a.kind());
  *started->mutable_architecture() = a.architecture();
  *started->mutable_budget() = a.budget();
  if (a.has_task()) *started->mutable_task() = a.task();
  started->set_attempt(a.attempt());
  started->set_worker_id(request->worker_id());
  Publish(a.search_id(), event);
  return grpc::Status::OK;
}

bool WorkerServiceImpl::ApplyPruning(const LeaseRef& ref, const EpochAck& ack,
                                     const nas::v1::EpochMetrics& metrics,
                                     std::optional<int>* rung) {
  if (!IsEarlyStoppableKind(ack.kind)) return false;
  absl::StatusOr<std::optional<PruneDecision>> decision = pruning_->Decide(
      ack.search_id, ref.trial_id, ack.trial_number, metrics);
  if (!decision.ok()) {
    // The trial goes on: a decision missed costs compute, not results.
    spdlog::warn("trial {}: no early-stopping decision for epoch {}: {}",
                 ref.trial_id, metrics.epoch(), decision.status().ToString());
    return false;
  }
  if (!decision->has_value()) return false;
  const PruneDecision& d = **decision;
  if (!d.stop) {
    if (d.rung.has_value()) {
      *rung = d.rung;
      if (absl::Status s = store_->SetTrialRung(ref, *d.rung); !s.ok()) {
        spdlog::warn("trial {}: rung {} not recorded: {}", ref.trial_id,
                     *d.rung, s.ToString());
      }
    }
    return false;
  }
  nas::v1::TrialMetrics last;
  last.set_val_accuracy(metrics.val_accuracy());
  last.set_val_loss(metrics.val_loss());
  absl::StatusOr<bool> stopped_now =
      store_->StopTrial(ref, d.reason, last, d.rung);
  if (!stopped_now.ok()) {
    spdlog::warn("trial {}: not stopped: {}", ref.trial_id,
                 stopped_now.status().ToString());
    return false;
  }
  // A repeated report of the epoch that stopped it: already announced.
  if (!*stopped_now) return true;
  spdlog::info("trial {} (search {}, #{}) stopped: {}", ref.trial_id,
               ack.search_id, ack.trial_number, d.reason);
  absl::StatusOr<nas::v1::Trial> stopped = store_->GetTrial(ref.trial_id);
  if (stopped.ok()) OnTrialEnded(ack.search_id, *stopped);
  return true;
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
  const LeaseRef ref = ToLeaseRef(*request);
  absl::StatusOr<EpochAck> ack =
      store_->RecordEpoch(ref, request->metrics(), scheduler_->lease());
  if (!ack.ok()) return ToGrpcStatus(ack.status());
  if (ack->stop) {
    response->set_stop(true);
    return grpc::Status::OK;
  }
  std::optional<int> rung;
  if (ApplyPruning(ref, *ack, request->metrics(), &rung)) {
    response->set_stop(true);
    return grpc::Status::OK;
  }
  if (hub_->HasSubscribers(ack->search_id)) {
    nas::v1::SearchEvent event;
    nas::v1::EpochReported* epoch = event.mutable_epoch_reported();
    epoch->set_trial_id(request->trial_id());
    epoch->set_trial_number(ack->trial_number);
    *epoch->mutable_metrics() = request->metrics();
    if (rung.has_value()) {
      epoch->set_promoted(true);
      epoch->set_rung(*rung);
    }
    Publish(ack->search_id, std::move(event));
  }
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::RenewLease(
    grpc::ServerContext* context, const nas::v1::RenewLeaseRequest* request,
    nas::v1::RenewLeaseResponse* response) {
  if (absl::Status s = CheckLeaseCall(*auth_, *context, *request); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<EpochAck> ack =
      store_->RenewLease(ToLeaseRef(*request), scheduler_->lease());
  if (!ack.ok()) return ToGrpcStatus(ack.status());
  response->set_stop(ack->stop);
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
  const LeaseRef ref = ToLeaseRef(*request);
  absl::StatusOr<bool> ended = store_->CompleteTrial(ref, request->metrics());
  if (!ended.ok()) return ToGrpcStatus(ended.status());
  // A worker retrying a reply it lost: the ending was announced and counted
  // the first time.
  if (!*ended) return grpc::Status::OK;
  nas::v1::Trial trial;
  trial.set_id(request->trial_id());
  trial.set_state(nas::v1::TRIAL_STATE_COMPLETED);
  trial.set_attempt(request->attempt());
  trial.set_worker_id(request->worker_id());
  *trial.mutable_metrics() = request->metrics();
  // The search id and number come from the store: the request doesn't carry
  // them, and a worker must not be trusted to.
  absl::StatusOr<nas::v1::Trial> stored = store_->GetTrial(request->trial_id());
  if (stored.ok()) trial = *std::move(stored);
  OnTrialEnded(trial.search_id(), trial);
  return grpc::Status::OK;
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
  std::string reason = request->reason().substr(0, kMaxReasonBytes);
  bool repeated = false;
  absl::StatusOr<nas::v1::TrialState> state = scheduler_->FailAttempt(
      ToLeaseRef(*request), reason, request->fault(), &repeated);
  if (!state.ok()) return ToGrpcStatus(state.status());
  // A requeued trial has not ended; the scheduler already woke the workers.
  // A repeated failure was announced the first time.
  if (*state != nas::v1::TRIAL_STATE_FAILED || repeated) {
    return grpc::Status::OK;
  }
  absl::StatusOr<nas::v1::Trial> stored = store_->GetTrial(request->trial_id());
  if (stored.ok()) OnTrialEnded(stored->search_id(), *stored);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::UploadCheckpoint(
    grpc::ServerContext* context,
    grpc::ServerReader<nas::v1::UploadCheckpointRequest>* reader,
    nas::v1::UploadCheckpointResponse* response) {
  if (absl::Status s = auth_->Authorize(*context, Role::kWorker).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
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
  absl::StatusOr<nas::v1::Trial> trial = store_->GetTrial(request.trial_id());
  if (!trial.ok()) return ToGrpcStatus(trial.status());
  if (trial->search_id() != request.search_id() ||
      trial->state() != nas::v1::TRIAL_STATE_RUNNING ||
      trial->attempt() != request.attempt() ||
      trial->worker_id() != request.worker_id()) {
    return ToGrpcStatus(absl::FailedPreconditionError(absl::StrCat(
        "trial ", request.trial_id(), " of search ", request.search_id(),
        ": attempt ", request.attempt(), " of worker ", request.worker_id(),
        " is not its current lease")));
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
