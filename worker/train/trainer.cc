// Training and evaluation of one network (see trainer.h for the contract).
#include "worker/train/trainer.h"

#include <dirent.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <random>
#include <variant>
#include <vector>

#include "worker/train/data_split.h"
#include "worker/train/dataset.h"
#include "worker/train/evaluate.h"
#include "worker/train/model_builder.h"
#include "worker/train/train_state.h"
#include "worker/train/train_step.h"

namespace nas::train {
namespace {

constexpr int kLatencyWarmup = 5;
constexpr int kLatencyRuns = 21;
// Check the running loss for NaN/inf every this many steps (a host sync).
constexpr int kFiniteCheckSteps = 25;
constexpr double kPi = 3.14159265358979323846;

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string CheckOptions(const TrainOptions& o) {
  if (o.epochs < 0) return "epochs must be >= 0";
  if (!(o.data_fraction > 0 && o.data_fraction <= 1)) {
    return "data_fraction must be in (0, 1]";
  }
  if (o.batch_size < 2 || o.batch_size > 65536) {
    return "batch_size must be in [2, 65536]";
  }
  if (!(o.learning_rate > 0 && std::isfinite(o.learning_rate))) {
    return "learning_rate must be > 0";
  }
  if (!(o.validation_fraction > 0 && o.validation_fraction < 1)) {
    return "validation_fraction must be in (0, 1)";
  }
  if (o.num_threads < 0) return "num_threads must be >= 0";
  return "";
}

std::string ShapeText(const space::InputShape& s) {
  return std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" +
         std::to_string(s.width) + " (" + std::to_string(s.num_classes) +
         " classes)";
}

double MedianLatencyMs(Network& model, const space::InputShape& shape,
                       const torch::Device& device) {
  torch::NoGradGuard no_grad;
  model->eval();
  const auto x = torch::randn({1, shape.channels, shape.height, shape.width},
                              torch::TensorOptions().device(device));
  const bool cuda = device.is_cuda();
  auto sync = [&] {
    if (cuda) torch::cuda::synchronize(device.index());
  };
  for (int i = 0; i < kLatencyWarmup; ++i) model->forward(x);
  sync();
  std::vector<double> times;
  for (int i = 0; i < kLatencyRuns; ++i) {
    const auto start = Clock::now();
    model->forward(x);
    sync();
    times.push_back(SecondsSince(start) * 1000.0);
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2,
                   times.end());
  return times[times.size() / 2];
}

// The tensors StandaloneLogits loads (supernet.h): parameters and buffers by
// name, without batch-norm step counters.
tensor::TensorMap NetworkWeights(const Network& model) {
  tensor::TensorMap out;
  for (const auto& item : model->named_parameters()) {
    out[item.key()] = ToPlain(item.value());
  }
  for (const auto& item : model->named_buffers()) {
    if (!IsStepCounter(item.key())) out[item.key()] = ToPlain(item.value());
  }
  return out;
}

// On CUDA the fast step (train_step.h) in float32: the same computation,
// launched as one graph per step. On the CPU the plain eager step, whose
// results earlier runs and the resume tests pin down exactly.
StepOptions StepOptionsFor(const torch::Device& device,
                           const TrainOptions& options) {
  StepOptions step;
  const bool fast = device.is_cuda() && options.fast_cuda_step;
  step.flat_sgd = fast;
  step.cudnn_benchmark = fast;
  step.channels_last = fast;
  step.cuda_graph = fast && CudaGraphsBuilt();
  return step;
}

bool Train(const space::NetworkSpec& spec, const Dataset& data,
           const TrainOptions& options, const EpochCallback& on_epoch,
           TrainResult* result, std::string* error) {
  if (std::string bad = CheckOptions(options); !bad.empty()) {
    *error = "bad train options: " + bad;
    return false;
  }
  const space::InputShape& shape = data.shape();
  if (spec.input.channels != shape.channels ||
      spec.input.height != shape.height || spec.input.width != shape.width ||
      spec.input.num_classes != shape.num_classes) {
    *error = "network input " + ShapeText(spec.input) +
             " does not match data set " + data.name() + " " + ShapeText(shape);
    return false;
  }
  const std::string device_name = ResolveDevice(options.device, error);
  if (device_name.empty()) return false;
  const torch::Device device(device_name);
  if (options.num_threads > 0) torch::set_num_threads(options.num_threads);

  // Split: the fixed validation images (data_split.h); data_fraction of the
  // rest, drawn with the trial seed, trains.
  DataSplit split;
  if (!SplitTrainValidation(data.train_images().size(0),
                            options.validation_fraction, &split, error)) {
    return false;
  }
  const std::vector<int64_t>& val_indices = split.validation;
  const std::vector<int64_t>& pool = split.train_pool;
  const int64_t num_train = std::max<int64_t>(
      2,
      std::llround(static_cast<double>(pool.size()) * options.data_fraction));
  std::mt19937_64 rng(options.seed);
  std::vector<int64_t> train_indices;
  for (int64_t i : Permutation(static_cast<int64_t>(pool.size()), rng())) {
    if (static_cast<int64_t>(train_indices.size()) == num_train) break;
    train_indices.push_back(pool[i]);
  }

  const torch::Tensor images = data.train_images().to(device);
  const torch::Tensor labels = data.train_labels().to(device);
  const torch::Tensor val = IndexTensor(val_indices, device);

  torch::manual_seed(options.seed);
  Network model = BuildNetwork(spec);
  model->to(device);
  result->device = device_name;
  result->params = 0;
  for (const auto& p : model->parameters()) result->params += p.numel();
  result->flops = CountFlops(spec);

  // SGD with Nesterov momentum and a cosine decay to zero: with batch norm
  // everywhere it tolerates a high peak rate. On Fashion-MNIST (2 epochs, an
  // inverted-residual chain; docs/data.md) peak rates 0.05-0.2 reached
  // 90.4-90.7% test accuracy against 89.6-90.5% for Adam (3e-3, 1e-2) under
  // the same schedule, and its quality depends less on the rate.
  const int64_t steps_per_epoch = num_train / options.batch_size +
                                  (num_train % options.batch_size >= 2 ? 1 : 0);
  const int64_t total_steps =
      std::max<int64_t>(1, steps_per_epoch * options.epochs);
  int64_t step = 0;
  int first_epoch = 1;
  if (options.initial_weights != nullptr && options.resume_from == nullptr &&
      !LoadWeights(*options.initial_weights, *model, error)) {
    *error = "initial weights do not fit the network: " + *error;
    return false;
  }
  std::unique_ptr<TrainStep> train_step =
      TrainStep::Create(model, data, images, labels,
                        std::min<int64_t>(options.batch_size, images.size(0)),
                        /*momentum=*/0.9, /*weight_decay=*/5e-4,
                        StepOptionsFor(device, options), error);
  if (train_step == nullptr) return false;
  if (options.resume_from != nullptr) {
    int done = 0;
    double seconds = 0;
    if (!LoadTrainState(*options.resume_from, *model, train_step->momentum(),
                        options.epochs, &done, &seconds, error)) {
      return false;
    }
    // The batch order of the epochs already trained comes from the same
    // generator: draw it again, so the next epoch's order is the one an
    // uninterrupted run would use.
    for (int epoch = 1; epoch <= done; ++epoch) {
      for (int64_t i = num_train - 1; i > 0; --i) rng();
    }
    first_epoch = done + 1;
    step = steps_per_epoch * done;
    result->train_seconds = seconds;
    result->epochs_run = done;
    result->resumed_after = done;
  }

  for (int epoch = first_epoch; epoch <= options.epochs; ++epoch) {
    const auto start = Clock::now();
    model->train();
    std::vector<int64_t> order = train_indices;
    for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i) {
      std::swap(order[i], order[static_cast<int64_t>(rng() % (i + 1))]);
    }
    const torch::Tensor epoch_indices = IndexTensor(order, device);
    auto loss_sum = torch::zeros(
        {}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
    int64_t batches = 0;
    for (int64_t begin = 0; begin + 2 <= num_train;
         begin += options.batch_size) {
      const int64_t end = std::min(num_train, begin + options.batch_size);
      const double lr = 0.5 * options.learning_rate *
                        (1 + std::cos(kPi * static_cast<double>(step) /
                                      static_cast<double>(total_steps)));
      loss_sum += train_step->Run(epoch_indices.slice(0, begin, end), lr)
                      .to(torch::kFloat64);
      ++batches;
      ++step;
      if (batches % kFiniteCheckSteps == 0 &&
          !std::isfinite(loss_sum.item<double>())) {
        *error = "training diverged: non-finite loss in epoch " +
                 std::to_string(epoch);
        return false;
      }
    }
    EpochResult epoch_result;
    epoch_result.epoch = epoch;
    epoch_result.train_loss =
        loss_sum.item<double>() /
        static_cast<double>(std::max<int64_t>(1, batches));
    if (!std::isfinite(epoch_result.train_loss)) {
      *error = "training diverged: non-finite loss in epoch " +
               std::to_string(epoch);
      return false;
    }
    const Evaluation v = Evaluate(model, data, images, labels, val);
    epoch_result.val_loss = v.loss;
    epoch_result.val_accuracy = v.accuracy;
    epoch_result.seconds = SecondsSince(start);
    result->val_loss = v.loss;
    result->val_accuracy = v.accuracy;
    result->train_seconds += epoch_result.seconds;
    result->epochs_run = epoch;
    if (options.on_checkpoint &&
        std::find(options.checkpoint_epochs.begin(),
                  options.checkpoint_epochs.end(),
                  epoch) != options.checkpoint_epochs.end() &&
        !options.on_checkpoint(SaveTrainState(*model, train_step->momentum(),
                                              epoch, options.epochs,
                                              result->train_seconds))) {
      result->stopped = true;
      break;
    }
    if (on_epoch && !on_epoch(epoch_result)) {
      result->stopped = true;
      break;
    }
  }
  if (options.epochs == 0) {
    const Evaluation v = Evaluate(model, data, images, labels, val);
    result->val_loss = v.loss;
    result->val_accuracy = v.accuracy;
  }
  if (result->stopped) return true;
  if (options.evaluate_test) {
    const Evaluation test =
        Evaluate(model, data, data.test_images().to(device),
                 data.test_labels().to(device), torch::Tensor());
    result->test_loss = test.loss;
    result->test_accuracy = test.accuracy;
    result->latency_ms = MedianLatencyMs(model, shape, device);
  }
  if (options.keep_weights) result->weights = NetworkWeights(model);
  return true;
}

std::string CpuModelName() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        const size_t begin = line.find_first_not_of(" \t", colon + 1);
        if (begin != std::string::npos) return line.substr(begin);
      }
    }
  }
  return "";
}

// The "Model:" lines of the NVIDIA driver's per-GPU files, ordered by PCI
// bus id (CUDA's order with CUDA_DEVICE_ORDER=PCI_BUS_ID, and usually its
// default order on machines with identical GPUs).
std::vector<std::string> NvidiaGpuModels() {
  const std::string root = "/proc/driver/nvidia/gpus";
  std::vector<std::string> buses;
  if (DIR* dir = opendir(root.c_str())) {
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') buses.push_back(entry->d_name);
    }
    closedir(dir);
  }
  std::sort(buses.begin(), buses.end());
  std::vector<std::string> models;
  for (const std::string& bus : buses) {
    std::ifstream info(root + "/" + bus + "/information");
    std::string line, model;
    while (std::getline(info, line)) {
      if (line.rfind("Model:", 0) == 0) {
        const size_t begin = line.find_first_not_of(" \t", 6);
        if (begin != std::string::npos) model = line.substr(begin);
      }
    }
    models.push_back(model);
  }
  return models;
}

}  // namespace

std::string ResolveDevice(const std::string& requested, std::string* error) {
  auto fail = [error](const std::string& message) {
    if (error) *error = message;
    return std::string();
  };
  try {
    if (requested == "cpu") return "cpu";
    const bool cuda = torch::cuda::is_available();
    if (requested == "auto") return cuda ? "cuda:0" : "cpu";
    int64_t index = -1;
    if (requested == "cuda") {
      index = 0;
    } else if (requested.rfind("cuda:", 0) == 0 && requested.size() > 5 &&
               requested.size() <= 8 &&
               requested.find_first_not_of("0123456789", 5) ==
                   std::string::npos) {
      index = std::stoll(requested.substr(5));
    } else {
      return fail("unknown device \"" + requested +
                  "\" (expected cpu, cuda, cuda:N or auto)");
    }
    if (!cuda) {
      return fail("device \"" + requested +
                  "\": CUDA is not available (LibTorch without CUDA, or no "
                  "GPU/driver)");
    }
    const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
    if (index >= count) {
      return fail("device \"" + requested + "\": only " +
                  std::to_string(count) + " CUDA device(s)");
    }
    return "cuda:" + std::to_string(index);
  } catch (const c10::Error& e) {
    return fail("device \"" + requested + "\": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return fail("device \"" + requested + "\": " + e.what());
  }
}

std::string DeviceName(const std::string& device) {
  if (device == "cpu") {
    const std::string model = CpuModelName();
    return model.empty() ? "cpu" : model;
  }
  if (device.rfind("cuda:", 0) == 0) {
    const std::string index_text = device.substr(5);
    const std::vector<std::string> models = NvidiaGpuModels();
    try {
      const size_t index = std::stoul(index_text);
      const bool matched =
          models.size() == torch::cuda::device_count() && index < models.size();
      if (matched && !models[index].empty()) return models[index];
    } catch (const std::exception&) {
    }
    return "CUDA device " + index_text;
  }
  return device;
}

bool TrainAndEvaluate(const space::NetworkSpec& spec, const Dataset& data,
                      const TrainOptions& options,
                      const EpochCallback& on_epoch, TrainResult* result,
                      std::string* error) {
  std::string message;
  bool ok = false;
  *result = TrainResult();
  try {
    ok = Train(spec, data, options, on_epoch, result, &message);
  } catch (const c10::Error& e) {
    message = e.what_without_backtrace();
  } catch (const std::exception& e) {
    message = e.what();
  }
  if (!ok && error) *error = message.empty() ? "training failed" : message;
  return ok;
}

bool MeasureLatency(const space::NetworkSpec& spec, const std::string& device,
                    double* latency_ms, std::string* error) {
  std::string message;
  try {
    const std::string device_name = ResolveDevice(device, &message);
    if (!device_name.empty()) {
      const torch::Device resolved(device_name);
      Network model = BuildNetwork(spec);
      model->to(resolved);
      *latency_ms = MedianLatencyMs(model, spec.input, resolved);
      return true;
    }
  } catch (const c10::Error& e) {
    message = e.what_without_backtrace();
  } catch (const std::exception& e) {
    message = e.what();
  }
  if (error) *error = message.empty() ? "latency measurement failed" : message;
  return false;
}

}  // namespace nas::train
