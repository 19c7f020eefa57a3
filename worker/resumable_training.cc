#include "worker/resumable_training.h"

#include <string>
#include <utility>

#include "common/tensor/tensor_archive.h"
#include "spdlog/spdlog.h"
#include "worker/torch_failure.h"

namespace nas::worker {

train::TrainOptions TrainOptionsOf(const nas::v1::TrainingBudget& budget,
                                   const nas::v1::TrialAssignment& a,
                                   const std::string& device,
                                   int num_threads) {
  train::TrainOptions o;
  o.epochs = budget.epochs();
  o.data_fraction = budget.data_fraction();
  o.batch_size = budget.batch_size();
  o.learning_rate = budget.learning_rate();
  o.validation_fraction = a.dataset().validation_fraction();
  o.seed = a.seed();
  o.device = device;
  o.num_threads = num_threads;
  return o;
}

absl::StatusOr<train::TrainResult> TrainResumably(
    const nas::v1::TrialAssignment& a, const space::NetworkSpec& network,
    const train::Dataset& data, train::TrainOptions options,
    TrialStateStore* states, const ProgressFn& on_epoch) {
  tensor::TensorMap resume_state;
  if (states != nullptr && a.resume()) {
    absl::StatusOr<std::string> bytes = states->LoadTrialState(a);
    std::string error;
    if (!bytes.ok()) {
      spdlog::warn("trial {}: saved state not loaded ({}); training from the "
                   "start",
                   a.trial_id(), bytes.status().ToString());
    } else if (!tensor::Parse(*bytes, &resume_state, &error)) {
      spdlog::warn("trial {}: saved state unreadable ({}); training from the "
                   "start",
                   a.trial_id(), error);
      resume_state.clear();
    } else {
      options.resume_from = &resume_state;
    }
  }
  if (states != nullptr && a.checkpoint_epochs_size() > 0) {
    options.checkpoint_epochs.assign(a.checkpoint_epochs().begin(),
                                     a.checkpoint_epochs().end());
    options.on_checkpoint = [&a, states](const tensor::TensorMap& state) {
      absl::Status saved = states->SaveTrialState(a, tensor::Serialize(state));
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
    if (!on_epoch) return true;
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
  if (!train::TrainAndEvaluate(network, data, options, forward_epoch, &result,
                               &error)) {
    if (options.resume_from == nullptr) {
      return TorchFailure("training failed", error);
    }
    // A state that does not fit (another budget or network): start over.
    spdlog::warn("trial {}: resuming failed ({}); training from the start",
                 a.trial_id(), error);
    options.resume_from = nullptr;
    if (!train::TrainAndEvaluate(network, data, options, forward_epoch,
                                 &result, &error)) {
      return TorchFailure("training failed", error);
    }
  }
  if (result.resumed_after > 0) {
    spdlog::info("trial {}: resumed after epoch {}", a.trial_id(),
                 result.resumed_after);
  }
  return result;
}

}  // namespace nas::worker
