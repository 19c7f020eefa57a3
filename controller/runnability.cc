#include "controller/runnability.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/spec/estimation.h"
#include "common/spec/trial_kinds.h"
#include "controller/store/capability_tokens.h"

namespace nas::controller {
namespace {

using nas::v1::TrialKind;

// "a", "a and b", "a, b and c".
std::string JoinAnd(const std::vector<std::string>& items) {
  if (items.size() <= 1) return absl::StrJoin(items, "");
  return absl::StrCat(absl::StrJoin(items.begin(), items.end() - 1, ", "),
                      " and ", items.back());
}

// "DATASET_NAME_MNIST" -> "MNIST".
std::string ShortDataset(absl::string_view dataset) {
  absl::ConsumePrefix(&dataset, "DATASET_NAME_");
  return std::string(dataset);
}

// One worker group's capabilities: "chain/MNIST" per space and data set
// ("nb201" for any data set), with the kinds in brackets unless they are
// the TRAIN and RETRAIN every worker ran before weight sharing, so those
// read as they always did.
std::string Describe(const std::vector<std::string>& tokens) {
  std::map<std::string, std::set<TrialKind>> kinds_by_target;
  for (const std::string& token : tokens) {
    const std::optional<CapabilityToken> parsed = ParseCapabilityToken(token);
    if (!parsed) continue;
    const std::string target =
        parsed->dataset == "*"
            ? parsed->space
            : absl::StrCat(parsed->space, "/", ShortDataset(parsed->dataset));
    kinds_by_target[target].insert(parsed->kind);
  }
  const std::set<TrialKind> from_scratch = {nas::v1::TRIAL_KIND_TRAIN,
                                            nas::v1::TRIAL_KIND_RETRAIN};
  std::vector<std::string> described;
  for (const auto& [target, kinds] : kinds_by_target) {
    if (kinds == from_scratch) {
      described.push_back(target);
      continue;
    }
    std::vector<std::string> work;
    for (TrialKind kind : kinds) work.push_back(nas::spec::NamesOf(kind).work);
    described.push_back(
        absl::StrCat(target, " [", absl::StrJoin(work, ", "), "]"));
  }
  return described.empty() ? "nothing" : absl::StrJoin(described, ", ");
}

}  // namespace

std::vector<TrialKind> TrialKindsOf(const nas::v1::SearchSpec& spec) {
  if (nas::spec::UsesZeroCost(spec)) {
    return {nas::v1::TRIAL_KIND_ZERO_COST, nas::v1::TRIAL_KIND_RETRAIN};
  }
  if (!nas::spec::UsesWeightSharing(spec)) return {nas::v1::TRIAL_KIND_TRAIN};
  return {nas::v1::TRIAL_KIND_SUPERNET_SHARD,
          nas::v1::TRIAL_KIND_SCORE_INHERITED, nas::v1::TRIAL_KIND_RETRAIN};
}

std::string UnrunnableReason(const nas::v1::SearchSpec& spec,
                             const std::vector<LiveWorker>& workers) {
  std::vector<TrialKind> missing;
  for (TrialKind kind : TrialKindsOf(spec)) {
    const std::string need = NeedToken(spec, kind);
    const bool covered =
        std::any_of(workers.begin(), workers.end(), [&](const LiveWorker& w) {
          return !w.capabilities || CanRun(*w.capabilities, need);
        });
    if (!covered) missing.push_back(kind);
  }
  if (missing.empty()) return "";

  // Per estimator label: how many workers and what they run. Each has
  // declared capabilities: one that declared none would have covered every
  // kind.
  std::map<std::string, std::pair<int, std::vector<std::string>>> groups;
  for (const LiveWorker& w : workers) {
    auto& group = groups[w.estimator.empty() ? "worker" : w.estimator];
    ++group.first;
    group.second.insert(group.second.end(), w.capabilities->begin(),
                        w.capabilities->end());
  }
  std::vector<std::string> connected;
  for (const auto& [estimator, group] : groups) {
    connected.push_back(absl::StrCat(group.first, " ", estimator, " (",
                                     Describe(group.second), ")"));
  }
  // From scratch the kind goes unsaid: the reason reads as it did before
  // there were other kinds.
  std::vector<std::string> work;
  for (TrialKind kind : missing) {
    if (kind != nas::v1::TRIAL_KIND_TRAIN) {
      work.push_back(nas::spec::NamesOf(kind).work);
    }
  }
  const std::string space_and_data = absl::StrCat(
      "the ", SpaceToken(spec.space()), " space on ",
      ShortDataset(nas::v1::DatasetName_Name(spec.dataset().name())));
  return absl::StrCat(
      kUnrunnablePrefix, ": it needs a worker for ",
      work.empty() ? space_and_data
                   : absl::StrCat(JoinAnd(work), " of ", space_and_data),
      "; connected: ",
      connected.empty() ? "none" : absl::StrJoin(connected, ", "));
}

int FailureWindow(const nas::v1::SearchBudget& budget) {
  return std::max(1, std::min(budget.max_trials(), kMaxFailureWindow));
}

}  // namespace nas::controller
