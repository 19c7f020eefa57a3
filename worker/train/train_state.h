// Internal to worker/train (includes Torch): the optimizer of stand-alone
// training and the state a run saves so that another process can go on
// from it exactly (early stopping's rung checkpoints, trainer.h).
#ifndef NAS_WORKER_TRAIN_TRAIN_STATE_H_
#define NAS_WORKER_TRAIN_TRAIN_STATE_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "common/tensor/tensor_archive.h"

namespace nas::train {

// `t` as float32 values on the host (the archive's tensor type).
tensor::Tensor ToPlain(const torch::Tensor& t);

// True for a batch-norm step counter ("...num_batches_tracked"): a buffer
// that weight archives leave out (it is not a weight, and the plain archive
// holds floats only).
bool IsStepCounter(const std::string& name);

// SGD with Nesterov momentum and weight decay, step for step what
// torch::optim::SGD computes (d = g + wd p; b = m b + d, b = d on the first
// step; p -= lr (d + m b)), with its momentum buffers in the open so that
// they can be saved and restored by parameter name, the same way on every
// LibTorch version.
class NesterovSgd {
 public:
  NesterovSgd(std::vector<torch::Tensor> params, double momentum,
              double weight_decay);
  // Zeroes the gradients that exist (not set to none, so that a parameter
  // unused in one step is treated the same on every LibTorch version).
  void ZeroGrad();
  void Step(double lr);

  // Parallel to the constructor's params; undefined until the first step
  // that saw a gradient.
  std::vector<torch::Tensor>& buffers() { return buffers_; }

 private:
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> buffers_;
  const double momentum_;
  const double weight_decay_;
};

// Everything needed to go on after `epoch` of `epochs`: "model/<name>" for
// every parameter and buffer, "momentum/<name>" for every parameter with a
// (defined) momentum buffer, and the scalars "trainer/epoch",
// "trainer/epochs" and "trainer/train_seconds". `momentum` is parallel to
// model.named_parameters() (NesterovSgd::buffers(), TrainStep::momentum()).
tensor::TensorMap SaveTrainState(torch::nn::Module& model,
                                 const std::vector<torch::Tensor>& momentum,
                                 int epoch, int epochs, double train_seconds);

// Loads a state made by SaveTrainState for the same network and budget:
// weights in place, a saved momentum into its defined buffer in place (a
// view into a flat buffer stays one) or into a new one. A buffer the state
// lacks is left as it is: undefined, or zero, which steps the same. False,
// with *error saying what does not match, when it was not.
bool LoadTrainState(const tensor::TensorMap& state, torch::nn::Module& model,
                    std::vector<torch::Tensor>& momentum, int epochs,
                    int* epoch, double* train_seconds, std::string* error);

// Loads `weights` (every parameter and buffer of `model` by name, step
// counters excepted, as ExtractSubnet and TrainResult::weights give them)
// into `model`. False, with *error naming the tensor, when one is missing,
// has another shape, or is not part of the model.
bool LoadWeights(const tensor::TensorMap& weights, torch::nn::Module& model,
                 std::string* error);

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_TRAIN_STATE_H_
