// Constraints as people write them: "latency_ms <= 5", "params <= 1e6",
// "val_accuracy >= 0.9". The YAML reader parses them and nasctl prints them
// the same way, so a spec and its listing read alike.
#ifndef NAS_COMMON_SPEC_CONSTRAINT_TEXT_H_
#define NAS_COMMON_SPEC_CONSTRAINT_TEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nas/v1/search.pb.h"

namespace nas::spec {

// "<metric> <= <number>" or "<metric> >= <number>", spaces optional. Checks
// the shape only (a finite number, one of the two operators); the metric
// name is checked by ValidateSearchSpec. InvalidArgument, without a path,
// otherwise.
absl::StatusOr<nas::v1::Constraint> ParseConstraint(absl::string_view text);

// The inverse of ParseConstraint, e.g. "latency_ms <= 5".
std::string FormatConstraint(const nas::v1::Constraint& constraint);

}  // namespace nas::spec

#endif  // NAS_COMMON_SPEC_CONSTRAINT_TEXT_H_
