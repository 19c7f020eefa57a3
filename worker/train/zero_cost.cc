#include "worker/train/zero_cost.h"

#include <torch/torch.h>

#include <random>
#include <stdexcept>
#include <utility>

#include "worker/train/bank_paths.h"
#include "worker/train/data_split.h"
#include "worker/train/dataset.h"
#include "worker/train/model_builder.h"
#include "worker/train/trainer.h"

namespace nas::train {
namespace {

namespace nn = torch::nn;

// The network of `spec`, initialized from `o.seed`, on its device. Throws
// when the device cannot be used.
Network Init(const space::NetworkSpec& spec, const ZeroCostOptions& o,
             torch::Device* device) {
  std::string error;
  const std::string name = ResolveDevice(o.device, &error);
  if (name.empty()) throw std::invalid_argument(error);
  *device = torch::Device(name);
  if (o.num_threads > 0) torch::set_num_threads(o.num_threads);
  torch::manual_seed(o.seed);
  Network net = BuildNetwork(spec);
  net->to(*device);
  return net;
}

// Calls fn(weight) for the weight of every convolution and linear layer.
template <typename Fn>
void ForEachWeight(Network& net, Fn&& fn) {
  for (const auto& module : net->modules(/*include_self=*/false)) {
    if (auto* conv = dynamic_cast<nn::Conv2dImpl*>(module.get())) {
      fn(conv->weight);
    } else if (auto* linear = dynamic_cast<nn::LinearImpl*>(module.get())) {
      fn(linear->weight);
    }
  }
}

torch::Tensor Images(const space::NetworkSpec& spec, const ZeroCostBatch& b,
                     const torch::Device& device) {
  const space::InputShape& in = spec.input;
  const int64_t expected =
      b.batch * in.channels * in.height * in.width;
  if (b.batch < 1 || static_cast<int64_t>(b.images.size()) != expected ||
      static_cast<int64_t>(b.labels.size()) != b.batch) {
    throw std::invalid_argument(
        "zero-cost batch: need batch >= 1, batch x C x H x W image values "
        "and one label per image");
  }
  return torch::from_blob(const_cast<float*>(b.images.data()),
                          {b.batch, in.channels, in.height, in.width},
                          torch::kFloat32)
      .to(device);
}

}  // namespace

bool TrainingBatch(const Dataset& data, int64_t batch,
                   double validation_fraction, uint64_t seed,
                   ZeroCostBatch* out, std::string* error) {
  return Guarded(error, "cannot draw a zero-cost batch",
                 [&](std::string* message) {
    DataSplit split;
    if (!SplitTrainValidation(data.train_images().size(0), validation_fraction,
                              &split, message)) {
      return false;
    }
    if (batch < 1 || batch > static_cast<int64_t>(split.train_pool.size())) {
      *message = "batch must be in [1, the training pool's size]";
      return false;
    }
    std::mt19937_64 rng(seed);
    std::vector<int64_t> pool = split.train_pool;
    for (int64_t i = 0; i < batch; ++i) {  // a partial Fisher-Yates draw
      const int64_t j = i + static_cast<int64_t>(rng() % (pool.size() - i));
      std::swap(pool[i], pool[j]);
    }
    pool.resize(batch);
    const torch::Tensor index = torch::tensor(pool, torch::kInt64);
    const torch::Tensor images =
        data.Normalize(data.train_images().index_select(0, index))
            .to(torch::kFloat32)
            .contiguous();
    const torch::Tensor labels =
        data.train_labels().index_select(0, index).to(torch::kInt64);
    out->batch = batch;
    out->images.assign(images.data_ptr<float>(),
                       images.data_ptr<float>() + images.numel());
    out->labels.assign(labels.data_ptr<int64_t>(),
                       labels.data_ptr<int64_t>() + labels.numel());
    return true;
  });
}

bool SynflowScore(const space::NetworkSpec& spec, const ZeroCostOptions& o,
                  double* score, std::string* error) {
  return Guarded(error, "zero-cost score failed", [&](std::string*) {
    torch::Device device(torch::kCPU);
    Network net = Init(spec, o, &device);
    net->to(torch::kFloat64);
    // Eval mode with batch norm made an exact identity: statistics mean 0
    // and var 1 - eps, so that (x - 0) / sqrt(var + eps) * 1 + 0 = x.
    net->eval();
    {
      torch::NoGradGuard no_grad;
      for (const auto& module : net->modules(/*include_self=*/false)) {
        if (auto* bn = dynamic_cast<nn::BatchNorm2dImpl*>(module.get())) {
          bn->running_mean.zero_();
          bn->running_var.fill_(1 - bn->options.eps());
          if (bn->options.affine()) {
            bn->weight.fill_(1);
            bn->bias.zero_();
          }
        }
      }
      for (torch::Tensor& p : net->parameters()) p.abs_();
    }
    const space::InputShape& in = spec.input;
    const torch::Tensor x = torch::ones(
        {1, in.channels, in.height, in.width},
        torch::TensorOptions().dtype(torch::kFloat64).device(device));
    net->zero_grad();
    net->forward(x).sum().backward();
    torch::Tensor total = torch::zeros(
        {}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
    ForEachWeight(net, [&](const torch::Tensor& w) {
      if (w.grad().defined()) total += (w * w.grad()).abs().sum();
    });
    *score = total.item<double>();
    return true;
  });
}

bool GradNormScore(const space::NetworkSpec& spec, const ZeroCostBatch& batch,
                   const ZeroCostOptions& o, double* score,
                   std::string* error) {
  return Guarded(error, "zero-cost score failed", [&](std::string*) {
    torch::Device device(torch::kCPU);
    Network net = Init(spec, o, &device);
    const torch::Tensor x = Images(spec, batch, device);
    const torch::Tensor y =
        torch::tensor(batch.labels, torch::kInt64).to(device);
    net->train();
    net->zero_grad();
    nn::functional::cross_entropy(net->forward(x), y).backward();
    double total = 0;
    ForEachWeight(net, [&](const torch::Tensor& w) {
      if (w.grad().defined()) total += w.grad().norm().item<double>();
    });
    *score = total;
    return true;
  });
}

}  // namespace nas::train
