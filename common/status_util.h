// The one bridge between absl::Status (used throughout the code) and
// grpc::Status (used only at the RPC boundary).
#ifndef NAS_COMMON_STATUS_UTIL_H_
#define NAS_COMMON_STATUS_UTIL_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace nas {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace nas

#endif  // NAS_COMMON_STATUS_UTIL_H_
