#include "worker/metrics_summary.h"

#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace nas::worker {

std::string MetricsSummary(const nas::v1::TrialMetrics& m) {
  std::vector<std::string> parts;
  if (m.has_val_accuracy()) {
    parts.push_back(absl::StrFormat("val_acc %.4f", m.val_accuracy()));
  }
  if (m.has_test_accuracy()) {
    parts.push_back(absl::StrFormat("test_acc %.4f", m.test_accuracy()));
  }
  if (m.has_params()) parts.push_back(absl::StrFormat("params %d", m.params()));
  if (m.has_flops()) parts.push_back(absl::StrFormat("flops %d", m.flops()));
  if (m.has_latency_ms()) {
    parts.push_back(absl::StrFormat("latency %.3fms", m.latency_ms()));
  }
  if (m.has_train_seconds()) {
    parts.push_back(absl::StrFormat("train %.1fs", m.train_seconds()));
  }
  return parts.empty() ? "no metrics" : absl::StrJoin(parts, " ");
}

}  // namespace nas::worker
