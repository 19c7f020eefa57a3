#include "worker/torch_failure.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace nas::worker {

absl::Status TorchFailure(absl::string_view what, const std::string& error) {
  const std::string message = absl::StrCat(what, ": ", error);
  const std::string lower = absl::AsciiStrToLower(error);
  if (absl::StrContains(lower, "out of memory") ||
      absl::StrContains(lower, "bad_alloc")) {
    return absl::ResourceExhaustedError(message);
  }
  if (absl::StrContains(lower, "cuda") || absl::StrContains(lower, "cudnn")) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

}  // namespace nas::worker
