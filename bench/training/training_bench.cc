// Training and evaluation speed of the worker's networks on one device, step
// by step from the worker's eager float32 step to the fast step
// (worker/train/train_step.h), against Python PyTorch eager float32 measured
// on the same device in the same run (eager_baseline.py; run.sh runs both).
// Torch only (builds with NAS_TRAIN_ONLY), for GPU machines without gRPC.
//
//   training_bench [--device cuda] [--baseline FILE] [--data_dir DIR]
//       [--steps 100] [--repeats 3] [--epochs 3] [--seeds 2]
//       [--networks nb201,chain] [--modes 1,6,7]
//
// Networks: the NAS-Bench-201 network (C=16, N=5, a 5-convolution cell) on
// 32x32x3 images, and a chain network of the demo's space on 28x28x1, both
// at batch 256 on a synthetic data set held on the device as one tensor
// (8,192 images, shuffled by index per pass, as the worker does).
// With --data_dir (holding fashion_mnist/): each network trained --epochs
// epochs on Fashion-MNIST in float32 eager and in the fast mode, for
// --seeds seeds; the test accuracy of each and the difference.
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "worker/train/cuda_tools.h"
#include "worker/train/dataset.h"
#include "worker/train/evaluate.h"
#include "worker/train/model_builder.h"
#include "worker/train/train_step.h"

namespace {

using Clock = std::chrono::steady_clock;
using nas::train::StepOptions;

constexpr int64_t kBatch = 256;
constexpr int64_t kSyntheticImages = 8192;
constexpr double kMomentum = 0.9;
constexpr double kWeightDecay = 5e-4;
constexpr double kPeakRate = 0.1;
constexpr double kPi = 3.14159265358979323846;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The NAS-Bench-201 network of the issue: C=16, N=5, with the cell
// |nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|
// nor_conv_3x3~1|nor_conv_3x3~2| (five convolutions: the space's costly end).
nas::space::NetworkSpec Nb201Spec(const nas::space::InputShape& input) {
  nas::space::CellNetwork cell;
  cell.channels = 16;
  cell.cells_per_stage = 5;
  cell.edge_ops = {"nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3",
                   "skip_connect", "nor_conv_3x3", "nor_conv_3x3"};
  cell.stem_stride = 1;
  return {input, cell};
}

// The largest network of the quickstart demo's chain space
// (examples/demo_fashion_mnist.yaml).
nas::space::NetworkSpec ChainSpec(const nas::space::InputShape& input) {
  nas::space::ChainNetwork chain;
  chain.stem_channels = 16;
  chain.stem_stride = 2;
  chain.layers = {{"ir_k5_e3", 24, 2},
                  {"ir_k5_e3", 24, 1},
                  {"ir_k5_e6", 48, 2},
                  {"ir_k5_e6", 48, 1},
                  {"ir_k3_e6", 48, 1}};
  return {input, chain};
}

struct Mode {
  std::string name;
  StepOptions options;
};

// Each mode adds one speed-up to the one before; the first is the step
// trainer.cc runs on the CPU (and ran on CUDA before the fast step).
std::vector<Mode> Modes(bool cuda) {
  std::vector<Mode> modes;
  StepOptions o;
  o.flat_sgd = false;
  modes.push_back({"eager fp32 (plain step)", o});
  o.flat_sgd = true;
  modes.push_back({"+ flat SGD", o});
  if (cuda) {
    o.cudnn_benchmark = true;
    modes.push_back({"+ cuDNN autotuning", o});
  }
  o.channels_last = true;
  modes.push_back({"+ channels last", o});
  if (cuda) {  // LibTorch 1.13 has no bf16 ReLU6 backward on the CPU
    o.bf16_autocast = true;
    modes.push_back({"+ bf16 autocast", o});
    o.cuda_graph = true;
    modes.push_back({"+ CUDA graph (fast)", o});
    // What the worker's trainer runs on CUDA (TrainOptions::fast_cuda_step):
    // the fast step without bf16, so that its results stay float32.
    o.bf16_autocast = false;
    modes.push_back({"fast fp32 (worker on CUDA)", o});
  }
  return modes;
}

std::shared_ptr<const nas::train::Dataset> SyntheticData(
    const nas::space::InputShape& shape) {
  torch::manual_seed(1);
  const torch::Tensor images = torch::randint(
      0, 256, {kSyntheticImages, shape.channels, shape.height, shape.width},
      torch::kInt64);
  const torch::Tensor labels =
      torch::randint(0, shape.num_classes, {kSyntheticImages}, torch::kInt64);
  std::vector<float> mean(shape.channels, 0.5f), std(shape.channels, 0.25f);
  std::string error;
  auto data = nas::train::MakeDataset("synthetic", shape.num_classes, mean, std,
                                      images.to(torch::kUInt8), labels,
                                      images.slice(0, 0, 16).to(torch::kUInt8),
                                      labels.slice(0, 0, 16), &error);
  if (!data) std::fprintf(stderr, "synthetic data: %s\n", error.c_str());
  return data;
}

void Sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// Batches of a shuffled pass over n images, drawn on the device.
class Batches {
 public:
  Batches(int64_t n, const torch::Device& device, uint64_t seed)
      : n_(n), device_(device), generator_seed_(seed) {}
  torch::Tensor Next() {
    if (!order_.defined() || next_ + kBatch > n_) {
      torch::manual_seed(generator_seed_++);
      order_ = torch::randperm(
          n_, torch::TensorOptions().dtype(torch::kInt64).device(device_));
      next_ = 0;
    }
    torch::Tensor batch = order_.slice(0, next_, next_ + kBatch);
    next_ += kBatch;
    return batch;
  }
  int64_t StepsPerPass() const { return n_ / kBatch; }

 private:
  const int64_t n_;
  const torch::Device device_;
  uint64_t generator_seed_;
  torch::Tensor order_;
  int64_t next_ = 0;
};

// Forward passes in eval mode, as the mode runs them (autocast, channels
// last, a graph).
class Forward {
 public:
  Forward(nas::train::Network model, const nas::train::Dataset& data,
          torch::Tensor images, const StepOptions& options)
      : model_(std::move(model)),
        data_(data),
        images_(std::move(images)),
        options_(options) {}

  bool Prepare(std::string* error) {
    model_->eval();
    if (!options_.cuda_graph) return true;
    indices_ = torch::arange(
        kBatch,
        torch::TensorOptions().dtype(torch::kInt64).device(images_.device()));
    return graph_.Capture(
        images_.device().index(), 3, [this] { logits_ = Body(indices_); },
        error);
  }

  torch::Tensor Run(const torch::Tensor& indices) {
    if (!graph_.captured()) return Body(indices);
    indices_.copy_(indices);
    graph_.Replay();
    return logits_;
  }

 private:
  torch::Tensor Body(const torch::Tensor& indices) {
    torch::NoGradGuard no_grad;
    const torch::Tensor x = nas::train::NormalizedBatch(data_, images_, indices,
                                                        options_.channels_last);
    nas::train::Bf16Autocast autocast(options_.bf16_autocast,
                                      images_.device().type());
    return model_->forward(x);
  }

  nas::train::Network model_;
  const nas::train::Dataset& data_;
  torch::Tensor images_;
  const StepOptions options_;
  torch::Tensor indices_, logits_;
  nas::train::CudaGraph graph_;
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

struct Speed {
  double train_images_per_s = 0;
  double eval_images_per_s = 0;
  double peak_mib = -1;
  int64_t params = 0;
  std::string error;
};

Speed MeasureSpeedOrThrow(const nas::space::NetworkSpec& spec,
                          const nas::train::Dataset& data,
                          const torch::Device& device,
                          const StepOptions& options, int steps, int repeats) {
  Speed speed;
  const torch::Tensor images = data.train_images().to(device);
  const torch::Tensor labels = data.train_labels().to(device);
  // "cuda" has no index; the tensor's device has.
  const int index = images.device().index();
  Sync(device);
  if (device.is_cuda()) nas::train::ResetPeakDeviceBytes(index);
  torch::manual_seed(0);
  nas::train::Network model = nas::train::BuildNetwork(spec);
  for (const auto& p : model->parameters()) speed.params += p.numel();
  auto step = nas::train::TrainStep::Create(model, data, images, labels, kBatch,
                                            kMomentum, kWeightDecay, options,
                                            &speed.error);
  if (!step) return speed;
  Batches batches(images.size(0), device, 7);
  const int total = steps * (repeats + 1);
  int done = 0;
  auto run = [&](int n) {
    for (int i = 0; i < n; ++i, ++done) {
      const double lr = 0.5 * kPeakRate *
                        (1 + std::cos(kPi * done / static_cast<double>(total)));
      step->Run(batches.Next(), lr);
    }
  };
  run(steps);  // warm-up: allocator, cuDNN autotuning, lazy initialisation
  std::vector<double> rates;
  for (int r = 0; r < repeats; ++r) {
    Sync(device);
    const auto start = Clock::now();
    run(steps);
    Sync(device);
    rates.push_back(steps * kBatch / SecondsSince(start));
  }
  speed.train_images_per_s = Median(rates);
  if (device.is_cuda()) {
    speed.peak_mib = nas::train::PeakDeviceBytes(index) / 1048576.0;
  }

  Forward forward(model, data, images, options);
  if (!forward.Prepare(&speed.error)) return speed;
  for (int i = 0; i < steps; ++i) forward.Run(batches.Next());
  rates.clear();
  for (int r = 0; r < repeats; ++r) {
    Sync(device);
    const auto start = Clock::now();
    for (int i = 0; i < steps; ++i) forward.Run(batches.Next());
    Sync(device);
    rates.push_back(steps * kBatch / SecondsSince(start));
  }
  speed.eval_images_per_s = Median(rates);
  return speed;
}

// Runs `measure`, turning a Torch exception into the result's error (its
// first line), so that one failing mode leaves the others' rows.
template <typename Result, typename Measure>
Result Guarded(Measure&& measure) {
  try {
    return measure();
  } catch (const std::exception& e) {
    Result failed;
    failed.error = e.what();
    failed.error = failed.error.substr(0, failed.error.find('\n'));
    return failed;
  }
}

Speed MeasureSpeed(const nas::space::NetworkSpec& spec,
                   const nas::train::Dataset& data, const torch::Device& device,
                   const StepOptions& options, int steps, int repeats) {
  return Guarded<Speed>([&] {
    return MeasureSpeedOrThrow(spec, data, device, options, steps, repeats);
  });
}

struct Accuracy {
  double test_accuracy = 0;
  double seconds = 0;
  std::string error;
};

// Trains `epochs` passes over the whole training split (the last partial
// batch dropped, so that every step has the graph's shape) with a cosine
// rate, then evaluates in float32 eager on the test split.
Accuracy TrainForAccuracyOrThrow(const nas::space::NetworkSpec& spec,
                                 const nas::train::Dataset& data,
                                 const torch::Device& device,
                                 const StepOptions& options, int epochs,
                                 uint64_t seed) {
  Accuracy out;
  const torch::Tensor images = data.train_images().to(device);
  const torch::Tensor labels = data.train_labels().to(device);
  torch::manual_seed(seed);
  nas::train::Network model = nas::train::BuildNetwork(spec);
  const auto start = Clock::now();
  auto step = nas::train::TrainStep::Create(model, data, images, labels, kBatch,
                                            kMomentum, kWeightDecay, options,
                                            &out.error);
  if (!step) return out;
  Batches batches(images.size(0), device, seed * 1000);
  const int64_t total = batches.StepsPerPass() * epochs;
  torch::Tensor loss_sum =
      torch::zeros({}, torch::TensorOptions().device(device));
  for (int64_t i = 0; i < total; ++i) {
    const double lr = 0.5 * kPeakRate * (1 + std::cos(kPi * i / total));
    loss_sum += step->Run(batches.Next(), lr);
  }
  if (!std::isfinite(loss_sum.item<double>())) {
    out.error = "non-finite training loss";
    return out;
  }
  Sync(device);
  out.seconds = SecondsSince(start);
  const nas::train::Evaluation test =
      nas::train::Evaluate(model, data, data.test_images().to(device),
                           data.test_labels().to(device), torch::Tensor());
  out.test_accuracy = test.accuracy;
  return out;
}

Accuracy TrainForAccuracy(const nas::space::NetworkSpec& spec,
                          const nas::train::Dataset& data,
                          const torch::Device& device,
                          const StepOptions& options, int epochs,
                          uint64_t seed) {
  return Guarded<Accuracy>([&] {
    return TrainForAccuracyOrThrow(spec, data, device, options, epochs, seed);
  });
}

// "network key value" lines written by eager_baseline.py.
std::map<std::string, double> ReadBaseline(const std::string& path) {
  std::map<std::string, double> out;
  std::ifstream in(path);
  std::string network, key;
  double value;
  while (in >> network >> key >> value) out[network + "/" + key] = value;
  return out;
}

std::string Ratio(double value, double baseline) {
  if (baseline <= 0 || value <= 0) return "-";
  char text[32];
  std::snprintf(text, sizeof(text), "%.2fx", value / baseline);
  return text;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "training_bench: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = {
      {"device", "cuda"}, {"baseline", ""},           {"data_dir", ""},
      {"steps", "100"},   {"repeats", "3"},           {"epochs", "3"},
      {"seeds", "2"},     {"networks", "nb201,chain"}, {"modes", ""}};
  for (int i = 1; i < argc; i += 2) {
    const std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || flags.count(key.substr(2)) == 0 ||
        i + 1 >= argc) {
      return Fail("unknown option or missing value: " + key);
    }
    flags[key.substr(2)] = argv[i + 1];
  }
  const torch::Device device(flags["device"]);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    return Fail("no CUDA device");
  }
  const int steps = std::stoi(flags["steps"]);
  const int repeats = std::stoi(flags["repeats"]);
  const std::map<std::string, double> baseline =
      flags["baseline"].empty() ? std::map<std::string, double>()
                                : ReadBaseline(flags["baseline"]);
  std::vector<std::string> networks;
  std::stringstream list(flags["networks"]);
  for (std::string name; std::getline(list, name, ',');) {
    if (name != "nb201" && name != "chain") {
      return Fail("unknown network " + name + " (nb201, chain)");
    }
    networks.push_back(name);
  }
  // --modes: 1-based rows of Modes() to measure (e.g. 1,6,7); all without.
  std::vector<Mode> selected;
  const std::vector<Mode> all_modes = Modes(device.is_cuda());
  std::stringstream mode_list(flags["modes"]);
  for (std::string n; std::getline(mode_list, n, ',');) {
    const int i = std::atoi(n.c_str());
    if (i < 1 || i > static_cast<int>(all_modes.size())) {
      return Fail("--modes: no mode " + n + " (1 to " +
                  std::to_string(all_modes.size()) + ")");
    }
    selected.push_back(all_modes[i - 1]);
  }
  if (selected.empty()) selected = all_modes;
  auto spec_of = [](const std::string& network,
                    const nas::space::InputShape& shape) {
    return network == "nb201" ? Nb201Spec(shape) : ChainSpec(shape);
  };
  std::printf("device %s, LibTorch %s, CUDA graphs built: %s\n",
              device.str().c_str(), TORCH_VERSION,
              nas::train::CudaGraphsBuilt() ? "yes" : "no");

  std::printf(
      "\n| network | mode | train img/s | vs Python | eval img/s | vs Python "
      "| peak MiB |\n|---|---|---|---|---|---|---|\n");
  std::fflush(stdout);
  for (const std::string& network : networks) {
    const nas::space::InputShape shape =
        network == "nb201" ? nas::space::InputShape{3, 32, 32, 10}
                           : nas::space::InputShape{1, 28, 28, 10};
    auto data = SyntheticData(shape);
    if (!data) return Fail("no synthetic data");
    const double py_train = baseline.count(network + "/train_images_per_s")
                                ? baseline.at(network + "/train_images_per_s")
                                : 0;
    const double py_eval = baseline.count(network + "/eval_images_per_s")
                               ? baseline.at(network + "/eval_images_per_s")
                               : 0;
    if (py_train > 0) {
      std::printf(
          "| %s | Python eager fp32 (baseline) | %.0f | 1.00x | %.0f | "
          "1.00x | %.0f |\n",
          network.c_str(), py_train, py_eval,
          baseline.count(network + "/peak_mib")
              ? baseline.at(network + "/peak_mib")
              : -1.0);
    }
    for (const Mode& mode : selected) {
      const Speed s = MeasureSpeed(spec_of(network, shape), *data, device,
                                   mode.options, steps, repeats);
      if (!s.error.empty()) {
        std::printf("| %s | %s | failed: %s | | | | |\n", network.c_str(),
                    mode.name.c_str(), s.error.c_str());
        continue;
      }
      std::printf("| %s | %s | %.0f | %s | %.0f | %s | %.0f |\n",
                  network.c_str(), mode.name.c_str(), s.train_images_per_s,
                  Ratio(s.train_images_per_s, py_train).c_str(),
                  s.eval_images_per_s,
                  Ratio(s.eval_images_per_s, py_eval).c_str(), s.peak_mib);
      const auto py_params = baseline.find(network + "/params");
      if (py_params != baseline.end() &&
          static_cast<int64_t>(py_params->second) != s.params) {
        std::printf(
            "| %s | WARNING: %lld parameters here, %lld in Python: "
            "not the same network | | | | |\n",
            network.c_str(), static_cast<long long>(s.params),
            static_cast<long long>(py_params->second));
      }
      std::fflush(stdout);
    }
  }

  if (flags["data_dir"].empty()) return 0;
  std::string error;
  auto fashion =
      nas::train::LoadDataset("fashion_mnist", flags["data_dir"], &error);
  if (!fashion) return Fail(error);
  const int epochs = std::stoi(flags["epochs"]);
  const int seeds = std::stoi(flags["seeds"]);
  // The plain step against the fastest (bf16 and the graph; on the CPU,
  // channels last).
  const std::vector<Mode> modes = Modes(device.is_cuda());
  const std::vector<Mode> compared = {
      modes.front(), modes[device.is_cuda() ? modes.size() - 2 : modes.size() - 1]};
  std::printf(
      "\nFashion-MNIST test accuracy after %d epochs (batch %lld, cosine "
      "from %.2f, the last partial batch dropped), per seed\n\n"
      "| network | mode | seeds | mean test acc | s per run |\n"
      "|---|---|---|---|---|\n",
      epochs, static_cast<long long>(kBatch), kPeakRate);
  for (const std::string& network : networks) {
    const nas::space::NetworkSpec spec =
        spec_of(network, nas::train::DatasetShape(*fashion));
    std::vector<double> means;
    for (const Mode& mode : compared) {
      std::string per_seed;
      double sum = 0, seconds = 0;
      for (int seed = 1; seed <= seeds; ++seed) {
        const Accuracy a = TrainForAccuracy(spec, *fashion, device,
                                            mode.options, epochs, seed);
        if (!a.error.empty())
          return Fail(network + " " + mode.name + ": " + a.error);
        char text[32];
        std::snprintf(text, sizeof(text), "%s%.2f", per_seed.empty() ? "" : " ",
                      100 * a.test_accuracy);
        per_seed += text;
        sum += a.test_accuracy;
        seconds += a.seconds;
      }
      means.push_back(100 * sum / seeds);
      std::printf("| %s | %s | %s | %.2f%% | %.1f |\n", network.c_str(),
                  mode.name.c_str(), per_seed.c_str(), means.back(),
                  seconds / seeds);
      std::fflush(stdout);
    }
    std::printf("| %s | difference (fast - fp32) | | %+.2f points | |\n",
                network.c_str(), means.back() - means.front());
  }
  return 0;
}
