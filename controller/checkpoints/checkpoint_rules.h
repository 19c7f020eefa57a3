// Checks every CheckpointStore makes the same way before it stores a trial's
// upload, so that the PostgreSQL store and the MemoryStore refuse the same
// uploads with the same messages.
#ifndef NAS_CONTROLLER_CHECKPOINTS_CHECKPOINT_RULES_H_
#define NAS_CONTROLLER_CHECKPOINTS_CHECKPOINT_RULES_H_

#include <string>

#include "absl/status/status.h"
#include "controller/store/trial_store.h"

namespace nas::controller {

// InvalidArgument for a merge weight that is negative or not finite;
// DataLoss when `sha256` (lower-case hex) is not that of `bytes`.
absl::Status CheckTrialUpload(const LeaseRef& ref, double merge_weight,
                              const std::string& sha256,
                              const std::string& bytes);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_CHECKPOINTS_CHECKPOINT_RULES_H_
