#include "worker/worker_loop.h"

#include <algorithm>
#include <chrono>

#include "grpcpp/client_context.h"
#include "spdlog/spdlog.h"

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
                       Estimator* estimator, WorkerOptions options)
    : stub_(nas::v1::WorkerService::NewStub(channel)),
      estimator_(estimator),
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
  grpc::Status status = Retry(
      [&] {
        grpc::ClientContext context;
        SetDeadline(&context, kCallTimeout);
        return stub_->RegisterWorker(&context, options_.identity, &response);
      },
      absl::InfiniteDuration(), stop, "RegisterWorker");
  if (!status.ok()) {
    if (!stop.load()) {
      spdlog::error("RegisterWorker refused: {}", status.error_message());
    }
    return false;
  }
  worker_id_ = response.worker_id();
  spdlog::info("registered as {} (lease {}s)", worker_id_,
               response.lease_seconds());
  return true;
}

int WorkerLoop::Run(const std::atomic<bool>& stop) {
  int trials = 0;
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
      spdlog::warn("controller forgot worker {}; registering again", worker_id_);
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
    RunTrial(response.assignment(), stop);
    ++trials;
  }
  return trials;
}

void WorkerLoop::RunTrial(const nas::v1::TrialAssignment& a,
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
  auto on_epoch = [&](const nas::v1::EpochMetrics& metrics) {
    if (stop.load()) return false;
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
    spdlog::info("trial {} epoch {}: val_acc {:.4f} train_loss {:.4f} ({:.1f}s)",
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
  if (lease_lost || stop.load()) return;
  if (evaluation.ok() && evaluation->stopped) return;

  grpc::Status status;
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
    spdlog::info("trial {} done: val_acc {:.4f} test_acc {:.4f} params {} "
                 "flops {} latency {:.3f}ms train {:.1f}s",
                 a.trial_id(), evaluation->metrics.val_accuracy(),
                 evaluation->metrics.test_accuracy(),
                 evaluation->metrics.params(), evaluation->metrics.flops(),
                 evaluation->metrics.latency_ms(),
                 evaluation->metrics.train_seconds());
  } else {
    spdlog::warn("trial {} failed: {}", a.trial_id(),
                 evaluation.status().ToString());
    nas::v1::FailTrialRequest request;
    request.set_worker_id(worker_id_);
    request.set_trial_id(a.trial_id());
    request.set_attempt(a.attempt());
    request.set_reason(std::string(evaluation.status().message()));
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
}

}  // namespace nas::worker
