#include "common/spec/dataset_names.h"

#include <array>
#include <utility>

namespace nas::spec {
namespace {

constexpr std::array<std::pair<nas::v1::DatasetName, const char*>, 3>
    kDatasets = {{{nas::v1::DATASET_NAME_FASHION_MNIST, "fashion_mnist"},
                  {nas::v1::DATASET_NAME_MNIST, "mnist"},
                  {nas::v1::DATASET_NAME_CIFAR10, "cifar10"}}};

}  // namespace

std::string DatasetText(nas::v1::DatasetName name) {
  for (const auto& [value, text] : kDatasets) {
    if (value == name) return text;
  }
  return "";
}

nas::v1::DatasetName DatasetFromText(std::string_view text) {
  for (const auto& [value, name] : kDatasets) {
    if (text == name) return value;
  }
  return nas::v1::DATASET_NAME_UNSPECIFIED;
}

}  // namespace nas::spec
