#include "worker/lease_keeper.h"

#include <algorithm>
#include <chrono>

#include "grpcpp/client_context.h"
#include "spdlog/spdlog.h"

namespace nas::worker {

absl::Duration LeaseKeeper::IntervalFor(int lease_seconds) {
  return std::max(absl::Seconds(lease_seconds) / 3, absl::Milliseconds(100));
}

LeaseKeeper::LeaseKeeper(nas::v1::WorkerService::Stub* stub,
                         nas::v1::RenewLeaseRequest request,
                         absl::Duration interval)
    : stub_(stub), request_(std::move(request)), interval_(interval) {
  thread_ = std::thread([this] { Loop(); });
}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void LeaseKeeper::Loop() {
  // A renewal that takes much longer than the interval is as good as lost;
  // the next one is due anyway.
  const absl::Duration call_timeout =
      std::clamp(interval_, absl::Seconds(1), absl::Seconds(10));
  bool warned = false;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, absl::ToChronoMilliseconds(interval_),
                       [this] { return done_; })) {
        return;
      }
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         absl::ToChronoMilliseconds(call_timeout));
    nas::v1::RenewLeaseResponse response;
    const grpc::Status status =
        stub_->RenewLease(&context, request_, &response);
    if (status.ok()) {
      if (warned)
        spdlog::info("trial {}: lease renewed again", request_.trial_id());
      warned = false;
      if (response.stop()) stop_.store(true);
      continue;
    }
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
        status.error_code() == grpc::StatusCode::NOT_FOUND) {
      spdlog::warn("trial {}: lease lost ({})", request_.trial_id(),
                   status.error_message());
      lost_.store(true);
      return;
    }
    // Unreachable controller: keep trying; the lease survives outages
    // shorter than about two thirds of it.
    if (!warned) {
      spdlog::warn("trial {}: lease renewal failed: {}; retrying",
                   request_.trial_id(), status.error_message());
      warned = true;
    }
  }
}

}  // namespace nas::worker
