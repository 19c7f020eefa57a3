#include "worker/routing_estimator.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace nas::worker {
namespace {

std::set<int> KindsOf(const nas::v1::Capability& c) {
  return std::set<int>(c.kinds().begin(), c.kinds().end());
}

bool SameTarget(const nas::v1::Capability& a, const nas::v1::Capability& b) {
  return a.space() == b.space() &&
         std::set<int>(a.datasets().begin(), a.datasets().end()) ==
             std::set<int>(b.datasets().begin(), b.datasets().end());
}

}  // namespace

RoutingEstimator::RoutingEstimator(std::vector<EstimatorRoute> routes)
    : routes_(std::move(routes)) {}

absl::StatusOr<Evaluation> RoutingEstimator::Evaluate(
    const nas::v1::TrialAssignment& a, const ProgressFn& on_epoch) {
  if (!nas::v1::TrialKind_IsValid(a.kind())) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown trial kind ", static_cast<int>(a.kind()),
                     " (a controller newer than this worker?)"));
  }
  const nas::v1::TrialKind kind = a.kind() == nas::v1::TRIAL_KIND_UNSPECIFIED
                                      ? nas::v1::TRIAL_KIND_TRAIN
                                      : a.kind();
  for (const EstimatorRoute& route : routes_) {
    if (std::find(route.kinds.begin(), route.kinds.end(), kind) !=
        route.kinds.end()) {
      return route.estimator->Evaluate(a, on_epoch);
    }
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "this worker does not run ", nas::v1::TrialKind_Name(kind), " trials"));
}

nas::v1::Capabilities RoutingEstimator::Capabilities() const {
  nas::v1::Capabilities caps;
  std::vector<std::string> labels;
  for (const EstimatorRoute& route : routes_) {
    nas::v1::Capabilities own = route.estimator->Capabilities();
    if (!own.estimator().empty() &&
        std::find(labels.begin(), labels.end(), own.estimator()) ==
            labels.end()) {
      labels.push_back(own.estimator());
    }
    for (nas::v1::Capability c : own.can_run()) {
      if (c.kinds().empty()) {
        for (nas::v1::TrialKind kind : route.kinds) c.add_kinds(kind);
      }
      auto same = std::find_if(caps.mutable_can_run()->begin(),
                               caps.mutable_can_run()->end(),
                               [&](const nas::v1::Capability& other) {
                                 return SameTarget(c, other);
                               });
      if (same == caps.mutable_can_run()->end()) {
        *caps.add_can_run() = std::move(c);
        continue;
      }
      const std::set<int> have = KindsOf(*same);
      for (int kind : c.kinds()) {
        if (have.count(kind) == 0)
          same->add_kinds(static_cast<nas::v1::TrialKind>(kind));
      }
    }
  }
  const std::set<int> defaults = {nas::v1::TRIAL_KIND_TRAIN,
                                  nas::v1::TRIAL_KIND_RETRAIN};
  for (nas::v1::Capability& c : *caps.mutable_can_run()) {
    if (KindsOf(c) == defaults) c.clear_kinds();
  }
  std::string label;
  for (const std::string& l : labels) {
    label += label.empty() ? l : "+" + l;
  }
  caps.set_estimator(label);
  return caps;
}

}  // namespace nas::worker
