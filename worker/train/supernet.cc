// The weight bank and its single-path training and scoring (see supernet.h).
#include "worker/train/supernet.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>

#include "common/space/nb201_cell.h"
#include "worker/train/bank_paths.h"
#include "worker/train/data_split.h"
#include "worker/train/dataset.h"
#include "worker/train/evaluate.h"
#include "worker/train/model_builder.h"
#include "worker/train/path_sampler.h"

namespace nas::train {

class Supernet {
 public:
  SupernetSpace definition;
  std::unique_ptr<space::SearchSpace> space;
  // Every tensor at its largest shape, by bank name. Lives on one device at
  // a time (the last one trained or scored on).
  std::map<std::string, torch::Tensor> bank;
};

void SupernetDeleter::operator()(Supernet* supernet) const { delete supernet; }

namespace {

namespace nn = torch::nn;
using Clock = std::chrono::steady_clock;

constexpr int kFiniteCheckSteps = 25;
constexpr int kProgressSteps = 10;
// Seed of the split of the training pool into shard parts: a constant, so
// shard i of every round trains on the same images.
constexpr uint64_t kShardPartSeed = 0x6e61732d73686172ULL;  // "nas-shar"

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Where the stand-alone network's layers sit in the chain space's choices:
// for each layer of Network(choices), in order, "stage{s}.layer{j}".
std::vector<std::string> ChainLayerSlots(const space::SearchSpace& space,
                                         const std::vector<int>& choices) {
  std::vector<std::string> slots;
  const std::vector<space::Decision>& decisions = space.decisions();
  for (size_t i = 0; i < decisions.size(); ++i) {
    const std::string& name = decisions[i].name;
    const size_t dot = name.find('.');
    if (name.compare(dot + 1, std::string::npos, "depth") != 0) continue;
    const std::string stage = name.substr(0, dot);
    const int depth = std::stoi(decisions[i].options[choices[i]]);
    for (int j = 1; j <= depth; ++j) {
      slots.push_back(stage + ".layer" + std::to_string(j));
    }
  }
  return slots;
}

// The bank name of the stand-alone network's tensor `name` for `spec`
// (the network of `choices`).
std::string BankName(const space::NetworkSpec& spec,
                     const std::vector<std::string>& chain_slots,
                     const std::string& name) {
  if (const auto* cell = std::get_if<space::CellNetwork>(&spec.body)) {
    // body.cell{S}_{C}.edge{T}_{F}.rest -> body.cell{S}_{C}.edge{T}_{F}.{op}.rest
    const size_t edge = name.find(".edge");
    if (name.rfind("body.cell", 0) != 0 || edge == std::string::npos) {
      return name;
    }
    const size_t end = name.find('.', edge + 1);
    const std::string label = name.substr(edge + 5, end - edge - 5);  // T_F
    for (size_t e = 0; e < cell->edge_ops.size(); ++e) {
      if (label == std::to_string(space::kNb201EdgeTo[e]) + "_" +
                       std::to_string(space::kNb201EdgeFrom[e])) {
        return name.substr(0, end) + "." + cell->edge_ops[e] +
               name.substr(end);
      }
    }
    throw std::logic_error("unknown NAS-Bench-201 edge in " + name);
  }
  // body.layer{I}.rest -> body.stage{s}.layer{j}.{op}.rest
  if (name.rfind("body.layer", 0) != 0) return name;
  const size_t end = name.find('.', 10);
  const int index = std::stoi(name.substr(10, end - 10)) - 1;
  const auto& chain = std::get<space::ChainNetwork>(spec.body);
  return "body." + chain_slots.at(index) + "." + chain.layers.at(index).op +
         name.substr(end);
}

// The stand-alone network of `choices` with its tensors copied from the
// bank, on the bank's device, and the bank names of its tensors.
struct Subnet {
  space::NetworkSpec spec;
  Network network{nullptr};
  std::vector<std::pair<std::string, torch::Tensor>> tensors;  // name, tensor
  std::vector<std::string> bank_names;  // parallel to tensors
};

Subnet BuildSubnet(const Supernet& net, const std::vector<int>& choices) {
  if (std::string bad = net.space->Validate(choices); !bad.empty()) {
    throw std::invalid_argument("invalid architecture: " + bad);
  }
  Subnet sub;
  sub.spec = net.space->Network(choices, net.definition.input);
  std::vector<std::string> slots;
  if (std::holds_alternative<space::ChainNetwork>(sub.spec.body)) {
    slots = ChainLayerSlots(*net.space, choices);
  }
  sub.network = BuildNetwork(sub.spec);
  const torch::Device device = net.bank.begin()->second.device();
  sub.network->to(device);
  torch::NoGradGuard no_grad;
  sub.tensors = NamedTensors(*sub.network);
  for (auto& [name, t] : sub.tensors) {
    const std::string bank_name = BankName(sub.spec, slots, name);
    auto it = net.bank.find(bank_name);
    if (it == net.bank.end()) {
      throw std::logic_error("supernet has no tensor " + bank_name);
    }
    t.copy_(LeadingSlice(it->second, t.sizes(), bank_name));
    sub.bank_names.push_back(bank_name);
  }
  return sub;
}

void AddToBank(const std::string& prefix, const nn::Module& module,
               std::map<std::string, torch::Tensor>* bank) {
  for (auto& [name, t] : NamedTensors(module)) {
    bank->emplace(prefix + name, t.detach().clone());
  }
}

// Lays out and initializes the bank (see the layout in supernet.h).
void InitBank(Supernet* net) {
  const SupernetSpace& def = net->definition;
  if (const auto* cfg = std::get_if<space::Nb201Config>(&def.config)) {
    // One network per op with weights, every edge that op: its edges give
    // that op's tensors, and the first gives the shared ones.
    std::vector<std::string> ops;
    for (const std::string& op : cfg->ops) {
      if (op == "nor_conv_1x1" || op == "nor_conv_3x3") ops.push_back(op);
    }
    if (ops.empty()) ops.push_back("skip_connect");
    for (const std::string& op : ops) {
      space::CellNetwork cell;
      cell.channels = cfg->channels;
      cell.cells_per_stage = cfg->cells_per_stage;
      cell.stem_stride = cfg->stem_stride;
      cell.edge_ops.fill(op);
      const space::NetworkSpec spec{def.input, cell};
      Network network = BuildNetwork(spec);
      for (auto& [name, t] : NamedTensors(*network)) {
        net->bank.emplace(BankName(spec, {}, name), t.detach().clone());
      }
    }
    return;
  }
  const auto& cfg = std::get<space::ChainConfig>(def.config);
  // Shared tensors (stem, classifier) from the widest, deepest network.
  space::ChainNetwork widest;
  widest.stem_channels = cfg.stem_channels;
  widest.stem_stride = cfg.stem_stride;
  int in_max = cfg.stem_channels;
  std::vector<int> stage_in;
  for (const space::ChainStageConfig& stage : cfg.stages) {
    const int width = *std::max_element(stage.widths.begin(), stage.widths.end());
    stage_in.push_back(in_max);
    widest.layers.push_back({stage.ops[0], width, stage.stride});
    in_max = width;
  }
  Network network = BuildNetwork(space::NetworkSpec{def.input, widest});
  for (auto& [name, t] : NamedTensors(*network)) {
    if (name.rfind("body.layer", 0) != 0) {
      net->bank.emplace(name, t.detach().clone());
    }
  }
  for (size_t s = 0; s < cfg.stages.size(); ++s) {
    const space::ChainStageConfig& stage = cfg.stages[s];
    const int width = *std::max_element(stage.widths.begin(), stage.widths.end());
    const int depth = *std::max_element(stage.depths.begin(), stage.depths.end());
    for (int j = 1; j <= depth; ++j) {
      const int in = j == 1 ? stage_in[s] : width;
      const int stride = j == 1 ? stage.stride : 1;
      for (const std::string& op : stage.ops) {
        // A skip needs its projection whenever a narrower input or a stride
        // changes the shape, so the bank always holds one; the stride does
        // not change weight shapes, and 2 forces the projection to exist.
        const int build_stride = op == "skip" ? 2 : stride;
        nn::AnyModule layer = MakeChainLayer(op, in, width, build_stride);
        AddToBank("body.stage" + std::to_string(s + 1) + ".layer" +
                      std::to_string(j) + "." + op + ".",
                  *layer.ptr(), &net->bank);
      }
    }
  }
}

SupernetPtr NewSupernet(const SupernetSpace& def, std::string* error) {
  SupernetPtr net(new Supernet);
  net->definition = def;
  std::string message;
  if (const auto* cfg = std::get_if<space::Nb201Config>(&def.config)) {
    net->space = space::MakeNb201Space(*cfg, &message);
  } else {
    net->space = space::MakeChainSpace(std::get<space::ChainConfig>(def.config),
                                       &message);
  }
  if (!net->space) {
    *error = "supernet space: " + message;
    return nullptr;
  }
  return net;
}

tensor::Tensor ToPlain(const torch::Tensor& t) {
  const torch::Tensor cpu = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  tensor::Tensor out;
  out.shape.assign(cpu.sizes().begin(), cpu.sizes().end());
  out.values.assign(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
  return out;
}

torch::Tensor FromPlain(const tensor::Tensor& t) {
  return torch::from_blob(const_cast<float*>(t.values.data()), t.shape,
                          torch::kFloat32)
      .clone();
}

std::string ShapeMismatch(const std::string& name, const torch::Tensor& want,
                          const std::vector<int64_t>& got) {
  return "tensor " + name + ": shape " + tensor::ShapeText(got) +
         ", expected " +
         tensor::ShapeText(std::vector<int64_t>(want.sizes().begin(),
                                                want.sizes().end()));
}

bool CheckData(const Supernet& net, const Dataset& data, std::string* error) {
  const space::InputShape& a = net.definition.input;
  const space::InputShape& b = data.shape();
  if (a.channels != b.channels || a.height != b.height || a.width != b.width ||
      a.num_classes != b.num_classes) {
    *error = "supernet input does not match data set " + data.name();
    return false;
  }
  return true;
}

void MoveBank(Supernet* net, const torch::Device& device) {
  for (auto& [name, t] : net->bank) t = t.to(device);
}


std::string CheckShardOptions(const ShardOptions& o) {
  if (o.steps < 0) return "steps must be >= 0";
  if (o.batch_size < 2 || o.batch_size > 65536) {
    return "batch_size must be in [2, 65536]";
  }
  if (!(o.learning_rate > 0 && std::isfinite(o.learning_rate))) {
    return "learning_rate must be > 0";
  }
  if (!(o.momentum >= 0 && o.momentum < 1)) return "momentum must be in [0, 1)";
  if (!(o.weight_decay >= 0 && std::isfinite(o.weight_decay))) {
    return "weight_decay must be >= 0";
  }
  if (!(o.schedule_from >= 0 && o.schedule_from <= o.schedule_to &&
        o.schedule_to <= 1)) {
    return "the schedule fraction must satisfy 0 <= schedule_from <= "
           "schedule_to <= 1";
  }
  if (o.num_shards < 1 || o.shard_index < 0 || o.shard_index >= o.num_shards) {
    return "shard_index must be in [0, num_shards)";
  }
  if (!(o.validation_fraction > 0 && o.validation_fraction < 1)) {
    return "validation_fraction must be in (0, 1)";
  }
  return "";
}

// One step of Nesterov SGD with weight decay on `weights` (a slice of the
// bank, updated in place) and its momentum slice `velocity`:
//   g = grad + wd * w;  v = m * v + g;  w -= lr * (g + m * v).
// `grad` is consumed (overwritten).
void SgdUpdate(const ShardOptions& o, double learning_rate,
               torch::Tensor weights, torch::Tensor grad,
               torch::Tensor velocity) {
  grad.add_(weights, o.weight_decay);
  velocity.mul_(o.momentum).add_(grad);
  grad.add_(velocity, o.momentum);
  weights.sub_(grad, learning_rate);
}

bool TrainShard(Supernet* net, const Dataset& data, const ShardOptions& o,
                const ShardProgress& progress, ShardResult* result,
                std::string* error) {
  if (std::string bad = CheckShardOptions(o); !bad.empty()) {
    *error = "bad shard options: " + bad;
    return false;
  }
  if (!o.fixed_choices.empty()) {
    const std::vector<space::Decision>& decisions = net->space->decisions();
    bool ok = o.fixed_choices.size() == decisions.size();
    for (size_t i = 0; ok && i < decisions.size(); ++i) {
      ok = o.fixed_choices[i] >= -1 &&
           o.fixed_choices[i] < static_cast<int>(decisions[i].options.size());
    }
    if (!ok) {
      *error = "bad shard options: fixed_choices needs one entry per decision (" +
               std::to_string(decisions.size()) +
               "), each an option index or -1";
      return false;
    }
  }
  if (!CheckData(*net, data, error)) return false;
  const std::string device_name = ResolveDevice(o.device, error);
  if (device_name.empty()) return false;
  const torch::Device device(device_name);
  if (o.num_threads > 0) torch::set_num_threads(o.num_threads);
  result->device = device_name;

  DataSplit split;
  if (!SplitTrainValidation(data.train_images().size(0), o.validation_fraction,
                            &split, error)) {
    return false;
  }
  // This shard's part of the training pool.
  const std::vector<int64_t> order =
      Permutation(static_cast<int64_t>(split.train_pool.size()), kShardPartSeed);
  const int64_t part_size =
      static_cast<int64_t>(order.size()) / o.num_shards;
  if (part_size < 2) {
    *error = "fewer than 2 training images per shard";
    return false;
  }
  std::vector<int64_t> part;
  for (int64_t i = o.shard_index * part_size;
       i < (o.shard_index + 1) * part_size; ++i) {
    part.push_back(split.train_pool[order[i]]);
  }

  MoveBank(net, device);
  std::map<std::string, torch::Tensor> momentum;
  // Chain spaces train through cached modules aliasing the bank (see
  // ChainPathCache); NB201 cells, and every space with the cache switched
  // off, rebuild the subnet and copy it back each step.
  std::optional<ChainPathCache> cache;
  if (o.cache_subnet_modules &&
      std::holds_alternative<space::ChainConfig>(net->definition.config)) {
    cache.emplace(&net->bank, &momentum, device);
  }
  const torch::Tensor images = data.train_images().to(device);
  const torch::Tensor labels = data.train_labels().to(device);
  PathSampler paths(*net->space, o.fair_paths, o.sandwich, o.seed,
                    o.fixed_choices);
  std::mt19937_64& rng = paths.rng();
  torch::manual_seed(o.seed);
  const auto start = Clock::now();
  auto loss_sum = torch::zeros(
      {}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  const int64_t batch = std::min<int64_t>(o.batch_size, part.size());
  int64_t cursor = static_cast<int64_t>(part.size());  // reshuffle first
  torch::Tensor part_order;
  for (int step = 0; step < o.steps; ++step) {
    if (cursor + batch > static_cast<int64_t>(part.size())) {
      for (int64_t i = static_cast<int64_t>(part.size()) - 1; i > 0; --i) {
        std::swap(part[i], part[static_cast<int64_t>(rng() % (i + 1))]);
      }
      part_order = IndexTensor(part, device);
      cursor = 0;
    }
    const torch::Tensor idx = part_order.slice(0, cursor, cursor + batch);
    cursor += batch;
    const std::vector<int> choices = paths.Next();
    const double learning_rate = ShardLearningRate(o, step);
    const torch::Tensor x = data.Normalize(images.index_select(0, idx));
    const torch::Tensor y = labels.index_select(0, idx);
    torch::Tensor loss;
    ChainPathCache::Path path;
    if (cache && cache->Get(net->space->Network(choices, net->definition.input),
                            ChainLayerSlots(*net->space, choices), &path)) {
      loss = torch::nn::functional::cross_entropy(
          ChainPathCache::Forward(path, x), y);
      loss.backward();
      // The path's tensors are the bank's slices: update them in place.
      torch::NoGradGuard no_grad;
      for (ChainPathCache::Entry* e : path.trainable) {
        torch::Tensor grad = e->tensor.mutable_grad();
        if (!grad.defined()) continue;
        e->tensor.mutable_grad() = torch::Tensor();
        SgdUpdate(o, learning_rate, e->tensor, grad, e->velocity);
      }
    } else {
      Subnet sub = BuildSubnet(*net, choices);
      sub.network->train();
      loss = torch::nn::functional::cross_entropy(sub.network->forward(x), y);
      loss.backward();
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < sub.tensors.size(); ++i) {
        const auto& [name, t] = sub.tensors[i];
        const std::string& bank_name = sub.bank_names[i];
        torch::Tensor weights = LeadingSlice(net->bank.at(bank_name),
                                             t.sizes(), bank_name);
        if (!t.requires_grad()) {
          weights.copy_(t);  // batch-norm statistics of this step
          continue;
        }
        if (!t.grad().defined()) continue;
        torch::Tensor& buffer = momentum[bank_name];
        if (!buffer.defined()) buffer = torch::zeros_like(net->bank.at(bank_name));
        SgdUpdate(o, learning_rate, weights, t.grad(),
                  LeadingSlice(buffer, t.sizes(), bank_name));
      }
    }
    loss_sum += loss.detach().to(torch::kFloat64);
    result->steps = step + 1;
    result->images += batch;
    if ((step + 1) % kFiniteCheckSteps == 0 &&
        !std::isfinite(loss_sum.item<double>())) {
      *error = "supernet training diverged: non-finite loss by step " +
               std::to_string(step + 1);
      return false;
    }
    if (progress && (step + 1) % kProgressSteps == 0 && !progress(step + 1)) {
      break;
    }
  }
  result->train_loss = result->steps == 0
                           ? 0
                           : loss_sum.item<double>() / result->steps;
  if (!std::isfinite(result->train_loss)) {
    *error = "supernet training diverged: non-finite loss";
    return false;
  }
  result->seconds = SecondsSince(start);
  return true;
}

// Rows `indices` of `from`, gathered on the host and then moved: only the
// images a score reads go to the device, not the whole training set once
// per candidate.
torch::Tensor GatherTo(const torch::Tensor& from,
                       const std::vector<int64_t>& indices,
                       const torch::Device& device) {
  return from.index_select(0, IndexTensor(indices, torch::kCPU)).to(device);
}

// The subnet of `choices`, on the options' device, with its batch-norm
// statistics recomputed from o.bn_recalibration_batches training batches:
// what both a score and a fine-tuning start from. Fills result->device,
// params and flops. False, with *error, on bad options or data.
bool PrepareSubnet(const Supernet& const_net, const std::vector<int>& choices,
                   const Dataset& data, const ScoreOptions& o,
                   DataSplit* split, Subnet* sub, ScoreResult* result,
                   std::string* error) {
  if (o.bn_recalibration_batches < 0 || o.batch_size < 2 ||
      o.max_validation_images < 0 ||
      !(o.validation_fraction > 0 && o.validation_fraction < 1)) {
    *error =
        "bad score options: bn_recalibration_batches and "
        "max_validation_images must be >= 0, batch_size >= 2, "
        "validation_fraction in (0, 1)";
    return false;
  }
  if (!CheckData(const_net, data, error)) return false;
  const std::string device_name = ResolveDevice(o.device, error);
  if (device_name.empty()) return false;
  const torch::Device device(device_name);
  if (o.num_threads > 0) torch::set_num_threads(o.num_threads);
  result->device = device_name;
  // Moving the bank is not a change of its values; scoring many candidates
  // in a row then copies it to the device once.
  Supernet& net = const_cast<Supernet&>(const_net);
  MoveBank(&net, device);

  if (!SplitTrainValidation(data.train_images().size(0), o.validation_fraction,
                            split, error)) {
    return false;
  }
  torch::manual_seed(o.seed);
  *sub = BuildSubnet(net, choices);
  result->params = CountParameters(sub->spec);
  result->flops = CountFlops(sub->spec);
  if (o.bn_recalibration_batches == 0) return true;
  torch::NoGradGuard no_grad;
  for (const auto& module : sub->network->modules(/*include_self=*/false)) {
    if (auto* bn = dynamic_cast<nn::BatchNorm2dImpl*>(module.get())) {
      bn->options.momentum(c10::nullopt);  // a plain average over batches
      bn->reset_running_stats();
    }
  }
  sub->network->train();
  std::mt19937_64 rng(o.seed);
  const int64_t pool = static_cast<int64_t>(split->train_pool.size());
  for (int b = 0; b < o.bn_recalibration_batches; ++b) {
    std::vector<int64_t> batch;
    for (int i = 0; i < o.batch_size; ++i) {
      batch.push_back(split->train_pool[static_cast<int64_t>(rng() % pool)]);
    }
    sub->network->forward(
        data.Normalize(GatherTo(data.train_images(), batch, device)));
  }
  return true;
}

bool Score(const Supernet& net, const std::vector<int>& choices,
           const Dataset& data, const ScoreOptions& o, ScoreResult* result,
           std::string* error) {
  const auto start = Clock::now();
  DataSplit split;
  Subnet sub;
  if (!PrepareSubnet(net, choices, data, o, &split, &sub, result, error)) {
    return false;
  }
  torch::NoGradGuard no_grad;
  std::vector<int64_t> val = split.validation;
  if (o.max_validation_images > 0 &&
      static_cast<int64_t>(val.size()) > o.max_validation_images) {
    val.resize(static_cast<size_t>(o.max_validation_images));
  }
  const torch::Device device(result->device);
  const Evaluation v = Evaluate(
      sub.network, data, GatherTo(data.train_images(), val, device),
      GatherTo(data.train_labels(), val, device), torch::Tensor());
  result->val_accuracy = v.accuracy;
  result->val_loss = v.loss;
  result->seconds = SecondsSince(start);
  return true;
}

}  // namespace

SupernetPtr CreateSupernet(const SupernetSpace& space, uint64_t seed,
                           std::string* error) {
  SupernetPtr net = NewSupernet(space, error);
  if (!net) return nullptr;
  const bool ok = Guarded(error, "supernet failure", [&](std::string*) {
    torch::manual_seed(seed);
    InitBank(net.get());
    return true;
  });
  return ok ? std::move(net) : nullptr;
}

SupernetPtr SupernetFromTensors(const SupernetSpace& space,
                                const tensor::TensorMap& tensors,
                                std::string* error) {
  SupernetPtr net = CreateSupernet(space, 0, error);
  if (!net) return nullptr;
  const bool ok = Guarded(error, "supernet failure", [&](std::string* message) {
    for (const auto& [name, t] : tensors) {
      if (net->bank.count(name) == 0) {
        *message = "tensor " + name + " is not part of this space's supernet";
        return false;
      }
    }
    for (auto& [name, t] : net->bank) {
      auto it = tensors.find(name);
      if (it == tensors.end()) {
        *message = "tensor " + name + " missing from the archive";
        return false;
      }
      if (std::vector<int64_t>(t.sizes().begin(), t.sizes().end()) !=
          it->second.shape) {
        *message = ShapeMismatch(name, t, it->second.shape);
        return false;
      }
      if (static_cast<int64_t>(it->second.values.size()) != t.numel()) {
        *message = "tensor " + name + ": wrong number of values";
        return false;
      }
      t = FromPlain(it->second);
    }
    return true;
  });
  return ok ? std::move(net) : nullptr;
}

tensor::TensorMap SupernetTensors(const Supernet& supernet) {
  tensor::TensorMap out;
  for (const auto& [name, t] : supernet.bank) out[name] = ToPlain(t);
  return out;
}

const space::SearchSpace& SupernetSearchSpace(const Supernet& supernet) {
  return *supernet.space;
}

bool TrainSupernetShard(Supernet* supernet, const Dataset& data,
                        const ShardOptions& options,
                        const ShardProgress& progress, ShardResult* result,
                        std::string* error) {
  *result = ShardResult();
  return Guarded(error, "supernet failure", [&](std::string* message) {
    return TrainShard(supernet, data, options, progress, result, message);
  });
}

bool ScoreSubnet(const Supernet& supernet, const std::vector<int>& choices,
                 const Dataset& data, const ScoreOptions& options,
                 ScoreResult* result, std::string* error) {
  *result = ScoreResult();
  return Guarded(error, "supernet failure", [&](std::string* message) {
    return Score(supernet, choices, data, options, result, message);
  });
}

bool ExtractSubnet(const Supernet& supernet, const std::vector<int>& choices,
                   tensor::TensorMap* out, std::string* error) {
  out->clear();
  return Guarded(error, "supernet failure", [&](std::string*) {
    Subnet sub = BuildSubnet(supernet, choices);
    for (const auto& [name, t] : sub.tensors) (*out)[name] = ToPlain(t);
    return true;
  });
}

bool InheritSubnet(const Supernet& supernet, const std::vector<int>& choices,
                   const Dataset& data, const ScoreOptions& options,
                   tensor::TensorMap* out, std::string* error) {
  out->clear();
  return Guarded(error, "supernet failure", [&](std::string* message) {
    DataSplit split;
    Subnet sub;
    ScoreResult unused;
    if (!PrepareSubnet(supernet, choices, data, options, &split, &sub, &unused,
                       message)) {
      return false;
    }
    for (const auto& [name, t] : sub.tensors) (*out)[name] = ToPlain(t);
    return true;
  });
}

namespace {

std::vector<float> Forward(Network& network, const space::InputShape& in,
                           const std::vector<float>& images, int64_t batch) {
  torch::NoGradGuard no_grad;
  network->eval();
  const torch::Device device = network->parameters().front().device();
  const torch::Tensor x =
      torch::from_blob(const_cast<float*>(images.data()),
                       {batch, in.channels, in.height, in.width},
                       torch::kFloat32)
          .to(device);
  const torch::Tensor y = network->forward(x).to(torch::kCPU).contiguous();
  return std::vector<float>(y.data_ptr<float>(),
                            y.data_ptr<float>() + y.numel());
}

}  // namespace

bool SubnetLogits(const Supernet& supernet, const std::vector<int>& choices,
                  const std::vector<float>& images, int64_t batch,
                  std::vector<float>* logits, std::string* error) {
  return Guarded(error, "supernet failure", [&](std::string*) {
    Subnet sub = BuildSubnet(supernet, choices);
    *logits = Forward(sub.network, sub.spec.input, images, batch);
    return true;
  });
}

bool StandaloneLogits(const space::NetworkSpec& spec,
                      const tensor::TensorMap& tensors,
                      const std::vector<float>& images, int64_t batch,
                      std::vector<float>* logits, std::string* error) {
  return Guarded(error, "supernet failure", [&](std::string* message) {
    Network network = BuildNetwork(spec);
    torch::NoGradGuard no_grad;
    size_t used = 0;
    for (auto& [name, t] : NamedTensors(*network)) {
      auto it = tensors.find(name);
      if (it == tensors.end()) {
        *message = "tensor " + name + " missing";
        return false;
      }
      if (std::vector<int64_t>(t.sizes().begin(), t.sizes().end()) !=
          it->second.shape) {
        *message = ShapeMismatch(name, t, it->second.shape);
        return false;
      }
      t.copy_(FromPlain(it->second));
      ++used;
    }
    if (used != tensors.size()) {
      *message = "archive holds tensors the network does not have";
      return false;
    }
    *logits = Forward(network, spec.input, images, batch);
    return true;
  });
}

}  // namespace nas::train
