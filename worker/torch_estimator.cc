#include "worker/torch_estimator.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/spec/space_from_proto.h"
#include "common/tensor/tensor_archive.h"
#include "spdlog/spdlog.h"
#include "worker/torch_failure.h"

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
  train::TrainOptions train_options;
  train_options.epochs = a.budget().epochs();
  train_options.data_fraction = a.budget().data_fraction();
  train_options.batch_size = a.budget().batch_size();
  train_options.learning_rate = a.budget().learning_rate();
  train_options.validation_fraction = a.dataset().validation_fraction();
  train_options.seed = a.seed();
  train_options.device = options_.device;
  train_options.num_threads = options_.num_threads;
  const bool retrain = a.kind() == nas::v1::TRIAL_KIND_RETRAIN;
  train_options.keep_weights = retrain;

  // Early stopping: save the state at each rung, and go on from the last
  // one an earlier attempt saved.
  tensor::TensorMap resume_state;
  if (states_ != nullptr && a.resume()) {
    absl::StatusOr<std::string> bytes = states_->LoadTrialState(a);
    std::string error;
    if (!bytes.ok()) {
      // Training again from the start is slower, never wrong.
      spdlog::warn("trial {}: saved state not loaded ({}); training from the "
                   "start",
                   a.trial_id(), bytes.status().ToString());
    } else if (!tensor::Parse(*bytes, &resume_state, &error)) {
      spdlog::warn("trial {}: saved state unreadable ({}); training from the "
                   "start",
                   a.trial_id(), error);
      resume_state.clear();
    } else {
      train_options.resume_from = &resume_state;
    }
  }
  if (states_ != nullptr && a.checkpoint_epochs_size() > 0) {
    train_options.checkpoint_epochs.assign(a.checkpoint_epochs().begin(),
                                           a.checkpoint_epochs().end());
    train_options.on_checkpoint = [&](const tensor::TensorMap& state) {
      absl::Status saved = states_->SaveTrialState(a, tensor::Serialize(state));
      if (saved.code() == absl::StatusCode::kFailedPrecondition ||
          saved.code() == absl::StatusCode::kNotFound) {
        spdlog::warn("trial {}: state refused, lease lost ({}); stopping",
                     a.trial_id(), saved.ToString());
        return false;
      }
      if (!saved.ok()) {
        // A later attempt would go on from an earlier rung, or start over.
        spdlog::warn("trial {}: training state not saved: {}", a.trial_id(),
                     saved.ToString());
      }
      return true;
    };
  }

  auto forward_epoch = [&](const train::EpochResult& r) {
    nas::v1::EpochMetrics m;
    m.set_epoch(r.epoch);
    m.set_train_loss(r.train_loss);
    m.set_val_loss(r.val_loss);
    m.set_val_accuracy(r.val_accuracy);
    m.set_seconds(r.seconds);
    return on_epoch(m);
  };
  train::TrainResult result;
  std::string error;
  if (!train::TrainAndEvaluate(network, data, train_options, forward_epoch,
                               &result, &error) &&
      train_options.resume_from != nullptr) {
    // A state that does not fit (another budget or network): start over.
    spdlog::warn("trial {}: resuming failed ({}); training from the start",
                 a.trial_id(), error);
    train_options.resume_from = nullptr;
    if (!train::TrainAndEvaluate(network, data, train_options, forward_epoch,
                                 &result, &error)) {
      return TorchFailure("training failed", error);
    }
  } else if (!error.empty()) {
    return TorchFailure("training failed", error);
  }
  if (result.resumed_after > 0) {
    spdlog::info("trial {}: resumed after epoch {}", a.trial_id(),
                 result.resumed_after);
  }
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
  if (retrain && !result.stopped) {
    evaluation.upload = tensor::Serialize(result.weights);
  }
  return evaluation;
}

}  // namespace nas::worker
