// Checks on request fields shared by the service adapters. Each returns
// InvalidArgument naming the field.
#ifndef NAS_CONTROLLER_REQUEST_CHECKS_H_
#define NAS_CONTROLLER_REQUEST_CHECKS_H_

#include <cstdint>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nas/v1/search.pb.h"

namespace nas::controller {

absl::Status CheckId(absl::string_view field, int64_t id);
// Page sizes: 0 means `fallback`; negative or above `max` is an error.
absl::StatusOr<int> CheckPageSize(absl::string_view field, int32_t page_size,
                                  int fallback, int max);
// Page tokens are the decimal key of the last row served; empty = start.
absl::StatusOr<int64_t> ParsePageToken(absl::string_view token,
                                       int64_t start_value);
absl::Status CheckEpochMetrics(const nas::v1::EpochMetrics& metrics);
absl::Status CheckTrialMetrics(const nas::v1::TrialMetrics& metrics);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_REQUEST_CHECKS_H_
