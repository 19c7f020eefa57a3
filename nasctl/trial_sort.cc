#include "nasctl/trial_sort.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace nas::cli {
namespace {

// Empty for a metric the trial's estimator did not measure.
using MetricGetter =
    std::function<std::optional<double>(const nas::v1::TrialMetrics&)>;

struct SortKey {
  MetricGetter value;
  bool higher_is_better;
};

template <typename Has, typename Get>
MetricGetter Getter(Has has, Get get) {
  return [has, get](const nas::v1::TrialMetrics& m) -> std::optional<double> {
    if (!(m.*has)()) return std::nullopt;
    return static_cast<double>((m.*get)());
  };
}

// Every sortable metric, so that --help, the parser and the error message
// list the same names.
const std::map<std::string, SortKey>& Metrics() {
  using M = nas::v1::TrialMetrics;
  static const auto* metrics = new std::map<std::string, SortKey>{
      {"val_accuracy", {Getter(&M::has_val_accuracy, &M::val_accuracy), true}},
      {"test_accuracy",
       {Getter(&M::has_test_accuracy, &M::test_accuracy), true}},
      {"val_loss", {Getter(&M::has_val_loss, &M::val_loss), false}},
      {"test_loss", {Getter(&M::has_test_loss, &M::test_loss), false}},
      {"params", {Getter(&M::has_params, &M::params), false}},
      {"flops", {Getter(&M::has_flops, &M::flops), false}},
      {"latency_ms", {Getter(&M::has_latency_ms, &M::latency_ms), false}},
      {"train_seconds",
       {Getter(&M::has_train_seconds, &M::train_seconds), false}},
  };
  return *metrics;
}

}  // namespace

absl::StatusOr<TrialOrder> ParseTrialOrder(absl::string_view text) {
  TrialOrder order;
  absl::string_view key = text;
  std::optional<bool> descending;
  if (size_t colon = text.find(':'); colon != absl::string_view::npos) {
    key = text.substr(0, colon);
    absl::string_view direction = text.substr(colon + 1);
    if (direction == "asc") {
      descending = false;
    } else if (direction == "desc") {
      descending = true;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--sort: expected KEY, KEY:asc or KEY:desc, got \"", text, "\""));
    }
  }
  order.key = std::string(key);
  if (key == "number") {
    order.descending = descending.value_or(false);
    return order;
  }
  auto it = Metrics().find(order.key);
  if (it == Metrics().end()) {
    std::vector<std::string> keys = {"number"};
    for (const auto& [name, unused] : Metrics()) keys.push_back(name);
    return absl::InvalidArgumentError(absl::StrCat("--sort: unknown key \"",
                                                   key, "\"; expected one of ",
                                                   absl::StrJoin(keys, ", "),
                                                   ", optionally with :asc or "
                                                   ":desc"));
  }
  order.descending = descending.value_or(it->second.higher_is_better);
  return order;
}

void SortTrials(const TrialOrder& order, std::vector<nas::v1::Trial>* trials) {
  auto by_number = [&](const nas::v1::Trial& a, const nas::v1::Trial& b) {
    return order.key == "number" && order.descending ? a.number() > b.number()
                                                     : a.number() < b.number();
  };
  auto it = Metrics().find(order.key);
  if (it == Metrics().end()) {
    std::stable_sort(trials->begin(), trials->end(), by_number);
    return;
  }
  const MetricGetter& value = it->second.value;
  std::stable_sort(
      trials->begin(), trials->end(),
      [&](const nas::v1::Trial& a, const nas::v1::Trial& b) {
        const bool a_done = a.state() == nas::v1::TRIAL_STATE_COMPLETED;
        const bool b_done = b.state() == nas::v1::TRIAL_STATE_COMPLETED;
        if (a_done != b_done) return a_done;
        if (!a_done) return by_number(a, b);
        // Trials without the metric go last, as unfinished ones do.
        const std::optional<double> va = value(a.metrics());
        const std::optional<double> vb = value(b.metrics());
        if (va.has_value() != vb.has_value()) return va.has_value();
        if (va && *va != *vb) return order.descending ? *va > *vb : *va < *vb;
        return by_number(a, b);
      });
}

}  // namespace nas::cli
