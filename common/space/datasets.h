// What the service knows about each data set it trains on, without reading
// it: image shape, the per-channel pixel statistics inputs are normalised
// with, and class names. The worker's loader normalises with these, and an
// exported model carries them, so a model is fed exactly as it was trained.
#ifndef NAS_COMMON_SPACE_DATASETS_H_
#define NAS_COMMON_SPACE_DATASETS_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/space/network_spec.h"

namespace nas::space {

struct DatasetInfo {
  std::string name;  // as in specs: fashion_mnist, mnist, cifar10
  InputShape shape;
  // Of the training images' pixels scaled to [0, 1], one per channel: the
  // network sees (pixel / 255 - mean) / std.
  std::vector<float> mean;
  std::vector<float> std;
  std::vector<std::string> class_names;  // in label order
};

// nullptr for a name the service does not know.
const DatasetInfo* FindDataset(std::string_view name);

}  // namespace nas::space

#endif  // NAS_COMMON_SPACE_DATASETS_H_
