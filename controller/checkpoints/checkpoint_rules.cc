#include "controller/checkpoints/checkpoint_rules.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/hash/sha256.h"

namespace nas::controller {

absl::Status CheckTrialUpload(const LeaseRef& ref, double merge_weight,
                              const std::string& sha256,
                              const std::string& bytes) {
  if (!std::isfinite(merge_weight) || merge_weight < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "merge_weight: must be finite and >= 0, got ", merge_weight));
  }
  const std::string actual = hash::Sha256Hex(bytes);
  if (actual != sha256) {
    return absl::DataLossError(absl::StrCat(
        "upload of trial ", ref.trial_id, ": expected sha256 ", sha256,
        ", the ", bytes.size(), " bytes have sha256 ", actual));
  }
  return absl::OkStatus();
}

}  // namespace nas::controller
