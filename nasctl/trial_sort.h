// `nasctl trials --sort`: the order trials are listed in.
#ifndef NAS_NASCTL_TRIAL_SORT_H_
#define NAS_NASCTL_TRIAL_SORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nas/v1/search.pb.h"

namespace nas::cli {

struct TrialOrder {
  std::string key = "number";  // "number" or a TrialMetrics field
  bool descending = false;
};

// "number" or a metric (val_accuracy, test_accuracy, val_loss, test_loss,
// params, flops, latency_ms, train_seconds), with ":asc" or ":desc" to
// choose the direction. Without one: accuracies best (highest) first, every
// other key lowest first. InvalidArgument naming --sort otherwise.
absl::StatusOr<TrialOrder> ParseTrialOrder(absl::string_view text);

// Stable. By a metric, only COMPLETED trials have values: the others follow
// them, in number order.
void SortTrials(const TrialOrder& order, std::vector<nas::v1::Trial>* trials);

}  // namespace nas::cli

#endif  // NAS_NASCTL_TRIAL_SORT_H_
