// Internal to worker/train (includes Torch): loss and accuracy of a network
// over a set of images, shared by the stand-alone trainer and the supernet.
#ifndef NAS_WORKER_TRAIN_EVALUATE_H_
#define NAS_WORKER_TRAIN_EVALUATE_H_

#include <torch/torch.h>

#include "worker/train/dataset.h"
#include "worker/train/model_builder.h"

namespace nas::train {

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
};

// Mean cross-entropy and accuracy of `model` (put in eval mode) over the
// images selected by `indices` (every image when undefined). `images` and
// `labels` are on the model's device; batches of 1000 without gradients.
Evaluation Evaluate(Network& model, const Dataset& data,
                    const torch::Tensor& images, const torch::Tensor& labels,
                    const torch::Tensor& indices);

// int64 tensor of `indices` on `device`.
torch::Tensor IndexTensor(const std::vector<int64_t>& indices,
                          const torch::Device& device);

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_EVALUATE_H_
