// How nas_spec words its errors (internal to nas_spec): every problem is
// INVALID_ARGUMENT "<path>: <reason>", the path in the style
// "space.chain.stages[1].ops[2]".
#ifndef NAS_COMMON_SPEC_FIELD_ERRORS_H_
#define NAS_COMMON_SPEC_FIELD_ERRORS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace nas::spec::internal {

// INVALID_ARGUMENT "<path>: <reason>".
absl::Status FieldError(absl::string_view path, absl::string_view reason);

// User text as a message shows it: in double quotes, C-escaped, and cut
// after 64 bytes so that a megabyte of garbage does not reach a log line.
std::string QuoteForMessage(absl::string_view text);

// OK, or "<path>: must be between <min> and <max>, got <value>".
absl::Status CheckRange(absl::string_view path, int64_t value, int64_t min,
                        int64_t max);

}  // namespace nas::spec::internal

#endif  // NAS_COMMON_SPEC_FIELD_ERRORS_H_
