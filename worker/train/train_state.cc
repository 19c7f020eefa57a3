#include "worker/train/train_state.h"

#include <cmath>
#include <utility>

namespace nas::train {
namespace {

tensor::Tensor Scalar(double value) {
  tensor::Tensor out;
  out.values.push_back(static_cast<float>(value));
  return out;
}

// Copies `plain` into `target` (same shape), converting to its dtype and
// device. False when the shapes differ.
bool CopyInto(const tensor::Tensor& plain, torch::Tensor target) {
  if (std::vector<int64_t>(target.sizes().begin(), target.sizes().end()) !=
      plain.shape) {
    return false;
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor source =
      torch::from_blob(const_cast<float*>(plain.values.data()),
                       plain.shape, torch::kFloat32);
  target.copy_(source.to(target.device(), target.scalar_type()));
  return true;
}

// Copies tensor `name` of `from` into `target`; false, with *error naming
// the tensor and `what` (e.g. "saved training state"), when `from` lacks it
// or holds it in another shape.
bool LoadNamed(const tensor::TensorMap& from, const std::string& what,
               const std::string& name, torch::Tensor target,
               std::string* error) {
  auto it = from.find(name);
  if (it == from.end()) {
    *error = what + " lacks " + name;
    return false;
  }
  if (!CopyInto(it->second, target)) {
    *error = name + " in " + what + " has shape " +
             tensor::ShapeText(it->second.shape) + ", the network's is " +
             tensor::ShapeText(std::vector<int64_t>(target.sizes().begin(),
                                                    target.sizes().end()));
    return false;
  }
  return true;
}

}  // namespace

bool IsStepCounter(const std::string& name) {
  static constexpr char kSuffix[] = "num_batches_tracked";
  const size_t n = sizeof(kSuffix) - 1;
  return name.size() >= n && name.compare(name.size() - n, n, kSuffix) == 0;
}

tensor::Tensor ToPlain(const torch::Tensor& t) {
  const torch::Tensor cpu =
      t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  tensor::Tensor out;
  out.shape.assign(cpu.sizes().begin(), cpu.sizes().end());
  out.values.assign(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
  return out;
}

NesterovSgd::NesterovSgd(std::vector<torch::Tensor> params, double momentum,
                         double weight_decay)
    : params_(std::move(params)),
      buffers_(params_.size()),
      momentum_(momentum),
      weight_decay_(weight_decay) {}

void NesterovSgd::ZeroGrad() {
  for (torch::Tensor& p : params_) {
    if (p.grad().defined()) {
      p.mutable_grad().detach_();
      p.mutable_grad().zero_();
    }
  }
}

void NesterovSgd::Step(double lr) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    torch::Tensor d = p.grad();
    if (weight_decay_ != 0) d = d.add(p, weight_decay_);
    torch::Tensor& buf = buffers_[i];
    if (!buf.defined()) {
      buf = torch::clone(d).detach();
    } else {
      buf.mul_(momentum_).add_(d, 1.0);
    }
    d = d.add(buf, momentum_);
    p.add_(d, -lr);
  }
}

tensor::TensorMap SaveTrainState(torch::nn::Module& model,
                                 const std::vector<torch::Tensor>& momentum,
                                 int epoch, int epochs, double train_seconds) {
  tensor::TensorMap state;
  const auto params = model.named_parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    state["model/" + params[i].key()] = ToPlain(params[i].value());
    if (momentum[i].defined()) {
      state["momentum/" + params[i].key()] = ToPlain(momentum[i]);
    }
  }
  for (const auto& item : model.named_buffers()) {
    state["model/" + item.key()] = ToPlain(item.value());
  }
  state["trainer/epoch"] = Scalar(epoch);
  state["trainer/epochs"] = Scalar(epochs);
  state["trainer/train_seconds"] = Scalar(train_seconds);
  return state;
}

bool LoadTrainState(const tensor::TensorMap& state, torch::nn::Module& model,
                    std::vector<torch::Tensor>& momentum, int epochs,
                    int* epoch, double* train_seconds, std::string* error) {
  auto scalar = [&](const std::string& name, double* out) {
    auto it = state.find(name);
    if (it == state.end() || it->second.values.size() != 1) {
      *error = "saved training state has no scalar " + name;
      return false;
    }
    *out = it->second.values[0];
    return true;
  };
  double saved_epoch = 0, saved_epochs = 0, seconds = 0;
  if (!scalar("trainer/epoch", &saved_epoch) ||
      !scalar("trainer/epochs", &saved_epochs) ||
      !scalar("trainer/train_seconds", &seconds)) {
    return false;
  }
  if (saved_epochs != epochs || saved_epoch < 1 || saved_epoch > epochs ||
      saved_epoch != std::floor(saved_epoch)) {
    *error = "saved training state is of epoch " +
             std::to_string(std::llround(saved_epoch)) + " of " +
             std::to_string(std::llround(saved_epochs)) + ", not of a " +
             std::to_string(epochs) + "-epoch run";
    return false;
  }
  size_t expected = 3;
  auto load = [&](const std::string& name, torch::Tensor target) {
    if (!LoadNamed(state, "saved training state", name, target, error)) {
      return false;
    }
    ++expected;
    return true;
  };
  const auto params = model.named_parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    if (!load("model/" + params[i].key(), params[i].value())) return false;
    const std::string name = "momentum/" + params[i].key();
    if (state.count(name) > 0) {
      if (!momentum[i].defined()) {
        momentum[i] = torch::zeros_like(params[i].value());
      }
      if (!load(name, momentum[i])) return false;
    }
  }
  for (const auto& item : model.named_buffers()) {
    if (!load("model/" + item.key(), item.value())) return false;
  }
  if (expected != state.size()) {
    *error = "saved training state holds " + std::to_string(state.size()) +
             " tensors, the network needs " + std::to_string(expected) +
             ": it was saved for another architecture";
    return false;
  }
  *epoch = static_cast<int>(saved_epoch);
  *train_seconds = seconds;
  return true;
}

bool LoadWeights(const tensor::TensorMap& weights, torch::nn::Module& model,
                 std::string* error) {
  size_t used = 0;
  auto load = [&](const std::string& name, torch::Tensor target) {
    if (!LoadNamed(weights, "weights", name, target, error)) return false;
    ++used;
    return true;
  };
  for (const auto& item : model.named_parameters()) {
    if (!load(item.key(), item.value())) return false;
  }
  for (const auto& item : model.named_buffers()) {
    if (!IsStepCounter(item.key()) && !load(item.key(), item.value())) {
      return false;
    }
  }
  if (used != weights.size()) {
    *error = "weights hold " + std::to_string(weights.size()) +
             " tensors, the network has " + std::to_string(used) +
             ": they are of another architecture";
    return false;
  }
  return true;
}

}  // namespace nas::train
