#include "common/spec/objective.h"

namespace nas::spec {

std::optional<double> MetricValue(const nas::v1::TrialMetrics& m,
                                  absl::string_view metric) {
  // An unmeasured metric has no value: a trial is not scored by, nor
  // meets a constraint on, something nobody measured.
  if (metric == "val_accuracy" && m.has_val_accuracy()) return m.val_accuracy();
  if (metric == "val_loss" && m.has_val_loss()) return m.val_loss();
  if (metric == "test_accuracy" && m.has_test_accuracy()) {
    return m.test_accuracy();
  }
  if (metric == "test_loss" && m.has_test_loss()) return m.test_loss();
  if (metric == "params" && m.has_params()) {
    return static_cast<double>(m.params());
  }
  if (metric == "flops" && m.has_flops()) return static_cast<double>(m.flops());
  if (metric == "latency_ms" && m.has_latency_ms()) return m.latency_ms();
  if (metric == "train_seconds" && m.has_train_seconds()) {
    return m.train_seconds();
  }
  return std::nullopt;
}

std::optional<double> OrientedValue(const nas::v1::Objective& objective,
                                    const nas::v1::TrialMetrics& metrics) {
  std::optional<double> value = MetricValue(metrics, objective.metric());
  if (!value) return std::nullopt;
  return objective.direction() == nas::v1::DIRECTION_MINIMIZE ? -*value
                                                              : *value;
}

std::optional<double> OrientedScore(const nas::v1::SearchSpec& spec,
                                    const nas::v1::TrialMetrics& metrics) {
  if (spec.objectives().empty()) return std::nullopt;
  return OrientedValue(spec.objectives(0), metrics);
}

std::vector<double> OrientedObjectives(const nas::v1::SearchSpec& spec,
                                       const nas::v1::TrialMetrics& metrics) {
  std::vector<double> values;
  for (const nas::v1::Objective& objective : spec.objectives()) {
    std::optional<double> value = OrientedValue(objective, metrics);
    if (!value) return {};
    values.push_back(*value);
  }
  return values;
}

bool MeetsConstraints(const nas::v1::SearchSpec& spec,
                      const nas::v1::TrialMetrics& metrics) {
  for (const nas::v1::Constraint& constraint : spec.constraints()) {
    std::optional<double> value = MetricValue(metrics, constraint.metric());
    if (!value) return false;
    switch (constraint.op()) {
      case nas::v1::COMPARISON_LESS_EQUAL:
        if (!(*value <= constraint.bound())) return false;
        break;
      case nas::v1::COMPARISON_GREATER_EQUAL:
        if (!(*value >= constraint.bound())) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

}  // namespace nas::spec
