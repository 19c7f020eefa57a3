#include "worker/dataset_cache.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/spec/dataset_names.h"
#include "common/spec/space_from_proto.h"

namespace nas::worker {
namespace {

absl::StatusOr<std::string> DatasetFolderName(nas::v1::DatasetName name) {
  std::string folder = spec::DatasetText(name);
  if (folder.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset.name: unsupported data set ", name));
  }
  return folder;
}

}  // namespace

DatasetCache::DatasetCache(std::string data_dir)
    : data_dir_(std::move(data_dir)) {}

absl::StatusOr<std::shared_ptr<const train::Dataset>> DatasetCache::Load(
    nas::v1::DatasetName name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = datasets_.find(name);
  if (it != datasets_.end()) return it->second;
  absl::StatusOr<std::string> folder = DatasetFolderName(name);
  if (!folder.ok()) return folder.status();
  std::string error;
  std::shared_ptr<const train::Dataset> data = train::LoadDataset(
      *folder, absl::StrCat(data_dir_, "/", *folder), &error);
  if (!data) return absl::FailedPreconditionError(error);
  datasets_.emplace(name, data);
  return data;
}

nas::v1::Capabilities DatasetCache::Capabilities(
    const std::string& estimator) const {
  nas::v1::Capabilities caps;
  caps.set_estimator(estimator);
  std::vector<nas::v1::DatasetName> present;
  for (nas::v1::DatasetName name :
       {nas::v1::DATASET_NAME_FASHION_MNIST, nas::v1::DATASET_NAME_MNIST,
        nas::v1::DATASET_NAME_CIFAR10}) {
    absl::StatusOr<std::string> folder = DatasetFolderName(name);
    std::error_code error;
    if (folder.ok() && std::filesystem::is_directory(
                           absl::StrCat(data_dir_, "/", *folder), error)) {
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

absl::StatusOr<Candidate> CandidateOf(const nas::v1::TrialAssignment& a,
                                      DatasetCache& datasets) {
  absl::StatusOr<std::unique_ptr<space::SearchSpace>> space =
      spec::MakeSearchSpace(a.space());
  if (!space.ok()) return space.status();
  std::vector<int> choices(a.architecture().choices().begin(),
                           a.architecture().choices().end());
  if (std::string error = (*space)->Validate(choices); !error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("architecture: ", error));
  }
  absl::StatusOr<std::shared_ptr<const train::Dataset>> data =
      datasets.Load(a.dataset().name());
  if (!data.ok()) return data.status();
  return Candidate{(*space)->Network(choices, train::DatasetShape(**data)),
                   *std::move(data)};
}

}  // namespace nas::worker
