#include "common/space/datasets.h"

namespace nas::space {

const DatasetInfo* FindDataset(std::string_view name) {
  // Means and standard deviations are the usual ones, computed over each
  // data set's training split.
  static const auto* const kDatasets = new std::vector<DatasetInfo>{
      {"fashion_mnist",
       {1, 28, 28, 10},
       {0.2860f},
       {0.3530f},
       {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
        "Shirt", "Sneaker", "Bag", "Ankle boot"}},
      {"mnist",
       {1, 28, 28, 10},
       {0.1307f},
       {0.3081f},
       {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}},
      {"cifar10",
       {3, 32, 32, 10},
       {0.4914f, 0.4822f, 0.4465f},
       {0.2470f, 0.2435f, 0.2616f},
       {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
        "ship", "truck"}},
  };
  for (const DatasetInfo& info : *kDatasets) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

}  // namespace nas::space
