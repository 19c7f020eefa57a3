#include "common/spec/constraint_text.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/spec/field_errors.h"

namespace nas::spec {

absl::StatusOr<nas::v1::Constraint> ParseConstraint(absl::string_view text) {
  const size_t le = text.find("<=");
  const size_t ge = text.find(">=");
  if ((le == absl::string_view::npos) == (ge == absl::string_view::npos)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected \"<metric> <= <number>\" or \"<metric> >= <number>\", got ",
        internal::QuoteForMessage(text)));
  }
  const size_t at = le != absl::string_view::npos ? le : ge;
  nas::v1::Constraint constraint;
  constraint.set_op(le != absl::string_view::npos
                        ? nas::v1::COMPARISON_LESS_EQUAL
                        : nas::v1::COMPARISON_GREATER_EQUAL);
  constraint.set_metric(
      std::string(absl::StripAsciiWhitespace(text.substr(0, at))));
  if (constraint.metric().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no metric before the operator in ", internal::QuoteForMessage(text)));
  }
  const absl::string_view number =
      absl::StripAsciiWhitespace(text.substr(at + 2));
  double bound = 0;
  if (!absl::SimpleAtod(number, &bound) || !std::isfinite(bound)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the bound must be a finite number, got ",
                     internal::QuoteForMessage(number)));
  }
  constraint.set_bound(bound);
  return constraint;
}

std::string FormatConstraint(const nas::v1::Constraint& constraint) {
  const char* op = "?";
  if (constraint.op() == nas::v1::COMPARISON_LESS_EQUAL) op = "<=";
  if (constraint.op() == nas::v1::COMPARISON_GREATER_EQUAL) op = ">=";
  return absl::StrCat(constraint.metric(), " ", op, " ", constraint.bound());
}

}  // namespace nas::spec
