#include "worker/torch_estimator.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
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

// The training error of TrainAndEvaluate, with the fault made explicit: a
// device that ran out of memory or lost CUDA is the worker's problem.
absl::Status TrainingError(const std::string& error) {
  const std::string message = absl::StrCat("training failed: ", error);
  const std::string lower = absl::AsciiStrToLower(error);
  if (absl::StrContains(lower, "out of memory") ||
      absl::StrContains(lower, "bad_alloc")) {
    return absl::ResourceExhaustedError(message);
  }
  if (absl::StrContains(lower, "cuda") || absl::StrContains(lower, "cudnn")) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

}  // namespace

nas::v1::Capabilities TorchEstimator::Capabilities() const {
  nas::v1::Capabilities caps;
  caps.set_estimator("torch");
  std::vector<nas::v1::DatasetName> present;
  for (nas::v1::DatasetName name :
       {nas::v1::DATASET_NAME_FASHION_MNIST, nas::v1::DATASET_NAME_MNIST,
        nas::v1::DATASET_NAME_CIFAR10}) {
    absl::StatusOr<std::string> folder = DatasetFolderName(name);
    std::error_code error;
    if (folder.ok() &&
        std::filesystem::is_directory(
            absl::StrCat(options_.data_dir, "/", *folder), error)) {
      present.push_back(name);
    }
  }
  // No data at all: declare nothing rather than "any data set".
  if (present.empty()) return caps;
  for (nas::v1::SpaceKind space :
       {nas::v1::SPACE_KIND_NB201, nas::v1::SPACE_KIND_CHAIN}) {
    nas::v1::Capability* c = caps.add_can_run();
    c->set_space(space);
    for (nas::v1::DatasetName name : present) c->add_datasets(name);
  }
  return caps;
}

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
    return TrainingError(error);
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
