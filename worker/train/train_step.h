// Internal to worker/train (includes Torch): one SGD step of stand-alone
// training, with the speed-ups a GPU needs to be kept busy by a small
// network. The step is what trainer.cc does per batch (normalise, forward,
// cross-entropy, backward, Nesterov SGD with weight decay); each option
// changes how it runs, not what it computes (up to float rounding, and
// bf16's own rounding when that is on).
//
// Why these: a NAS-Bench-201 network at batch 256 does ~1,500 small kernels
// per step. Eager launching costs more CPU time than the GPU spends on them,
// so the GPU idles (bench/training/README.md has the measurements).
#ifndef NAS_WORKER_TRAIN_TRAIN_STEP_H_
#define NAS_WORKER_TRAIN_TRAIN_STEP_H_

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "worker/train/cuda_tools.h"
#include "worker/train/dataset.h"
#include "worker/train/model_builder.h"
#include "worker/train/train_state.h"

namespace nas::train {

struct StepOptions {
  // Every parameter a view into one flat buffer, every gradient into
  // another: the optimizer is 5 kernels over all parameters instead of 5 per
  // parameter, and zeroing the gradients is one. The momentum buffer is
  // zero-initialised, which gives NesterovSgd's first step exactly.
  // false: NesterovSgd, as trainer.cc does.
  bool flat_sgd = true;
  // Weights and inputs in NHWC: cuDNN's fast convolution kernels (and the
  // tensor cores under bf16) want channels last.
  bool channels_last = false;
  // bf16 autocast of the forward pass (convolutions and the classifier in
  // bf16, batch norm and the loss in float32); weights, gradients and the
  // optimizer stay float32.
  bool bf16_autocast = false;
  // cuDNN picks the fastest algorithm per shape (by timing them once). A
  // process-wide switch: on CUDA, each Create sets it to this value.
  bool cudnn_benchmark = false;
  // The whole step (gather, normalise, forward, backward, optimizer)
  // captured once as a CUDA graph and replayed: one launch per step. CUDA
  // only; every batch must then have the same size. Needs flat_sgd (the
  // learning rate is a device tensor the replay reads).
  bool cuda_graph = false;
};

class TrainStep {
 public:
  // Takes over `model` (moved to the images' device; with flat_sgd its
  // parameters become views into the flat buffer). `images` uint8
  // [N, C, H, W] and `labels` int64 [N] must be on one device and stay
  // alive; `data` normalises batches. Returns nullptr and sets *error on an
  // option the device cannot run (a graph or bf16 off CUDA, a graph without
  // flat_sgd) or a failed capture.
  static std::unique_ptr<TrainStep> Create(
      Network model, const Dataset& data, torch::Tensor images,
      torch::Tensor labels, int64_t batch_size, double momentum,
      double weight_decay, const StepOptions& options, std::string* error);

  // One step on the images at `indices` (int64 [n] on the device) with
  // learning rate `lr`. Returns the batch's mean loss as a float32 device
  // scalar, without waiting for the device. With cuda_graph, a batch of
  // batch_size images replays the graph (and the returned tensor is
  // overwritten by the next step: copy it to keep it); another size (an
  // epoch's last, partial batch) runs eagerly.
  torch::Tensor Run(const torch::Tensor& indices, double lr);

  Network& model() { return model_; }
  // The momentum buffers, parallel to model()->parameters(), for
  // SaveTrainState and LoadTrainState. With flat_sgd, views into the flat
  // buffer (always defined, zero before the first step); else
  // NesterovSgd's (undefined before a parameter's first step).
  std::vector<torch::Tensor>& momentum() {
    return sgd_ ? sgd_->buffers() : momentum_views_;
  }

 private:
  TrainStep(Network model, const Dataset& data, torch::Tensor images,
            torch::Tensor labels, double momentum, double weight_decay,
            const StepOptions& options);
  void FlattenParameters();
  torch::Tensor Body(const torch::Tensor& indices);
  void Optimize();
  // What a step changes besides the gradients (flat weights, momentum,
  // batch-norm buffers), and copies of it. REQUIRES: flat_sgd.
  std::vector<torch::Tensor> State();
  std::vector<torch::Tensor> StateCopy();
  void RestoreState(const std::vector<torch::Tensor>& copy);

  Network model_;
  const Dataset& data_;
  torch::Tensor images_, labels_;
  const double momentum_, weight_decay_;
  const StepOptions options_;
  std::optional<NesterovSgd> sgd_;  // without flat_sgd
  torch::Tensor flat_params_, flat_grads_, flat_momentum_;
  std::vector<torch::Tensor> momentum_views_;
  torch::Tensor neg_lr_;  // -lr, float32 device scalar (read by the graph)
  // The graph's static input and output.
  torch::Tensor graph_indices_, graph_loss_;
  CudaGraph graph_;
};

// Turns on bf16 autocast for `device_type` while alive (nested scopes are
// fine); cast caching off, since a cached cast would outlive a CUDA graph's
// capture. Does nothing when `enabled` is false.
class Bf16Autocast {
 public:
  Bf16Autocast(bool enabled, c10::DeviceType device_type);
  ~Bf16Autocast();
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  const bool enabled_;
  const c10::DeviceType device_type_;
  bool was_enabled_ = false;
  bool cache_was_enabled_ = false;
};

// The images at `indices`, normalised by `data` (float32), in channels-last
// format when asked: a step's and an evaluation's input.
torch::Tensor NormalizedBatch(const Dataset& data, const torch::Tensor& images,
                              const torch::Tensor& indices, bool channels_last);

// Puts every 4-dimensional parameter and buffer of `model` in channels-last
// memory format (values unchanged).
void ToChannelsLast(torch::nn::Module& model);

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_TRAIN_STEP_H_
