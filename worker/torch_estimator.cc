#include "worker/torch_estimator.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/spec/space_from_proto.h"

namespace nas::worker {
namespace {

absl::StatusOr<std::string> DatasetFolderName(nas::v1::DatasetName name) {
  switch (name) {
    case nas::v1::DATASET_NAME_FASHION_MNIST:
      return std::string("fashion_mnist");
    case nas::v1::DATASET_NAME_MNIST:
      return std::string("mnist");
    case nas::v1::DATASET_NAME_CIFAR10:
      return std::string("cifar10");
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("dataset.name: unsupported data set ", name));
  }
}

}  // namespace

TorchEstimator::TorchEstimator(TorchEstimatorOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<std::shared_ptr<const train::Dataset>>
TorchEstimator::LoadDataset(nas::v1::DatasetName name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = datasets_.find(name);
  if (it != datasets_.end()) return it->second;
  absl::StatusOr<std::string> folder = DatasetFolderName(name);
  if (!folder.ok()) return folder.status();
  std::string error;
  std::shared_ptr<const train::Dataset> data = train::LoadDataset(
      *folder, absl::StrCat(options_.data_dir, "/", *folder), &error);
  if (!data) return absl::FailedPreconditionError(error);
  datasets_.emplace(name, data);
  return data;
}

absl::StatusOr<Evaluation> TorchEstimator::Evaluate(
    const nas::v1::TrialAssignment& a, const ProgressFn& on_epoch) {
  absl::StatusOr<std::unique_ptr<space::SearchSpace>> space =
      spec::MakeSearchSpace(a.space());
  if (!space.ok()) return space.status();
  std::vector<int> choices(a.architecture().choices().begin(),
                           a.architecture().choices().end());
  if (std::string error = (*space)->Validate(choices); !error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("architecture: ", error));
  }
  absl::StatusOr<std::shared_ptr<const train::Dataset>> data =
      LoadDataset(a.dataset().name());
  if (!data.ok()) return data.status();

  const space::NetworkSpec network =
      (*space)->Network(choices, train::DatasetShape(**data));
  train::TrainOptions train_options;
  train_options.epochs = a.budget().epochs();
  train_options.data_fraction = a.budget().data_fraction();
  train_options.batch_size = a.budget().batch_size();
  train_options.learning_rate = a.budget().learning_rate();
  train_options.validation_fraction = a.dataset().validation_fraction();
  train_options.seed = a.seed();
  train_options.device = options_.device;
  train_options.num_threads = options_.num_threads;

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
  if (!train::TrainAndEvaluate(network, **data, train_options, forward_epoch,
                               &result, &error)) {
    return absl::InternalError(absl::StrCat("training failed: ", error));
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
  return evaluation;
}

}  // namespace nas::worker
