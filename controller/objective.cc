#include "controller/objective.h"

namespace nas::controller {

std::optional<double> MetricValue(const nas::v1::TrialMetrics& m,
                                  absl::string_view metric) {
  if (metric == "val_accuracy") return m.val_accuracy();
  if (metric == "val_loss") return m.val_loss();
  if (metric == "test_accuracy") return m.test_accuracy();
  if (metric == "test_loss") return m.test_loss();
  if (metric == "params") return static_cast<double>(m.params());
  if (metric == "flops") return static_cast<double>(m.flops());
  if (metric == "latency_ms") return m.latency_ms();
  if (metric == "train_seconds") return m.train_seconds();
  return std::nullopt;
}

std::optional<double> OrientedScore(const nas::v1::SearchSpec& spec,
                                    const nas::v1::TrialMetrics& metrics) {
  if (spec.objectives().empty()) return std::nullopt;
  const nas::v1::Objective& objective = spec.objectives(0);
  std::optional<double> value = MetricValue(metrics, objective.metric());
  if (!value) return std::nullopt;
  return objective.direction() == nas::v1::DIRECTION_MINIMIZE ? -*value
                                                              : *value;
}

}  // namespace nas::controller
