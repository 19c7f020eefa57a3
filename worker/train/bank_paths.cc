#include "worker/train/bank_paths.h"

#include <functional>
#include <stdexcept>

#include "worker/train/model_builder.h"
#include "worker/train/train_state.h"

namespace nas::train {
namespace {

namespace nn = torch::nn;

}  // namespace

torch::Tensor LeadingSlice(const torch::Tensor& bank, at::IntArrayRef shape,
                           const std::string& name) {
  if (bank.dim() != static_cast<int64_t>(shape.size())) {
    throw std::invalid_argument("supernet tensor " + name + " has rank " +
                                std::to_string(bank.dim()) + ", subnet needs " +
                                std::to_string(shape.size()));
  }
  torch::Tensor view = bank;
  for (int64_t d = 0; d < bank.dim(); ++d) {
    if (shape[d] > bank.size(d)) {
      throw std::invalid_argument("supernet tensor " + name +
                                  " is smaller than the subnet needs");
    }
    if (shape[d] < bank.size(d)) view = view.narrow(d, 0, shape[d]);
  }
  return view;
}

std::vector<std::pair<std::string, torch::Tensor>> NamedTensors(
    const nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : module.named_parameters()) {
    out.emplace_back(item.key(), item.value());
  }
  for (const auto& item : module.named_buffers()) {
    if (!IsStepCounter(item.key())) out.emplace_back(item.key(), item.value());
  }
  return out;
}

ChainPathCache::ChainPathCache(std::map<std::string, torch::Tensor>* bank,
                               std::map<std::string, torch::Tensor>* momentum,
                               torch::Device device)
    : bank_(bank), momentum_(momentum), device_(device) {}

ChainPathCache::Cached& ChainPathCache::Lookup(
    const std::string& key, const std::string& bank_prefix,
    const std::function<nn::AnyModule()>& make) {
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  Cached cached;
  cached.module = make();
  cached.module.ptr()->to(device_);
  cached.module.ptr()->train();
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : NamedTensors(*cached.module.ptr())) {
    const std::string bank_name = bank_prefix + name;
    auto bank = bank_->find(bank_name);
    if (bank == bank_->end()) {
      throw std::logic_error("supernet has no tensor " + bank_name);
    }
    // The module's tensor becomes the bank's slice (shared storage), as
    // `param.data = slice` would in Python; every holder of the tensor (the
    // module's member and its parameter list) sees the change.
    t.set_data(LeadingSlice(bank->second, t.sizes(), bank_name));
    if (!t.requires_grad()) continue;  // batch-norm statistics
    torch::Tensor& buffer = (*momentum_)[bank_name];
    if (!buffer.defined()) buffer = torch::zeros_like(bank->second);
    cached.entries.push_back({t, LeadingSlice(buffer, t.sizes(), bank_name)});
  }
  return cache_.emplace(key, std::move(cached)).first->second;
}

bool ChainPathCache::Get(const space::NetworkSpec& spec,
                         const std::vector<std::string>& slots, Path* path) {
  const auto* chain = std::get_if<space::ChainNetwork>(&spec.body);
  if (chain == nullptr || chain->head_channels > 0 ||
      slots.size() != chain->layers.size()) {
    return false;
  }
  Path out;
  auto add = [&](Cached& cached) {
    out.modules.push_back(cached.module);
    for (Entry& e : cached.entries) out.trainable.push_back(&e);
  };
  const space::InputShape& input = spec.input;
  add(Lookup("stem", "body.stem.", [&] {
    return nn::AnyModule(ConvBnRelu(input.channels, chain->stem_channels, 3,
                                    chain->stem_stride));
  }));
  int channels = chain->stem_channels;
  for (size_t i = 0; i < chain->layers.size(); ++i) {
    const space::ChainLayer& layer = chain->layers[i];
    const std::string key = slots[i] + "." + layer.op + "/" +
                            std::to_string(channels) + "/" +
                            std::to_string(layer.out_channels) + "/" +
                            std::to_string(layer.stride);
    add(Lookup(key, "body." + slots[i] + "." + layer.op + ".", [&] {
      return MakeChainLayer(layer.op, channels, layer.out_channels,
                            layer.stride);
    }));
    channels = layer.out_channels;
  }
  add(Lookup("classifier/" + std::to_string(channels), "classifier.", [&] {
    return nn::AnyModule(nn::Linear(channels, input.num_classes));
  }));
  *path = std::move(out);
  return true;
}

torch::Tensor ChainPathCache::Forward(Path& path,
                                      const torch::Tensor& x) {
  torch::Tensor y = x;
  for (size_t i = 0; i + 1 < path.modules.size(); ++i) {
    y = path.modules[i].forward(y);
  }
  // Global average pooling, then the classifier (as NetworkImpl::forward).
  return path.modules.back().forward(y.mean({2, 3}));
}

}  // namespace nas::train
