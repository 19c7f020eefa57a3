#include "controller/memory_store/memory_store_util.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/spec/trial_kinds.h"

namespace nas::controller::memory_store_internal {

std::string TrialStateName(nas::v1::TrialState state) {
  switch (state) {
    case nas::v1::TRIAL_STATE_PENDING:
      return "PENDING";
    case nas::v1::TRIAL_STATE_RUNNING:
      return "RUNNING";
    case nas::v1::TRIAL_STATE_COMPLETED:
      return "COMPLETED";
    case nas::v1::TRIAL_STATE_FAILED:
      return "FAILED";
    case nas::v1::TRIAL_STATE_STOPPED:
      return "STOPPED";
    case nas::v1::TRIAL_STATE_CANCELLED:
      return "CANCELLED";
    default:
      return "UNSPECIFIED";
  }
}

std::string SearchStateName(nas::v1::SearchState state) {
  switch (state) {
    case nas::v1::SEARCH_STATE_RUNNING:
      return "RUNNING";
    case nas::v1::SEARCH_STATE_COMPLETED:
      return "COMPLETED";
    case nas::v1::SEARCH_STATE_CANCELLED:
      return "CANCELLED";
    case nas::v1::SEARCH_STATE_FAILED:
      return "FAILED";
    default:
      return "UNSPECIFIED";
  }
}

std::string TrialKindName(nas::v1::TrialKind kind) {
  return nas::spec::NamesOf(kind).stored;
}

absl::Status SearchNotFound(int64_t search_id) {
  return absl::NotFoundError(absl::StrCat("search ", search_id, " not found"));
}

absl::Status TrialNotFound(int64_t trial_id) {
  return absl::NotFoundError(absl::StrCat("trial ", trial_id, " not found"));
}

absl::StatusOr<absl::Duration> CheckedLease(absl::Duration lease) {
  if (lease <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the lease must be positive");
  }
  return absl::Microseconds(absl::ToInt64Microseconds(lease));
}

void SetTimestamp(absl::Time time, google::protobuf::Timestamp* out) {
  // ToUnixMicros rounds down, so the remainder is never negative.
  const int64_t micros = absl::ToUnixMicros(time);
  int64_t seconds = micros / 1000000;
  int64_t rest = micros % 1000000;
  if (rest < 0) {
    rest += 1000000;
    seconds -= 1;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rest * 1000));
}

void AppendReason(std::string* reason, const std::string& line) {
  if (reason->empty()) {
    *reason = line;
  } else {
    absl::StrAppend(reason, "\n", line);
  }
}

}  // namespace nas::controller::memory_store_internal
