#include "worker/train/train_step.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "worker/train/test_device.h"

namespace nas::train {
namespace {

// The graph test needs NAS_TEST_DEVICE=cuda (test_device.h).
torch::Device TestDevice() { return torch::Device(TestDeviceName()); }

// Class k lights up row k of a 10x10 image, over noise.
std::shared_ptr<const Dataset> RowData(int64_t n) {
  torch::manual_seed(11);
  torch::Tensor labels = torch::arange(n, torch::kInt64).remainder(10);
  torch::Tensor noise = torch::randint(0, 60, {n, 1, 10, 10}, torch::kInt64);
  torch::Tensor rows = torch::arange(10, torch::kInt64).view({1, 1, 10, 1});
  torch::Tensor images =
      (noise + rows.eq(labels.view({n, 1, 1, 1})).to(torch::kInt64) * 190)
          .to(torch::kUInt8);
  std::string error;
  auto data =
      MakeDataset("rows", 10, {0.2f}, {0.3f}, images, labels,
                  images.slice(0, 0, 10), labels.slice(0, 0, 10), &error);
  EXPECT_NE(data, nullptr) << error;
  return data;
}

// Every kind of layer the builder makes: convs, inverted residuals (with and
// without the residual), a projecting skip, batch norm, the classifier.
space::NetworkSpec ChainSpec() {
  space::NetworkSpec spec;
  spec.input = {1, 10, 10, 10};
  space::ChainNetwork net;
  net.stem_channels = 8;
  net.stem_stride = 1;
  net.layers = {{"ir_k3_e3", 8, 1},
                {"conv3x3", 12, 2},
                {"skip", 16, 1},
                {"ir_k5_e3", 16, 1}};
  spec.body = net;
  return spec;
}

struct Trained {
  std::vector<torch::Tensor> losses;
  std::vector<torch::Tensor> state;  // parameters then buffers, on the host
};

// `steps` steps from the same initial weights and batches whatever the
// options, so that runs with different options can be compared.
Trained TrainSteps(const StepOptions& options, int steps,
                   const space::NetworkSpec& spec = ChainSpec()) {
  const torch::Device device = TestDevice();
  auto data = RowData(256);
  torch::manual_seed(3);
  Network model = BuildNetwork(spec);
  const torch::Tensor images = data->train_images().to(device);
  const torch::Tensor labels = data->train_labels().to(device);
  std::string why;
  auto step = TrainStep::Create(model, *data, images, labels, 32, 0.9, 5e-4,
                                options, &why);
  Trained out;
  if (step == nullptr) {
    ADD_FAILURE() << why;
    return out;
  }
  for (int i = 0; i < steps; ++i) {
    const torch::Tensor indices =
        torch::arange(i * 32, i * 32 + 32, torch::kInt64)
            .remainder(256)
            .to(device);
    out.losses.push_back(step->Run(indices, 0.1 / (1 + i)).clone().cpu());
  }
  for (const torch::Tensor& p : model->parameters()) {
    out.state.push_back(p.detach().cpu().contiguous());
  }
  for (const torch::Tensor& b : model->buffers()) {
    out.state.push_back(b.detach().cpu().contiguous());
  }
  return out;
}

// The largest relative difference ||a - b|| / ||b|| over the tensors of two
// runs (parameters, then batch-norm buffers), with the tensor's index.
struct Difference {
  double relative = 0;
  size_t tensor = 0;
};

Difference Compare(const Trained& a, const Trained& b) {
  EXPECT_EQ(a.state.size(), b.state.size());
  Difference worst;
  for (size_t i = 0; i < a.state.size() && i < b.state.size(); ++i) {
    const torch::Tensor x = a.state[i].to(torch::kFloat64);
    const torch::Tensor y = b.state[i].to(torch::kFloat64);
    const double relative = (x - y).norm().item<double>() /
                            std::max(y.norm().item<double>(), 1e-12);
    if (relative > worst.relative) worst = {relative, i};
  }
  return worst;
}

double MaxDifference(const Trained& a, const Trained& b) {
  const Difference d = Compare(a, b);
  std::printf("largest relative difference %.3g in tensor %zu\n", d.relative,
              d.tensor);
  return d.relative;
}

TEST(TrainStepTest, FlatSgdMatchesNesterovSgdStepForStep) {
  StepOptions per_parameter;
  per_parameter.flat_sgd = false;
  const Trained reference = TrainSteps(per_parameter, 6);
  const Trained flat = TrainSteps(StepOptions{}, 6);
  ASSERT_EQ(reference.losses.size(), 6u);
  for (size_t i = 0; i < reference.losses.size(); ++i) {
    EXPECT_NEAR(flat.losses[i].item<double>(),
                reference.losses[i].item<double>(), 1e-5)
        << "step " << i;
  }
  EXPECT_LT(MaxDifference(reference, flat), 1e-5);
  // And training happened: the weights moved.
  StepOptions no_steps;
  EXPECT_GT(MaxDifference(flat, TrainSteps(no_steps, 0)), 1e-3);
}

TEST(TrainStepTest, ChannelsLastComputesTheSameSteps) {
  StepOptions nhwc;
  nhwc.channels_last = true;
  const Trained reference = TrainSteps(StepOptions{}, 6);
  const Trained channels_last = TrainSteps(nhwc, 6);
  EXPECT_LT(MaxDifference(reference, channels_last), 1e-4);
}

TEST(TrainStepTest, Bf16AutocastTrainsCloseToFloat32) {
  StepOptions bf16;
  bf16.bf16_autocast = true;
  // LibTorch 1.13 has no bf16 ReLU6 backward on the CPU: plain convs.
  space::NetworkSpec spec = ChainSpec();
  std::get<space::ChainNetwork>(spec.body).layers = {
      {"conv3x3", 8, 1}, {"conv3x3", 12, 2}, {"skip", 16, 1}};
  const Trained reference = TrainSteps(StepOptions{}, 20, spec);
  const Trained mixed = TrainSteps(bf16, 20, spec);
  // bf16 rounds the convolutions (8 bits of mantissa), so the runs differ,
  // but they learn alike: the loss falls, and by the same amount.
  for (const Trained* run : {&reference, &mixed}) {
    EXPECT_LT(run->losses.back().item<double>(),
              0.8 * run->losses.front().item<double>());
  }
  EXPECT_NEAR(mixed.losses.back().item<double>(),
              reference.losses.back().item<double>(), 0.05);
  EXPECT_GT(MaxDifference(reference, mixed), 0);
  EXPECT_LT(MaxDifference(reference, mixed), 0.1);
}

TEST(TrainStepTest, Bf16AutocastScopeCastsConvolutionsAndEnds) {
  const torch::Device device = TestDevice();
  auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 2, 3));
  conv->to(device);
  const torch::Tensor x = torch::randn({1, 1, 5, 5}, device);
  {
    Bf16Autocast autocast(true, device.type());
    EXPECT_EQ(conv(x).scalar_type(), torch::kBFloat16);
    {
      Bf16Autocast inner(true, device.type());
      EXPECT_EQ(conv(x).scalar_type(), torch::kBFloat16);
    }
    EXPECT_EQ(conv(x).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(conv(x).scalar_type(), torch::kFloat32);
  Bf16Autocast off(false, device.type());
  EXPECT_EQ(conv(x).scalar_type(), torch::kFloat32);
}

TEST(TrainStepTest, RefusesWhatTheDeviceCannotRun) {
  auto data = RowData(64);
  std::string error;
  StepOptions graph;
  graph.cuda_graph = true;
  graph.flat_sgd = false;
  EXPECT_EQ(
      TrainStep::Create(BuildNetwork(ChainSpec()), *data, data->train_images(),
                        data->train_labels(), 32, 0.9, 5e-4, graph, &error),
      nullptr);
  EXPECT_NE(error.find("need"), std::string::npos) << error;
  if (!TestDevice().is_cuda()) {
    StepOptions on_cpu;
    on_cpu.cuda_graph = true;
    EXPECT_EQ(TrainStep::Create(BuildNetwork(ChainSpec()), *data,
                                data->train_images(), data->train_labels(), 32,
                                0.9, 5e-4, on_cpu, &error),
              nullptr);
    EXPECT_NE(error.find("need a CUDA device, not cpu"), std::string::npos)
        << error;
  }
  if (!CudaGraphsBuilt()) {
    CudaGraph graph;
    EXPECT_FALSE(graph.Capture(
        0, 1, [] {}, &error));
    EXPECT_NE(error.find("this build has no CUDA"), std::string::npos) << error;
    EXPECT_FALSE(graph.captured());
  }
  StepOptions ok;
  EXPECT_EQ(
      TrainStep::Create(BuildNetwork(ChainSpec()), *data, data->train_images(),
                        data->train_labels(), 65, 0.9, 5e-4, ok, &error),
      nullptr);
  EXPECT_NE(error.find("batch_size must be in [2, 64], got 65"),
            std::string::npos)
      << error;
}

// On a GPU: the replayed graph computes the eager steps.
TEST(TrainStepTest, CudaGraphReplaysTheEagerSteps) {
  if (!TestDevice().is_cuda() || !CudaGraphsBuilt()) {
    GTEST_SKIP() << "needs NAS_TEST_DEVICE=cuda and LibTorch with CUDA";
  }
  const Trained eager = TrainSteps(StepOptions{}, 8);
  StepOptions graph;
  graph.cuda_graph = true;
  const Trained replayed = TrainSteps(graph, 8);
  ASSERT_EQ(replayed.losses.size(), 8u);
  for (size_t i = 0; i < eager.losses.size(); ++i) {
    EXPECT_NEAR(replayed.losses[i].item<double>(),
                eager.losses[i].item<double>(), 1e-4)
        << "step " << i;
  }
  EXPECT_LT(MaxDifference(eager, replayed), 1e-4);
}

}  // namespace
}  // namespace nas::train
