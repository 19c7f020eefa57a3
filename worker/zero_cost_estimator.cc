#include "worker/zero_cost_estimator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/spec/space_from_proto.h"
#include "worker/torch_failure.h"
#include "worker/train/trainer.h"
#include "worker/train/zero_cost.h"

namespace nas::worker {

ZeroCostEstimator::ZeroCostEstimator(ZeroCostEstimatorOptions options,
                                     std::shared_ptr<DatasetCache> datasets)
    : options_(std::move(options)), datasets_(std::move(datasets)) {}

nas::v1::Capabilities ZeroCostEstimator::Capabilities() const {
  nas::v1::Capabilities caps = datasets_->Capabilities("zero_cost");
  for (nas::v1::Capability& c : *caps.mutable_can_run()) {
    c.add_kinds(nas::v1::TRIAL_KIND_ZERO_COST);
  }
  return caps;
}

absl::StatusOr<Evaluation> ZeroCostEstimator::Evaluate(
    const nas::v1::TrialAssignment& a, const ProgressFn&) {
  if (a.kind() != nas::v1::TRIAL_KIND_ZERO_COST) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the zero-cost estimator runs ZERO_COST trials, not ",
        nas::v1::TrialKind_Name(a.kind())));
  }
  absl::StatusOr<Candidate> candidate = CandidateOf(a, *datasets_);
  if (!candidate.ok()) return candidate.status();
  const space::NetworkSpec& network = candidate->network;
  const train::Dataset& data = *candidate->data;

  const auto start = std::chrono::steady_clock::now();
  const std::string& proxy = a.zero_cost().score();
  train::ZeroCostOptions options;
  options.seed = a.seed();
  options.device = options_.device;
  options.num_threads = options_.num_threads;
  double score = 0;
  std::string error;
  bool ok = true;
  if (proxy == "synflow" || proxy.empty()) {
    ok = train::SynflowScore(network, options, &score, &error);
    // Positive by construction; its logarithm keeps the ranking and fits
    // in a double, where the raw value may not.
    if (ok) score = std::log(score);
  } else if (proxy == "naswot" || proxy == "grad_norm") {
    train::ZeroCostBatch batch;
    ok = train::TrainingBatch(data, std::max(2, a.zero_cost().batch_size()),
                              a.dataset().validation_fraction(), a.seed(),
                              &batch, &error);
    if (ok && proxy == "naswot") {
      ok = train::NaswotScore(network, batch, options, &score, &error);
    } else if (ok) {
      ok = train::GradNormScore(network, batch, options, &score, &error);
    }
  } else if (proxy == "params") {
    score = static_cast<double>(train::CountParameters(network));
  } else if (proxy == "flops") {
    score = static_cast<double>(train::CountFlops(network));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("zero_cost.score: unknown proxy \"", proxy, "\""));
  }
  if (!ok) return TorchFailure(absl::StrCat(proxy, " failed"), error);
  if (!std::isfinite(score)) {
    return absl::InvalidArgumentError(absl::StrCat(
        proxy, " gave no finite score (", score,
        ") for this network: it cannot be ranked"));
  }
  Evaluation evaluation;
  nas::v1::TrialMetrics& m = evaluation.metrics;
  m.set_zero_cost_score(score);
  m.set_params(train::CountParameters(network));
  m.set_flops(train::CountFlops(network));
  m.set_train_seconds(std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - start)
                          .count());
  return evaluation;
}

}  // namespace nas::worker
