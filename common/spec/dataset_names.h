// The data-set names specs and folders use ("fashion_mnist") for the
// nas.v1.DatasetName values, in one place.
#ifndef NAS_COMMON_SPEC_DATASET_NAMES_H_
#define NAS_COMMON_SPEC_DATASET_NAMES_H_

#include <string>
#include <string_view>

#include "nas/v1/search.pb.h"

namespace nas::spec {

// "fashion_mnist", "mnist", "cifar10"; "" for an unknown value.
std::string DatasetText(nas::v1::DatasetName name);
// The value named `text`; DATASET_NAME_UNSPECIFIED for an unknown name.
nas::v1::DatasetName DatasetFromText(std::string_view text);

}  // namespace nas::spec

#endif  // NAS_COMMON_SPEC_DATASET_NAMES_H_
