#include "common/spec/field_errors.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace nas::spec::internal {

absl::Status FieldError(absl::string_view path, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", reason));
}

std::string QuoteForMessage(absl::string_view text) {
  constexpr size_t kMaxShown = 64;
  if (text.size() <= kMaxShown) {
    return absl::StrCat("\"", absl::CHexEscape(text), "\"");
  }
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxShown)),
                      "...\"");
}

absl::Status CheckRange(absl::string_view path, int64_t value, int64_t min,
                        int64_t max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return FieldError(path, absl::StrCat("must be between ", min, " and ", max,
                                       ", got ", value));
}

}  // namespace nas::spec::internal
