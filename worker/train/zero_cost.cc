#include "worker/train/zero_cost.h"

#include <ATen/record_function.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <tuple>
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

// NASWOT's capture of activation codes. LibTorch's C++ modules have no
// forward hooks, and the networks apply ReLU both as modules (nn::ReLU,
// nn::ReLU6) and as calls inside a module's forward (torch::relu in
// ReluConvBn and ConvBnRelu). All of them reach the dispatcher as aten::relu
// or aten::relu6 (or the in-place forms), so the profiler's op-level hook, a
// RecordFunction observer, sees the input of every ReLU whichever module
// applies it, without re-running any piece of the network. Only these names
// are matched: relu6's nested call of hardtanh is not counted twice.
struct CodeKernel {
  int64_t batch = 0;
  std::vector<int64_t> agreements;  // K_H so far, row-major [batch, batch]
  int relus = 0;
  std::string error;  // the first failure inside the observer
};

// Set only while a ScopedCodeCapture lives on this thread; the observer is a
// plain function pointer and cannot carry state of its own.
thread_local CodeKernel* active_kernel = nullptr;

bool IsRelu(const char* op) {
  for (const char* name :
       {"aten::relu", "aten::relu_", "aten::relu6", "aten::relu6_"}) {
    if (std::strcmp(op, name) == 0) return true;
  }
  return false;
}

// Portable (no popcnt instruction assumed) and branch-free.
int64_t PopCount(uint64_t x) {
  x -= (x >> 1) & 0x5555555555555555ULL;
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
  return static_cast<int64_t>((x * 0x0101010101010101ULL) >> 56);
}

// Adds one ReLU's agreements to K_H: units - Hamming(i, j), on the codes
// packed 64 to a word, a xor and a popcount per 64 units (a matrix product
// of the 0/1 codes took longer than the forward pass itself).
void AddCodes(const torch::Tensor& relu_input, CodeKernel* kernel) {
  const int64_t n = kernel->batch;
  if (relu_input.dim() == 0 || relu_input.size(0) != n) {
    throw std::runtime_error("a ReLU whose input is not [batch, ...]");
  }
  const int64_t units = relu_input.numel() / n;
  const torch::Tensor codes =
      (relu_input.reshape({n, units}) > 0).to(torch::kCPU).contiguous();
  const bool* code = codes.data_ptr<bool>();
  const int64_t words = (units + 63) / 64;
  std::vector<uint64_t> packed(n * words, 0);  // padding bits stay 0
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t u = 0; u < units; ++u) {
      packed[i * words + (u >> 6)] |= uint64_t{code[i * units + u]} << (u & 63);
    }
  }
  std::vector<int64_t>& k = kernel->agreements;
  for (int64_t i = 0; i < n; ++i) {
    k[i * n + i] += units;
    for (int64_t j = i + 1; j < n; ++j) {
      int64_t differ = 0;
      for (int64_t w = 0; w < words; ++w) {
        differ += PopCount(packed[i * words + w] ^ packed[j * words + w]);
      }
      k[i * n + j] += units - differ;
      k[j * n + i] += units - differ;
    }
  }
  ++kernel->relus;
}

// Exceptions thrown here would be logged and swallowed by RecordFunction, so
// the first one is kept in the kernel for the caller to report.
std::unique_ptr<at::ObserverContext> OnOpStart(const at::RecordFunction& fn) {
  CodeKernel* kernel = active_kernel;
  if (kernel == nullptr || !kernel->error.empty() || !IsRelu(fn.name())) {
    return nullptr;
  }
  try {
    const auto inputs = fn.inputs();
    if (inputs.empty() || !inputs[0].isTensor()) {
      throw std::runtime_error(std::string(fn.name()) + " without a tensor");
    }
    at::DisableRecordFunctionGuard not_observed;  // the ops of AddCodes
    AddCodes(inputs[0].toTensor(), kernel);
  } catch (const c10::Error& e) {
    kernel->error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    kernel->error = e.what();
  }
  return nullptr;
}

// Observes this thread's ReLUs into `kernel` while it lives.
class ScopedCodeCapture {
 public:
  explicit ScopedCodeCapture(CodeKernel* kernel)
      : handle_(at::addThreadLocalCallback(
            at::RecordFunctionCallback(&OnOpStart)
                .needsInputs(true)
                .scopes({at::RecordScope::FUNCTION}))) {
    active_kernel = kernel;
  }
  ~ScopedCodeCapture() {
    active_kernel = nullptr;
    at::removeCallback(handle_);
  }
  ScopedCodeCapture(const ScopedCodeCapture&) = delete;
  ScopedCodeCapture& operator=(const ScopedCodeCapture&) = delete;

 private:
  at::CallbackHandle handle_;
};

// K_H of `batch` (see NaswotScore) on the CPU. Throws on failure.
torch::Tensor ActivationCodeKernel(const space::NetworkSpec& spec,
                                   const ZeroCostBatch& batch,
                                   const ZeroCostOptions& o) {
  torch::Device device(torch::kCPU);
  Network net = Init(spec, o, &device);
  const torch::Tensor x = Images(spec, batch, device);
  net->train();
  CodeKernel kernel;
  kernel.batch = batch.batch;
  kernel.agreements.assign(batch.batch * batch.batch, 0);
  {
    torch::NoGradGuard no_grad;
    ScopedCodeCapture capture(&kernel);
    net->forward(x);
  }
  if (!kernel.error.empty()) {
    throw std::runtime_error("naswot: " + kernel.error);
  }
  // Every network BuildNetwork makes applies a ReLU, so none seen means the
  // observer did not run.
  if (kernel.relus == 0) {
    throw std::runtime_error(
        "naswot: no ReLU observed (is RecordFunction disabled in this "
        "LibTorch?)");
  }
  return torch::tensor(kernel.agreements, torch::kInt64)
      .reshape({batch.batch, batch.batch})
      .to(torch::kFloat64);
}

// Whether two images have the same code (K_H[i][j] == N_A): their rows are
// equal, so K_H is singular however rounding falls in the determinant.
bool HasRepeatedCode(const torch::Tensor& k) {
  auto a = k.accessor<double, 2>();
  for (int64_t i = 0; i < k.size(0); ++i) {
    for (int64_t j = i + 1; j < k.size(0); ++j) {
      if (a[i][j] == a[i][i]) return true;
    }
  }
  return false;
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

bool NaswotKernel(const space::NetworkSpec& spec, const ZeroCostBatch& batch,
                  const ZeroCostOptions& o, std::vector<double>* kernel,
                  std::string* error) {
  return Guarded(error, "zero-cost score failed", [&](std::string*) {
    const torch::Tensor k = ActivationCodeKernel(spec, batch, o);
    kernel->assign(k.data_ptr<double>(), k.data_ptr<double>() + k.numel());
    return true;
  });
}

bool NaswotScore(const space::NetworkSpec& spec, const ZeroCostBatch& batch,
                 const ZeroCostOptions& o, double* score, std::string* error) {
  return Guarded(error, "zero-cost score failed", [&](std::string*) {
    const torch::Tensor k = ActivationCodeKernel(spec, batch, o);
    if (HasRepeatedCode(k)) {
      *score = -std::numeric_limits<double>::infinity();
    } else {
      // The authors' score: log|det|, the sign ignored (K_H is a sum of Gram
      // matrices, so only rounding can make it negative).
      *score = std::get<1>(torch::linalg_slogdet(k)).item<double>();
    }
    return true;
  });
}

}  // namespace nas::train
