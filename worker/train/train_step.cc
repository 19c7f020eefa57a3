#include "worker/train/train_step.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <utility>

namespace nas::train {
namespace {

// LibTorch 2.4 replaced the per-device autocast switches with ones taking
// the device type.
#if TORCH_VERSION_MAJOR > 2 || \
    (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool AutocastEnabled(c10::DeviceType type) {
  return at::autocast::is_autocast_enabled(type);
}
void SetAutocast(c10::DeviceType type, bool enabled) {
  at::autocast::set_autocast_enabled(type, enabled);
  if (enabled) at::autocast::set_autocast_dtype(type, at::kBFloat16);
}
#else
bool AutocastEnabled(c10::DeviceType type) {
  return type == c10::DeviceType::CUDA ? at::autocast::is_enabled()
                                       : at::autocast::is_cpu_enabled();
}
void SetAutocast(c10::DeviceType type, bool enabled) {
  if (type == c10::DeviceType::CUDA) {
    at::autocast::set_enabled(enabled);
    if (enabled) at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    if (enabled) at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  }
}
#endif

}  // namespace

Bf16Autocast::Bf16Autocast(bool enabled, c10::DeviceType device_type)
    : enabled_(enabled), device_type_(device_type) {
  if (!enabled_) return;
  was_enabled_ = AutocastEnabled(device_type_);
  cache_was_enabled_ = at::autocast::is_autocast_cache_enabled();
  SetAutocast(device_type_, true);
  at::autocast::set_autocast_cache_enabled(false);
  at::autocast::increment_nesting();
}

Bf16Autocast::~Bf16Autocast() {
  if (!enabled_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_cache_enabled(cache_was_enabled_);
  SetAutocast(device_type_, was_enabled_);
}

torch::Tensor NormalizedBatch(const Dataset& data, const torch::Tensor& images,
                              const torch::Tensor& indices,
                              bool channels_last) {
  torch::Tensor x = data.Normalize(images.index_select(0, indices));
  return channels_last ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
}

void ToChannelsLast(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (torch::Tensor& p : model.parameters()) {
    if (p.dim() == 4) {
      p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
    }
  }
  for (torch::Tensor& b : model.buffers()) {
    if (b.dim() == 4) {
      b.set_data(b.data().contiguous(torch::MemoryFormat::ChannelsLast));
    }
  }
}

std::unique_ptr<TrainStep> TrainStep::Create(
    Network model, const Dataset& data, torch::Tensor images,
    torch::Tensor labels, int64_t batch_size, double momentum,
    double weight_decay, const StepOptions& options, std::string* error) {
  auto fail = [error](const std::string& message) {
    if (error) *error = message;
    return nullptr;
  };
  const torch::Device device = images.device();
  if (labels.device() != device) {
    return fail("images and labels must be on the same device");
  }
  if (!device.is_cuda() && (options.cuda_graph || options.cudnn_benchmark)) {
    return fail("cuda_graph and cudnn_benchmark need a CUDA device, not " +
                device.str());
  }
  if (options.cuda_graph && !options.flat_sgd) {
    return fail(
        "cuda_graph needs flat_sgd (the graph reads the learning "
        "rate from a device tensor)");
  }
  if (batch_size < 2 || batch_size > images.size(0)) {
    return fail("batch_size must be in [2, " + std::to_string(images.size(0)) +
                "], got " + std::to_string(batch_size));
  }
  std::unique_ptr<TrainStep> step(new TrainStep(
      std::move(model), data, images, labels, momentum, weight_decay, options));
  // A process-wide switch: the last TrainStep made decides.
  if (device.is_cuda()) {
    at::globalContext().setBenchmarkCuDNN(options.cudnn_benchmark);
  }
  if (options.cuda_graph) {
    step->graph_indices_ = torch::arange(
        batch_size, torch::TensorOptions().dtype(torch::kInt64).device(device));
    // The warm-up steps before the capture change the momentum and the
    // batch-norm statistics: put them back, so that the first replay is the
    // first step, as without a graph.
    const std::vector<torch::Tensor> saved = step->StateCopy();
    std::string why;
    if (!step->graph_.Capture(
            device.index(), /*warmup=*/3,
            [&step] { step->graph_loss_ = step->Body(step->graph_indices_); },
            &why)) {
      return fail(why);
    }
    step->RestoreState(saved);
  }
  return step;
}

TrainStep::TrainStep(Network model, const Dataset& data, torch::Tensor images,
                     torch::Tensor labels, double momentum, double weight_decay,
                     const StepOptions& options)
    : model_(std::move(model)),
      data_(data),
      images_(std::move(images)),
      labels_(std::move(labels)),
      momentum_(momentum),
      weight_decay_(weight_decay),
      options_(options) {
  const torch::Device device = images_.device();
  model_->to(device);
  model_->train();
  if (options_.channels_last) ToChannelsLast(*model_);
  neg_lr_ = torch::zeros(
      {}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  if (options_.flat_sgd) {
    FlattenParameters();
  } else {
    sgd_.emplace(model_->parameters(), momentum_, weight_decay_);
  }
}

void TrainStep::FlattenParameters() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> params = model_->parameters();
  int64_t total = 0;
  for (const torch::Tensor& p : params) total += p.numel();
  const auto options =
      torch::TensorOptions().dtype(torch::kFloat32).device(images_.device());
  flat_params_ = torch::empty({total}, options);
  flat_grads_ = torch::zeros({total}, options);
  flat_momentum_ = torch::zeros({total}, options);
  int64_t offset = 0;
  for (torch::Tensor& p : params) {
    // Same sizes and strides (channels last included) as the parameter: its
    // strides are dense, so the view covers exactly numel() elements.
    torch::Tensor value =
        flat_params_.as_strided(p.sizes(), p.strides(), offset);
    value.copy_(p.data());
    p.set_data(value);
    // Backward accumulates in place into a gradient that exists, so the
    // gradients land in flat_grads_.
    p.mutable_grad() = flat_grads_.as_strided(p.sizes(), p.strides(), offset);
    momentum_views_.push_back(
        flat_momentum_.as_strided(p.sizes(), p.strides(), offset));
    offset += p.numel();
  }
}

torch::Tensor TrainStep::Body(const torch::Tensor& indices) {
  const torch::Tensor x =
      NormalizedBatch(data_, images_, indices, options_.channels_last);
  const torch::Tensor y = labels_.index_select(0, indices);
  if (options_.flat_sgd) {
    flat_grads_.zero_();
  } else {
    sgd_->ZeroGrad();
  }
  torch::Tensor logits;
  {
    Bf16Autocast autocast(options_.bf16_autocast, images_.device().type());
    logits = model_->forward(x);
  }
  const torch::Tensor loss =
      torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), y);
  loss.backward();
  Optimize();
  return loss.detach();
}

void TrainStep::Optimize() {
  if (!options_.flat_sgd) return;  // Run() steps sgd_ with the host rate
  torch::NoGradGuard no_grad;
  // NesterovSgd's update over the flat buffers: d = g + wd p;
  // b = m b + d; p -= lr (d + m b).
  torch::Tensor d = torch::add(flat_grads_, flat_params_, weight_decay_);
  flat_momentum_.mul_(momentum_).add_(d);
  d.add_(flat_momentum_, momentum_);
  flat_params_.addcmul_(d, neg_lr_);
}

std::vector<torch::Tensor> TrainStep::State() {
  std::vector<torch::Tensor> state = {flat_params_, flat_momentum_};
  for (const torch::Tensor& b : model_->buffers()) state.push_back(b);
  return state;
}

std::vector<torch::Tensor> TrainStep::StateCopy() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> copy;
  for (const torch::Tensor& t : State()) copy.push_back(t.detach().clone());
  return copy;
}

void TrainStep::RestoreState(const std::vector<torch::Tensor>& copy) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> state = State();
  for (size_t i = 0; i < state.size(); ++i) state[i].copy_(copy[i]);
}

torch::Tensor TrainStep::Run(const torch::Tensor& indices, double lr) {
  neg_lr_.fill_(-lr);
  if (graph_.captured() && indices.size(0) == graph_indices_.size(0)) {
    graph_indices_.copy_(indices);
    graph_.Replay();
    return graph_loss_;
  }
  torch::Tensor loss = Body(indices);
  if (sgd_) sgd_->Step(lr);
  return loss;
}

}  // namespace nas::train
