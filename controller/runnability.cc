#include "controller/runnability.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "controller/store/capability_tokens.h"

namespace nas::controller {
namespace {

// "chain:DATASET_NAME_MNIST" -> "chain/MNIST"; "nb201:*" -> "nb201".
std::string Readable(const std::string& token) {
  const size_t colon = token.find(':');
  const std::string space = token.substr(0, colon);
  if (colon == std::string::npos) return space;
  absl::string_view dataset = absl::string_view(token).substr(colon + 1);
  if (dataset == "*") return space;
  absl::ConsumePrefix(&dataset, "DATASET_NAME_");
  return absl::StrCat(space, "/", dataset);
}

}  // namespace

std::string UnrunnableReason(const nas::v1::SearchSpec& spec,
                             const std::vector<LiveWorker>& workers) {
  const std::string need = NeedToken(spec);
  // Per estimator label: how many workers and what they run.
  std::map<std::string, std::pair<int, std::set<std::string>>> groups;
  for (const LiveWorker& w : workers) {
    if (!w.capabilities || CanRun(*w.capabilities, need)) return "";
    auto& group = groups[w.estimator.empty() ? "worker" : w.estimator];
    ++group.first;
    for (const std::string& token : *w.capabilities) {
      group.second.insert(Readable(token));
    }
  }
  std::vector<std::string> connected;
  for (const auto& [estimator, group] : groups) {
    connected.push_back(absl::StrCat(
        group.first, " ", estimator, " (",
        group.second.empty() ? "nothing" : absl::StrJoin(group.second, ", "),
        ")"));
  }
  std::string dataset(nas::v1::DatasetName_Name(spec.dataset().name()));
  absl::string_view short_dataset = dataset;
  absl::ConsumePrefix(&short_dataset, "DATASET_NAME_");
  return absl::StrCat(
      kUnrunnablePrefix, ": it needs a worker for the ",
      SpaceToken(spec.space()), " space on ", short_dataset, "; connected: ",
      connected.empty() ? "none" : absl::StrJoin(connected, ", "));
}

int FailureWindow(const nas::v1::SearchBudget& budget) {
  return std::max(1, std::min(budget.max_trials(), kMaxFailureWindow));
}

}  // namespace nas::controller
