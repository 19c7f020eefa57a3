#include "worker/torch_estimator.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/spec/space_from_proto.h"
#include "common/tensor/tensor_archive.h"
#include "worker/resumable_training.h"

namespace nas::worker {

nas::v1::Capabilities TorchEstimator::Capabilities() const {
  return datasets_->Capabilities("torch");
}

TorchEstimator::TorchEstimator(TorchEstimatorOptions options)
    : TorchEstimator(options,
                     std::make_shared<DatasetCache>(options.data_dir)) {}

TorchEstimator::TorchEstimator(TorchEstimatorOptions options,
                               std::shared_ptr<DatasetCache> datasets,
                               TrialStateStore* states)
    : options_(std::move(options)),
      datasets_(std::move(datasets)),
      states_(states) {}

absl::StatusOr<Evaluation> TorchEstimator::Evaluate(
    const nas::v1::TrialAssignment& a, const ProgressFn& on_epoch) {
  absl::StatusOr<Candidate> candidate = CandidateOf(a, *datasets_);
  if (!candidate.ok()) return candidate.status();
  const space::NetworkSpec& network = candidate->network;
  const train::Dataset& data = *candidate->data;
  train::TrainOptions train_options = TrainOptionsOf(
      a.budget(), a, options_.device, options_.num_threads);
  // Every stand-alone trained network's weights are kept (RETRAIN's and
  // TRAIN's alike), so that any ranked trial can be exported.
  train_options.keep_weights = true;
  train_options.fast_cuda_step = options_.fast_cuda_step;

  absl::StatusOr<train::TrainResult> trained =
      TrainResumably(a, network, data, train_options, states_, on_epoch);
  if (!trained.ok()) return trained.status();
  const train::TrainResult& result = *trained;
  Evaluation evaluation;
  evaluation.stopped = result.stopped;
  nas::v1::TrialMetrics& m = evaluation.metrics;
  m.set_val_accuracy(result.val_accuracy);
  m.set_val_loss(result.val_loss);
  m.set_test_accuracy(result.test_accuracy);
  m.set_test_loss(result.test_loss);
  m.set_params(result.params);
  m.set_flops(result.flops);
  m.set_latency_ms(result.latency_ms);
  m.set_train_seconds(result.train_seconds);
  if (!result.stopped) evaluation.upload = tensor::Serialize(result.weights);
  return evaluation;
}

}  // namespace nas::worker
