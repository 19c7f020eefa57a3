// Helpers shared by the MemoryStore's .cc files: the names, messages and
// reason lines that must read exactly like the PostgreSQL store's
// (controller/store/proto_rows.cc, postgres_trials.cc). Internal to
// nas_memory_store.
#ifndef NAS_CONTROLLER_MEMORY_STORE_MEMORY_STORE_UTIL_H_
#define NAS_CONTROLLER_MEMORY_STORE_MEMORY_STORE_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/store/trial_store.h"
#include "google/protobuf/timestamp.pb.h"
#include "nas/v1/search.pb.h"

namespace nas::controller::memory_store_internal {

// "PENDING", "RUNNING", ...: the text of trials.state and searches.state,
// which messages quote.
std::string TrialStateName(nas::v1::TrialState state);
std::string SearchStateName(nas::v1::SearchState state);
// The name trials.kind stores ("TRAIN" for an unspecified kind).
std::string TrialKindName(nas::v1::TrialKind kind);

// NotFound, naming the search or trial.
absl::Status SearchNotFound(int64_t search_id);
absl::Status TrialNotFound(int64_t trial_id);

// The lease length; InvalidArgument unless positive. Truncated to
// microseconds, the precision of an SQL interval.
absl::StatusOr<absl::Duration> CheckedLease(absl::Duration lease);

// Sets `out` to `time` (microsecond precision, as a timestamptz).
void SetTimestamp(absl::Time time, google::protobuf::Timestamp* out);

// Appends `line` to `reason` as a new line: lines are joined by newlines,
// with none at the end.
void AppendReason(std::string* reason, const std::string& line);

}  // namespace nas::controller::memory_store_internal

#endif  // NAS_CONTROLLER_MEMORY_STORE_MEMORY_STORE_UTIL_H_
