// Internal to worker/train (includes Torch): the definition behind the opaque
// nas::train::Dataset of trainer.h.
#ifndef NAS_WORKER_TRAIN_DATASET_H_
#define NAS_WORKER_TRAIN_DATASET_H_

#include <torch/torch.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "common/space/network_spec.h"
#include "worker/train/trainer.h"

namespace nas::train {

class Dataset {
 public:
  // Images are uint8 [N, C, H, W] on the CPU, labels int64 [N] in
  // [0, num_classes). `mean` and `std` (one per channel, for pixels scaled
  // to [0, 1]) normalise batches. REQUIRES: consistent shapes (checked by
  // MakeDataset).
  Dataset(std::string name, space::InputShape shape, std::vector<float> mean,
          std::vector<float> std, torch::Tensor train_images,
          torch::Tensor train_labels, torch::Tensor test_images,
          torch::Tensor test_labels);

  const std::string& name() const { return name_; }
  const space::InputShape& shape() const { return shape_; }
  const torch::Tensor& train_images() const { return train_images_; }
  const torch::Tensor& train_labels() const { return train_labels_; }
  const torch::Tensor& test_images() const { return test_images_; }
  const torch::Tensor& test_labels() const { return test_labels_; }

  // uint8 images (on any device) -> normalised float32 on the same device.
  torch::Tensor Normalize(const torch::Tensor& images) const;

 private:
  std::string name_;
  space::InputShape shape_;
  std::vector<float> mean_, std_;
  torch::Tensor train_images_, train_labels_, test_images_, test_labels_;
};

// Builds a Dataset from tensors already in memory (used by the loaders and
// by tests with synthetic data). Returns nullptr and sets *error when the
// shapes or dtypes do not fit together.
std::shared_ptr<const Dataset> MakeDataset(
    const std::string& name, int num_classes, std::vector<float> mean,
    std::vector<float> std, torch::Tensor train_images,
    torch::Tensor train_labels, torch::Tensor test_images,
    torch::Tensor test_labels, std::string* error);

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_DATASET_H_
