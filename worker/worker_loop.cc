#include "worker/worker_loop.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "grpcpp/client_context.h"
#include "spdlog/spdlog.h"
#include "worker/lease_keeper.h"
#include "worker/metrics_summary.h"

namespace nas::worker {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(10);

bool IsTransient(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(timeout));
}

}  // namespace

WorkerLoop::WorkerLoop(std::shared_ptr<grpc::Channel> channel,
                       Estimator* estimator, WorkerOptions options,
                       CheckpointClient* checkpoints)
    : stub_(nas::v1::WorkerService::NewStub(channel)),
      estimator_(estimator),
      owned_checkpoints_(checkpoints == nullptr
                             ? std::make_unique<CheckpointClient>(channel)
                             : nullptr),
      checkpoints_(checkpoints == nullptr ? owned_checkpoints_.get()
                                          : checkpoints),
      options_(std::move(options)) {}

grpc::Status WorkerLoop::Retry(const std::function<grpc::Status()>& rpc,
                               absl::Duration window,
                               const std::atomic<bool>& stop,
                               const char* what) {
  const absl::Time give_up = absl::Now() + window;
  absl::Duration backoff = options_.initial_backoff;
  bool warned = false;
  while (true) {
    grpc::Status status = rpc();
    if (!IsTransient(status) || stop.load() || absl::Now() >= give_up) {
      if (warned && status.ok()) spdlog::info("{}: controller reachable again", what);
      return status;
    }
    if (!warned) {
      spdlog::warn("{}: {}; retrying with backoff", what,
                   status.error_message());
      warned = true;
    }
    absl::SleepFor(std::min(backoff, give_up - absl::Now()));
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

bool WorkerLoop::Register(const std::atomic<bool>& stop) {
  nas::v1::RegisterWorkerResponse response;
  nas::v1::RegisterWorkerRequest request = options_.identity;
  *request.mutable_capabilities() = estimator_->Capabilities();
  if (request.capabilities().can_run().empty()) {
    spdlog::warn(
        "this worker can run no trial (its estimator declares no "
        "capabilities: is --data_dir right?); it will get no work");
  }
  grpc::Status status = Retry(
      [&] {
        grpc::ClientContext context;
        SetDeadline(&context, kCallTimeout);
        return stub_->RegisterWorker(&context, request, &response);
      },
      absl::InfiniteDuration(), stop, "RegisterWorker");
  if (!status.ok()) {
    if (!stop.load()) {
      spdlog::error("RegisterWorker refused: {}", status.error_message());
    }
    return false;
  }
  worker_id_ = response.worker_id();
  checkpoints_->set_worker_id(worker_id_);
  spdlog::info("registered as {} ({}, lease {}s)", worker_id_,
               request.name().empty() ? request.host() : request.name(),
               response.lease_seconds());
  return true;
}

absl::Status WorkerLoop::UploadWeights(const nas::v1::TrialAssignment& a,
                                       const Evaluation& evaluation,
                                       const std::atomic<bool>& stop,
                                       bool* lease_lost) {
  UploadLease lease;
  lease.worker_id = worker_id_;
  lease.trial_id = a.trial_id();
  lease.attempt = a.attempt();
  absl::Status uploaded;
  for (int tries = 1; tries <= 2; ++tries) {
    uploaded = FromGrpcStatus(Retry(
        [&] {
          return ToGrpcStatus(checkpoints_->Upload(lease, evaluation.upload,
                                                   evaluation.merge_weight));
        },
        options_.report_retry_window, stop, "UploadCheckpoint"));
    if (uploaded.code() != absl::StatusCode::kDataLoss) break;
    spdlog::warn("trial {}: upload {} arrived corrupted: {}", a.trial_id(),
                 tries, std::string(uploaded.message()));
  }
  switch (uploaded.code()) {
    case absl::StatusCode::kOk:
      spdlog::info("trial {}: uploaded {} bytes of weights", a.trial_id(),
                   evaluation.upload.size());
      return uploaded;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
      spdlog::warn("trial {}: upload refused, lease lost ({}); abandoning",
                   a.trial_id(), std::string(uploaded.message()));
      *lease_lost = true;
      return uploaded;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      // The controller refuses these weights (e.g. too large): another
      // worker would make the same.
      return absl::InvalidArgumentError(
          absl::StrCat("upload refused: ", uploaded.message()));
    case absl::StatusCode::kDataLoss:
      return absl::UnavailableError(absl::StrCat(
          "upload corrupted in transit twice: ", uploaded.message()));
    default:
      // Unreachable past the retry window, unauthenticated, a controller
      // without uploads: this worker's situation, not the trial's.
      return absl::UnavailableError(
          absl::StrCat("upload failed: ", uploaded.message()));
  }
}

void WorkerLoop::BackOff(int faults_in_a_row, const std::atomic<bool>& stop) {
  absl::Duration wait = options_.fault_backoff;
  for (int i = 1; i < faults_in_a_row && wait < options_.max_fault_backoff;
       ++i) {
    wait *= 2;
  }
  wait = std::min(wait, options_.max_fault_backoff);
  spdlog::warn(
      "worker fault {} in a row ({}); backing off {}s before asking for "
      "work: fix this worker (data, memory, device) or stop it",
      faults_in_a_row, last_fault_, absl::ToInt64Seconds(wait));
  const absl::Time until = absl::Now() + wait;
  while (!stop.load() && absl::Now() < until) {
    absl::SleepFor(std::min(absl::Milliseconds(200), until - absl::Now()));
  }
}

int WorkerLoop::Run(const std::atomic<bool>& stop) {
  int trials = 0;
  int faults_in_a_row = 0;
  if (!Register(stop)) return trials;
  while (!stop.load() &&
         (options_.max_trials == 0 || trials < options_.max_trials)) {
    nas::v1::AcquireTrialRequest request;
    request.set_worker_id(worker_id_);
    request.set_wait_ms(
        static_cast<int32_t>(absl::ToInt64Milliseconds(options_.acquire_wait)));
    nas::v1::AcquireTrialResponse response;
    grpc::Status status = Retry(
        [&] {
          grpc::ClientContext context;
          SetDeadline(&context, options_.acquire_wait + kCallTimeout);
          response.Clear();
          return stub_->AcquireTrial(&context, request, &response);
        },
        absl::InfiniteDuration(), stop, "AcquireTrial");
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      // The controller no longer knows this worker (e.g. a new database).
      spdlog::warn("controller forgot worker {}; registering again",
                   worker_id_);
      if (!Register(stop)) return trials;
      continue;
    }
    if (!status.ok()) {
      if (stop.load()) break;
      spdlog::error("AcquireTrial: {}", status.error_message());
      absl::SleepFor(options_.max_backoff);
      continue;
    }
    if (!response.has_assignment()) continue;
    const nas::v1::FaultKind fault = RunTrial(response.assignment(), stop);
    ++trials;
    if (fault == nas::v1::FAULT_KIND_WORKER) {
      BackOff(++faults_in_a_row, stop);
    } else {
      faults_in_a_row = 0;
    }
  }
  return trials;
}

nas::v1::FaultKind WorkerLoop::RunTrial(const nas::v1::TrialAssignment& a,
                                        const std::atomic<bool>& stop) {
  spdlog::info("trial {} (search {}, #{}, attempt {}): {}", a.trial_id(),
               a.search_id(), a.trial_number(), a.attempt(),
               a.architecture().text());
  // Progress reports are retried for a fraction of the lease: training goes
  // on meanwhile, and a lease lost to a long outage shows up as a refused
  // final report.
  const absl::Duration progress_window =
      absl::Seconds(std::max(1, a.lease_seconds() / 2));
  bool lease_lost = false;
  nas::v1::RenewLeaseRequest renew;
  renew.set_worker_id(worker_id_);
  renew.set_trial_id(a.trial_id());
  renew.set_attempt(a.attempt());
  // The heartbeat runs while the estimator works. It stops before the final
  // report: a renewal racing a successful CompleteTrial would be refused and
  // look like a lost lease, and while the controller is unreachable (the
  // only time the report is retried) renewals fail anyway.
  std::optional<LeaseKeeper> heartbeat;
  heartbeat.emplace(stub_.get(), renew,
                    LeaseKeeper::IntervalFor(a.lease_seconds()));
  const LeaseKeeper& keeper = *heartbeat;
  auto on_epoch = [&](const nas::v1::EpochMetrics& metrics) {
    if (stop.load()) return false;
    if (keeper.lost()) {
      spdlog::warn("trial {}: lease lost; abandoning", a.trial_id());
      lease_lost = true;
      return false;
    }
    if (keeper.stop_requested()) {
      spdlog::info("trial {}: controller asked to stop", a.trial_id());
      return false;
    }
    nas::v1::ReportProgressRequest request;
    request.set_worker_id(worker_id_);
    request.set_trial_id(a.trial_id());
    request.set_attempt(a.attempt());
    *request.mutable_metrics() = metrics;
    nas::v1::ReportProgressResponse response;
    grpc::Status status = Retry(
        [&] {
          grpc::ClientContext context;
          SetDeadline(&context, kCallTimeout);
          return stub_->ReportProgress(&context, request, &response);
        },
        progress_window, stop, "ReportProgress");
    spdlog::info(
        "trial {} epoch {}: val_acc {:.4f} train_loss {:.4f} ({:.1f}s)",
        a.trial_id(), metrics.epoch(), metrics.val_accuracy(),
        metrics.train_loss(), metrics.seconds());
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
        status.error_code() == grpc::StatusCode::NOT_FOUND) {
      spdlog::warn("trial {}: lease lost ({}); abandoning", a.trial_id(),
                   status.error_message());
      lease_lost = true;
      return false;
    }
    if (response.stop()) {
      spdlog::info("trial {}: controller asked to stop", a.trial_id());
      return false;
    }
    return true;
  };

  absl::StatusOr<Evaluation> evaluation = estimator_->Evaluate(a, on_epoch);
  if (keeper.lost() && !lease_lost) {
    spdlog::warn("trial {}: lease lost; abandoning", a.trial_id());
    lease_lost = true;
  }
  // The weights go up while the heartbeat still holds the lease: an upload
  // may take longer than a lease.
  if (evaluation.ok() && !evaluation->stopped && !evaluation->upload.empty() &&
      !lease_lost && !stop.load() && !keeper.stop_requested()) {
    absl::Status uploaded = UploadWeights(a, *evaluation, stop, &lease_lost);
    if (!lease_lost && keeper.lost()) {
      spdlog::warn("trial {}: lease lost; abandoning", a.trial_id());
      lease_lost = true;
    }
    if (!uploaded.ok() && !lease_lost && !stop.load()) {
      evaluation = std::move(uploaded);
    }
  }
  const bool stop_requested = keeper.stop_requested();
  heartbeat.reset();
  if (lease_lost || stop.load() || stop_requested) {
    return nas::v1::FAULT_KIND_UNSPECIFIED;
  }
  if (evaluation.ok() && evaluation->stopped) {
    return nas::v1::FAULT_KIND_UNSPECIFIED;
  }

  grpc::Status status;
  nas::v1::FaultKind fault = nas::v1::FAULT_KIND_UNSPECIFIED;
  if (evaluation.ok()) {
    nas::v1::CompleteTrialRequest request;
    request.set_worker_id(worker_id_);
    request.set_trial_id(a.trial_id());
    request.set_attempt(a.attempt());
    *request.mutable_metrics() = evaluation->metrics;
    status = Retry(
        [&] {
          grpc::ClientContext context;
          SetDeadline(&context, kCallTimeout);
          nas::v1::CompleteTrialResponse response;
          return stub_->CompleteTrial(&context, request, &response);
        },
        options_.report_retry_window, stop, "CompleteTrial");
    spdlog::info("trial {} done: {}", a.trial_id(),
                 MetricsSummary(evaluation->metrics));
  } else {
    fault = FaultOf(evaluation.status());
    const bool worker_fault = fault == nas::v1::FAULT_KIND_WORKER;
    spdlog::warn("trial {} failed ({} fault): {}", a.trial_id(),
                 worker_fault ? "worker" : "trial",
                 evaluation.status().ToString());
    if (worker_fault) last_fault_ = std::string(evaluation.status().message());
    nas::v1::FailTrialRequest request;
    request.set_worker_id(worker_id_);
    request.set_trial_id(a.trial_id());
    request.set_attempt(a.attempt());
    request.set_reason(std::string(evaluation.status().message()));
    request.set_fault(fault);
    status = Retry(
        [&] {
          grpc::ClientContext context;
          SetDeadline(&context, kCallTimeout);
          nas::v1::FailTrialResponse response;
          return stub_->FailTrial(&context, request, &response);
        },
        options_.report_retry_window, stop, "FailTrial");
  }
  if (!status.ok()) {
    spdlog::warn("trial {}: result not recorded: {}", a.trial_id(),
                 status.error_message());
  }
  return fault;
}

}  // namespace nas::worker
