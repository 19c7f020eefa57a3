#include "controller/request_checks.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace nas::controller {
namespace {

absl::Status CheckFinite(absl::string_view field, double value) {
  if (std::isfinite(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": must be a finite number, got ", value));
}

absl::Status CheckFraction(absl::string_view field, double value) {
  if (std::isfinite(value) && value >= 0.0 && value <= 1.0) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": must be a fraction in [0, 1], got ", value));
}

absl::Status CheckNonNegative(absl::string_view field, double value) {
  if (std::isfinite(value) && value >= 0.0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": must be finite and >= 0, got ", value));
}

}  // namespace

absl::Status CheckId(absl::string_view field, int64_t id) {
  if (id > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": must be a positive id, got ", id));
}

absl::StatusOr<int> CheckPageSize(absl::string_view field, int32_t page_size,
                                  int fallback, int max) {
  if (page_size == 0) return fallback;
  if (page_size < 0 || page_size > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": must be between 1 and ", max, ", got ", page_size));
  }
  return page_size;
}

absl::StatusOr<int64_t> ParsePageToken(absl::string_view token,
                                       int64_t start_value) {
  if (token.empty()) return start_value;
  int64_t value;
  if (!absl::SimpleAtoi(token, &value) || value < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_token: \"", token,
        "\" is not a token this service issued; pass next_page_token as is"));
  }
  return value;
}

absl::Status CheckEpochMetrics(const nas::v1::EpochMetrics& m) {
  if (m.epoch() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics.epoch: must be at least 1, got ", m.epoch()));
  }
  for (auto [field, value] : {std::pair{"metrics.train_loss", m.train_loss()},
                              {"metrics.val_loss", m.val_loss()}}) {
    if (absl::Status s = CheckFinite(field, value); !s.ok()) return s;
  }
  if (absl::Status s = CheckFraction("metrics.val_accuracy", m.val_accuracy());
      !s.ok()) {
    return s;
  }
  return CheckNonNegative("metrics.seconds", m.seconds());
}

absl::Status CheckTrialMetrics(const nas::v1::TrialMetrics& m) {
  for (auto [field, value] :
       {std::pair{"metrics.val_accuracy", m.val_accuracy()},
        {"metrics.test_accuracy", m.test_accuracy()}}) {
    if (absl::Status s = CheckFraction(field, value); !s.ok()) return s;
  }
  for (auto [field, value] : {std::pair{"metrics.val_loss", m.val_loss()},
                              {"metrics.test_loss", m.test_loss()},
                              {"metrics.zero_cost_score", m.zero_cost_score()}}) {
    if (absl::Status s = CheckFinite(field, value); !s.ok()) return s;
  }
  for (auto [field, value] :
       {std::pair{"metrics.latency_ms", m.latency_ms()},
        {"metrics.train_seconds", m.train_seconds()},
        {"metrics.params", static_cast<double>(m.params())},
        {"metrics.flops", static_cast<double>(m.flops())}}) {
    if (absl::Status s = CheckNonNegative(field, value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace nas::controller
