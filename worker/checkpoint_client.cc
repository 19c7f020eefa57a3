#include "worker/checkpoint_client.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/hash/sha256.h"
#include "grpcpp/client_context.h"
#include "spdlog/spdlog.h"

namespace nas::worker {
namespace {

// An upper bound on what a first chunk may announce before we reserve
// memory for it; larger checkpoints still arrive, just without the reserve.
constexpr int64_t kMaxReserveBytes = int64_t{1} << 30;

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(timeout));
}

// Codes a broken or unreachable transport shows up as (a stream cut in the
// middle is often UNKNOWN or INTERNAL, "Stream removed").
bool IsTransport(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return true;
    default:
      return false;
  }
}

absl::Status FetchError(const grpc::Status& status, const std::string& what) {
  const std::string message = absl::StrCat(what, ": ", status.error_message());
  if (IsTransport(status.error_code())) {
    return absl::UnavailableError(message);
  }
  switch (status.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      return absl::NotFoundError(message);
    case grpc::StatusCode::DATA_LOSS:
      return absl::DataLossError(message);
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return absl::InvalidArgumentError(message);
    default:
      // Unauthenticated, permission denied, unimplemented, an unknown
      // worker: this worker's setup.
      return absl::FailedPreconditionError(message);
  }
}

absl::Status UploadError(const grpc::Status& status, const std::string& what) {
  const std::string message = absl::StrCat(what, ": ", status.error_message());
  if (IsTransport(status.error_code())) {
    return absl::UnavailableError(message);
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      message);
}

}  // namespace

CheckpointClient::CheckpointClient(std::shared_ptr<grpc::Channel> channel,
                                   CheckpointClientOptions options)
    : stub_(nas::v1::WorkerService::NewStub(channel)),
      options_(std::move(options)) {}

void CheckpointClient::set_worker_id(const std::string& worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  worker_id_ = worker_id;
}

absl::StatusOr<std::string> CheckpointClient::FetchOnce(
    nas::v1::FetchCheckpointRequest request, const std::string& what) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    request.set_worker_id(worker_id_);
  }
  if (request.worker_id().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": the worker is not registered"));
  }

  grpc::ClientContext context;
  SetDeadline(&context, options_.transfer_timeout);
  std::unique_ptr<grpc::ClientReader<nas::v1::CheckpointChunk>> reader =
      stub_->FetchCheckpoint(&context, request);
  nas::v1::CheckpointChunk chunk;
  std::string bytes;
  int64_t size = -1;
  std::string sha256;
  hash::Sha256 digest;
  bool too_long = false;
  while (reader->Read(&chunk)) {
    if (size < 0) {
      size = chunk.size();
      sha256 = chunk.sha256();
      if (size >= 0 && size <= kMaxReserveBytes) {
        bytes.reserve(static_cast<size_t>(size));
      }
    }
    if (static_cast<int64_t>(bytes.size() + chunk.data().size()) > size) {
      // More than announced: stop reading rather than grow without bound.
      too_long = true;
      context.TryCancel();
      break;
    }
    digest.Update(chunk.data());
    bytes += chunk.data();
  }
  const grpc::Status status = reader->Finish();
  if (too_long) {
    return absl::DataLossError(
        absl::StrCat(what, ": the controller sent more than the ", size,
                     " bytes it announced"));
  }
  if (!status.ok()) return FetchError(status, what);
  if (size < 0) {
    return absl::DataLossError(absl::StrCat(what, ": the stream was empty"));
  }
  if (static_cast<int64_t>(bytes.size()) != size) {
    return absl::DataLossError(absl::StrCat(what, ": received ", bytes.size(),
                                            " bytes, announced ", size));
  }
  const std::string actual = digest.FinishHex();
  if (actual != sha256) {
    return absl::DataLossError(absl::StrCat(
        what, ": SHA-256 ", actual, " does not match the announced ", sha256));
  }
  return bytes;
}

absl::StatusOr<std::string> CheckpointClient::FetchSupernet(int64_t search_id,
                                                            int64_t version) {
  nas::v1::FetchCheckpointRequest request;
  request.set_search_id(search_id);
  request.set_version(version);
  return Fetch(request, absl::StrCat("fetching supernet version ", version,
                                     " of search ", search_id));
}

absl::StatusOr<std::string> CheckpointClient::LoadTrialState(
    const nas::v1::TrialAssignment& a) {
  nas::v1::FetchCheckpointRequest request;
  request.set_search_id(a.search_id());
  request.set_trial_id(a.trial_id());
  request.set_attempt(a.attempt());
  return Fetch(request, absl::StrCat("fetching the saved state of trial ",
                                     a.trial_id()));
}

absl::Status CheckpointClient::SaveTrialState(
    const nas::v1::TrialAssignment& a, const std::string& bytes) {
  UploadLease lease;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lease.worker_id = worker_id_;
  }
  lease.trial_id = a.trial_id();
  lease.attempt = a.attempt();
  const absl::Time give_up = absl::Now() + options_.fetch_retry_window;
  absl::Duration backoff = options_.initial_backoff;
  while (true) {
    absl::Status uploaded = Upload(lease, bytes, /*merge_weight=*/0);
    const absl::StatusCode code = uploaded.code();
    if (uploaded.ok() ||
        (code != absl::StatusCode::kUnavailable &&
         code != absl::StatusCode::kDataLoss) ||
        absl::Now() >= give_up) {
      return uploaded;
    }
    spdlog::warn("{}; retrying", std::string(uploaded.message()));
    absl::SleepFor(std::min(backoff, give_up - absl::Now()));
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

absl::StatusOr<std::string> CheckpointClient::Fetch(
    const nas::v1::FetchCheckpointRequest& request, const std::string& what) {
  const absl::Time give_up = absl::Now() + options_.fetch_retry_window;
  absl::Duration backoff = options_.initial_backoff;
  bool retried_data_loss = false;
  while (true) {
    absl::StatusOr<std::string> bytes = FetchOnce(request, what);
    if (bytes.ok()) return bytes;
    const absl::StatusCode code = bytes.status().code();
    if (code == absl::StatusCode::kDataLoss && !retried_data_loss) {
      // Once: a transfer garbled on the way is worth a second try; a stored
      // copy that is corrupt will fail again the same way.
      spdlog::warn("{}; fetching once more",
                   std::string(bytes.status().message()));
      retried_data_loss = true;
      continue;
    }
    if (code != absl::StatusCode::kUnavailable || absl::Now() >= give_up) {
      return bytes.status();
    }
    spdlog::warn("{}; retrying", std::string(bytes.status().message()));
    absl::SleepFor(std::min(backoff, give_up - absl::Now()));
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

absl::Status CheckpointClient::Upload(const UploadLease& lease,
                                      std::string_view bytes,
                                      double merge_weight) {
  const std::string what =
      absl::StrCat("uploading the weights of trial ", lease.trial_id,
                   " (attempt ", lease.attempt, ")");
  const std::string sha256 = hash::Sha256Hex(bytes);
  grpc::ClientContext context;
  SetDeadline(&context, options_.transfer_timeout);
  nas::v1::UploadCheckpointResponse response;
  std::unique_ptr<grpc::ClientWriter<nas::v1::UploadCheckpointRequest>> writer =
      stub_->UploadCheckpoint(&context, &response);

  // The header travels alone, then the data; a write fails only when the
  // call has ended, and Finish then says why.
  nas::v1::UploadCheckpointRequest message;
  nas::v1::UploadHeader* header = message.mutable_header();
  header->set_worker_id(lease.worker_id);
  header->set_trial_id(lease.trial_id);
  header->set_attempt(lease.attempt);
  header->set_size(static_cast<int64_t>(bytes.size()));
  header->set_sha256(sha256);
  header->set_merge_weight(merge_weight);
  bool open = writer->Write(message);
  const size_t chunk = static_cast<size_t>(
      std::clamp<int64_t>(options_.chunk_bytes, 1, int64_t{1} << 20));
  for (size_t offset = 0; open && offset < bytes.size(); offset += chunk) {
    message.Clear();
    message.set_data(std::string(bytes.substr(offset, chunk)));
    open = writer->Write(message);
  }
  if (open) writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (!status.ok()) return UploadError(status, what);
  if (response.size() != static_cast<int64_t>(bytes.size()) ||
      response.sha256() != sha256) {
    return absl::DataLossError(
        absl::StrCat(what, ": the controller stored ", response.size(),
                     " bytes with SHA-256 \"", response.sha256(), "\", sent ",
                     bytes.size(), " with ", sha256));
  }
  return absl::OkStatus();
}

}  // namespace nas::worker
