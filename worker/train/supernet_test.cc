#include "worker/train/supernet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/space/space.h"
#include "worker/train/dataset.h"
#include "worker/train/test_device.h"

namespace nas::train {
namespace {

std::string TestDevice() { return TestDeviceName(); }

// Class k lights up row k of a 10x10 image, over noise.
std::shared_ptr<const Dataset> RowData(int64_t train, int64_t test) {
  auto make = [](int64_t n, torch::Tensor* images, torch::Tensor* labels) {
    *labels = torch::arange(n, torch::kInt64).remainder(10);
    auto noise = torch::randint(0, 60, {n, 1, 10, 10}, torch::kInt64);
    auto rows = torch::arange(10, torch::kInt64).view({1, 1, 10, 1});
    auto bright = rows.eq(labels->view({n, 1, 1, 1})).to(torch::kInt64) * 190;
    *images = (noise + bright).to(torch::kUInt8);
  };
  torch::manual_seed(7);
  torch::Tensor train_images, train_labels, test_images, test_labels;
  make(train, &train_images, &train_labels);
  make(test, &test_images, &test_labels);
  std::string error;
  auto data = MakeDataset("rows", 10, {0.2f}, {0.3f}, train_images,
                          train_labels, test_images, test_labels, &error);
  EXPECT_NE(data, nullptr) << error;
  return data;
}

const space::InputShape kInput{1, 10, 10, 10};

// Two stages; decisions: stage1.depth, stage1.width, stage1.layer1.op,
// stage1.layer2.op, stage2.depth, stage2.width, stage2.layer1.op,
// stage2.layer2.op.
SupernetSpace ChainSpace() {
  space::ChainConfig config;
  config.stem_channels = 8;
  config.stem_stride = 1;
  config.stages = {{{1, 2}, {8, 16}, {"conv3x3", "ir_k3_e3", "skip"}, 2},
                   {{1, 2}, {16, 24}, {"ir_k3_e3", "ir_k5_e6", "skip"}, 2}};
  return SupernetSpace{config, kInput};
}

SupernetSpace CellSpace() {
  space::Nb201Config config;
  config.channels = 4;
  config.cells_per_stage = 1;
  config.ops = space::Nb201Ops();
  return SupernetSpace{config, kInput};
}

std::vector<float> RandomImages(int64_t n) {
  torch::manual_seed(11);
  torch::Tensor x = torch::randn({n, 1, 10, 10});
  return std::vector<float>(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
}

ShardOptions FastShard(int steps, uint64_t seed) {
  ShardOptions o;
  o.steps = steps;
  o.batch_size = 32;
  o.learning_rate = 0.05;
  o.seed = seed;
  o.device = TestDevice();
  return o;
}

SupernetPtr TrainedChain(int steps) {
  std::string error;
  SupernetPtr net = CreateSupernet(ChainSpace(), 1, &error);
  EXPECT_NE(net, nullptr) << error;
  ShardResult result;
  EXPECT_TRUE(TrainSupernetShard(net.get(), *RowData(400, 100),
                                 FastShard(steps, 3), nullptr, &result, &error))
      << error;
  return net;
}

TEST(SupernetTest, ExtractedSubnetComputesWhatTheSupernetScores) {
  // Trained a little, so weights and batch-norm statistics are no longer
  // their initial values.
  SupernetPtr net = TrainedChain(20);
  const std::vector<float> images = RandomImages(6);
  for (const std::vector<int>& choices :
       {std::vector<int>{1, 0, 1, 2, 1, 0, 0, 1},   // narrow, deep, skips
        std::vector<int>{0, 1, 0, 0, 0, 1, 1, 0},   // wide, shallow
        std::vector<int>{1, 1, 2, 1, 1, 1, 2, 2}}) {  // widest, projections
    tensor::TensorMap extracted;
    std::string error;
    ASSERT_TRUE(ExtractSubnet(*net, choices, &extracted, &error)) << error;
    // Through the archive format, as an exported model travels.
    tensor::TensorMap parsed;
    ASSERT_TRUE(tensor::Parse(tensor::Serialize(extracted), &parsed, &error))
        << error;
    const space::NetworkSpec spec =
        SupernetSearchSpace(*net).Network(choices, kInput);
    std::vector<float> standalone, subnet;
    ASSERT_TRUE(StandaloneLogits(spec, parsed, images, 6, &standalone, &error))
        << error;
    ASSERT_TRUE(SubnetLogits(*net, choices, images, 6, &subnet, &error))
        << error;
    ASSERT_EQ(standalone.size(), 60u);
    ASSERT_EQ(subnet.size(), standalone.size());
    for (size_t i = 0; i < subnet.size(); ++i) {
      EXPECT_NEAR(subnet[i], standalone[i], 1e-4) << i;
    }
  }
}

// A fine-tuned candidate starts from exactly what the candidate's score
// measures: the inherited weights with recalibrated batch norm, evaluated by
// the stand-alone trainer before any training, score as ScoreSubnet scores.
TEST(SupernetTest, InheritedWeightsAreWhatTheScoreMeasures) {
  SupernetPtr net = TrainedChain(40);
  auto data = RowData(400, 100);
  ScoreOptions o;
  o.bn_recalibration_batches = 4;
  o.batch_size = 32;
  o.seed = 9;
  o.device = TestDevice();
  const std::vector<int> choices{1, 1, 1, 0, 0, 1, 1, 0};
  ScoreResult score;
  tensor::TensorMap inherited;
  std::string error;
  ASSERT_TRUE(ScoreSubnet(*net, choices, *data, o, &score, &error)) << error;
  ASSERT_TRUE(InheritSubnet(*net, choices, *data, o, &inherited, &error))
      << error;
  const tensor::TensorMap bank_before = SupernetTensors(*net);

  TrainOptions t;
  t.epochs = 0;
  t.batch_size = 32;
  t.device = TestDevice();
  t.initial_weights = &inherited;
  t.evaluate_test = false;
  TrainResult evaluated;
  const space::NetworkSpec spec =
      SupernetSearchSpace(*net).Network(choices, kInput);
  ASSERT_TRUE(TrainAndEvaluate(spec, *data, t, nullptr, &evaluated, &error))
      << error;
  EXPECT_NEAR(evaluated.val_accuracy, score.val_accuracy, 1e-9);
  EXPECT_NEAR(evaluated.val_loss, score.val_loss, 1e-4);
  EXPECT_GT(score.val_accuracy, 0.3) << "inherited weights must be useful";

  // Recalibration changed the statistics, not the bank.
  tensor::TensorMap extracted;
  ASSERT_TRUE(ExtractSubnet(*net, choices, &extracted, &error)) << error;
  EXPECT_NE(tensor::Serialize(extracted), tensor::Serialize(inherited));
  EXPECT_EQ(tensor::Serialize(SupernetTensors(*net)),
            tensor::Serialize(bank_before));
}

TEST(SupernetTest, NarrowSubnetsUseTheLeadingSliceOfTheBank) {
  SupernetPtr net = TrainedChain(10);
  const tensor::TensorMap bank = SupernetTensors(*net);
  // stage1: depth 1, width 8, layer1 conv3x3; stage2: depth 1, width 16,
  // layer1 ir_k3_e3.
  tensor::TensorMap sub;
  std::string error;
  ASSERT_TRUE(ExtractSubnet(*net, {0, 0, 0, 0, 0, 0, 0, 0}, &sub, &error))
      << error;
  // The bank's conv3x3 of stage 1, layer 1 is [16 (widest), 8 (stem), 3, 3];
  // the subnet's is [8, 8, 3, 3]: its first 8 output channels.
  const tensor::Tensor& whole =
      bank.at("body.stage1.layer1.conv3x3.conv.weight");
  ASSERT_EQ(whole.shape, (std::vector<int64_t>{16, 8, 3, 3}));
  const tensor::Tensor& cut = sub.at("body.layer1.conv.weight");
  ASSERT_EQ(cut.shape, (std::vector<int64_t>{8, 8, 3, 3}));
  EXPECT_EQ(cut.values,
            std::vector<float>(whole.values.begin(),
                               whole.values.begin() + 8 * 8 * 9));
  // Stage 2's first inverted residual expands 8 inputs x3 = 24 channels, a
  // slice of the bank's 16 x3 = 48, in both dimensions of the 1x1 conv.
  const tensor::Tensor& expand =
      bank.at("body.stage2.layer1.ir_k3_e3.body.0.weight");
  ASSERT_EQ(expand.shape, (std::vector<int64_t>{48, 16, 1, 1}));
  const tensor::Tensor& expand_cut = sub.at("body.layer2.body.0.weight");
  ASSERT_EQ(expand_cut.shape, (std::vector<int64_t>{24, 8, 1, 1}));
  for (int o = 0; o < 24; ++o) {
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(expand_cut.values[o * 8 + i], expand.values[o * 16 + i]);
    }
  }
  // The classifier reads the first 16 of the widest 24 features.
  EXPECT_EQ(sub.at("classifier.weight").shape,
            (std::vector<int64_t>{10, 16}));
  EXPECT_EQ(bank.at("classifier.weight").shape,
            (std::vector<int64_t>{10, 24}));
}

TEST(SupernetTest, CellEdgesHoldOneSetOfWeightsPerOp) {
  std::string error;
  SupernetPtr net = CreateSupernet(CellSpace(), 2, &error);
  ASSERT_NE(net, nullptr) << error;
  const tensor::TensorMap bank = SupernetTensors(*net);
  EXPECT_EQ(bank.count("body.cell0_0.edge1_0.nor_conv_3x3.conv.weight"), 1u);
  EXPECT_EQ(bank.count("body.cell0_0.edge1_0.nor_conv_1x1.conv.weight"), 1u);
  EXPECT_EQ(bank.count("body.cell0_0.edge1_0.skip_connect.conv.weight"), 0u);
  const space::SearchSpace& space = SupernetSearchSpace(*net);
  // Every edge nor_conv_3x3 (op index 3 in NB201 order) except edge 0 (1<-0),
  // which is nor_conv_1x1 (index 2).
  std::vector<int> choices(space.decisions().size(), 3);
  choices[0] = 2;
  tensor::TensorMap sub;
  ASSERT_TRUE(ExtractSubnet(*net, choices, &sub, &error)) << error;
  EXPECT_EQ(sub.at("body.cell0_0.edge1_0.conv.weight").values,
            bank.at("body.cell0_0.edge1_0.nor_conv_1x1.conv.weight").values);
  EXPECT_EQ(sub.at("body.cell1_0.edge3_2.conv.weight").values,
            bank.at("body.cell1_0.edge3_2.nor_conv_3x3.conv.weight").values);
  std::vector<float> logits;
  ASSERT_TRUE(SubnetLogits(*net, choices, RandomImages(2), 2, &logits, &error))
      << error;
  EXPECT_EQ(logits.size(), 20u);
}

TEST(SupernetTest, ShardTrainingTeachesEveryPathAndIsDeterministic) {
  auto data = RowData(600, 100);
  std::string error;
  SupernetPtr fresh = CreateSupernet(ChainSpace(), 1, &error);
  ASSERT_NE(fresh, nullptr) << error;
  ScoreOptions score;
  score.bn_recalibration_batches = 5;
  score.batch_size = 32;
  score.device = TestDevice();
  const std::vector<std::vector<int>> archs = {{0, 0, 0, 0, 0, 0, 0, 0},
                                               {1, 1, 1, 1, 1, 1, 1, 1},
                                               {0, 1, 2, 0, 1, 0, 2, 1}};
  SupernetPtr a = CreateSupernet(ChainSpace(), 1, &error);
  SupernetPtr b = CreateSupernet(ChainSpace(), 1, &error);
  ShardResult ra, rb;
  ASSERT_TRUE(TrainSupernetShard(a.get(), *data, FastShard(150, 5), nullptr,
                                 &ra, &error))
      << error;
  ASSERT_TRUE(TrainSupernetShard(b.get(), *data, FastShard(150, 5), nullptr,
                                 &rb, &error))
      << error;
  EXPECT_EQ(ra.steps, 150);
  EXPECT_EQ(ra.images, 150 * 32);
  EXPECT_TRUE(std::isfinite(ra.train_loss));
  for (const auto& choices : archs) {
    ScoreResult before, after;
    ASSERT_TRUE(ScoreSubnet(*fresh, choices, *data, score, &before, &error))
        << error;
    ASSERT_TRUE(ScoreSubnet(*a, choices, *data, score, &after, &error))
        << error;
    // Chance is 0.1; 150 shared steps teach every path (a path is sampled
    // about once in 150 / 3^4 steps here, so most of what it knows is
    // inherited from the others).
    EXPECT_GT(after.val_accuracy, 0.5) << "inherited weights must be useful";
    EXPECT_GT(after.val_accuracy, before.val_accuracy + 0.3);
    EXPECT_LT(before.val_accuracy, 0.3) << "an untrained bank must not be";
    EXPECT_GT(after.params, 0);
    EXPECT_GT(after.flops, 0);
  }
  if (TestDevice() == "cpu") {  // GPU kernels need not be bit-identical
    EXPECT_EQ(tensor::Serialize(SupernetTensors(*a)),
              tensor::Serialize(SupernetTensors(*b)));
  }
}

TEST(SupernetTest, CachedModulesTrainTheBankAsRebuiltSubnetsDo) {
  // The same shard through cached modules that alias the bank and through
  // the reference path that rebuilds each step's subnet and copies it back:
  // equal banks (weights, momentum-driven updates and batch-norm statistics)
  // up to floating-point rounding of the reordered update arithmetic.
  auto data = RowData(400, 100);
  std::string error;
  SupernetPtr cached = CreateSupernet(ChainSpace(), 1, &error);
  SupernetPtr rebuilt = CreateSupernet(ChainSpace(), 1, &error);
  ASSERT_NE(cached, nullptr) << error;
  ShardOptions o = FastShard(60, 9);
  ShardResult rc, rr;
  ASSERT_TRUE(TrainSupernetShard(cached.get(), *data, o, nullptr, &rc, &error))
      << error;
  o.cache_subnet_modules = false;
  ASSERT_TRUE(TrainSupernetShard(rebuilt.get(), *data, o, nullptr, &rr, &error))
      << error;
  EXPECT_NEAR(rc.train_loss, rr.train_loss, 1e-4);
  const tensor::TensorMap a = SupernetTensors(*cached);
  const tensor::TensorMap b = SupernetTensors(*rebuilt);
  const tensor::TensorMap fresh =
      SupernetTensors(*CreateSupernet(ChainSpace(), 1, &error));
  ASSERT_EQ(a.size(), b.size());
  int changed = 0;
  for (const auto& [name, t] : a) {
    const tensor::Tensor& u = b.at(name);
    ASSERT_EQ(t.shape, u.shape) << name;
    for (size_t k = 0; k < t.values.size(); ++k) {
      ASSERT_NEAR(t.values[k], u.values[k],
                  1e-3 + 1e-3 * std::abs(u.values[k]))
          << name << "[" << k << "]";
    }
    changed += t.values != fresh.at(name).values;
  }
  // Both trained (not a vacuous match of two untouched banks).
  EXPECT_GT(changed, static_cast<int>(a.size()) / 2);
}

TEST(SupernetTest, MergedShardsLoadBackAsTheirAverage) {
  auto data = RowData(400, 100);
  std::string error;
  SupernetPtr start = CreateSupernet(ChainSpace(), 1, &error);
  const tensor::TensorMap parent = SupernetTensors(*start);
  std::vector<tensor::TensorMap> shards;
  for (int i = 0; i < 2; ++i) {
    SupernetPtr shard = SupernetFromTensors(ChainSpace(), parent, &error);
    ASSERT_NE(shard, nullptr) << error;
    ShardOptions o = FastShard(10, 20 + i);
    o.shard_index = i;
    o.num_shards = 2;
    ShardResult r;
    ASSERT_TRUE(TrainSupernetShard(shard.get(), *data, o, nullptr, &r, &error))
        << error;
    shards.push_back(SupernetTensors(*shard));
  }
  EXPECT_NE(tensor::Serialize(shards[0]), tensor::Serialize(shards[1]))
      << "different parts, different paths";
  tensor::TensorMap merged;
  ASSERT_TRUE(tensor::WeightedAverage({&shards[0], &shards[1]}, {1, 3},
                                      &merged, &error))
      << error;
  SupernetPtr next = SupernetFromTensors(ChainSpace(), merged, &error);
  ASSERT_NE(next, nullptr) << error;
  const tensor::TensorMap loaded = SupernetTensors(*next);
  const std::string name = "body.stem.conv.weight";
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_NEAR(loaded.at(name).values[k],
                0.25 * shards[0].at(name).values[k] +
                    0.75 * shards[1].at(name).values[k],
                1e-6);
  }
  const std::string stats = "body.stem.bn.running_mean";
  EXPECT_NEAR(loaded.at(stats).values[0],
              0.25 * shards[0].at(stats).values[0] +
                  0.75 * shards[1].at(stats).values[0],
              1e-6)
      << "batch-norm statistics are merged too";
}

TEST(SupernetTest, BadArchivesChoicesAndOptionsAreErrors) {
  std::string error;
  SupernetPtr net = CreateSupernet(ChainSpace(), 1, &error);
  tensor::TensorMap tensors = SupernetTensors(*net);
  tensor::TensorMap missing = tensors;
  missing.erase("classifier.bias");
  EXPECT_EQ(SupernetFromTensors(ChainSpace(), missing, &error), nullptr);
  EXPECT_NE(error.find("classifier.bias missing"), std::string::npos) << error;
  tensor::TensorMap extra = tensors;
  extra["body.unknown"] = tensor::Tensor{{1}, {0}};
  EXPECT_EQ(SupernetFromTensors(ChainSpace(), extra, &error), nullptr);
  EXPECT_NE(error.find("body.unknown is not part"), std::string::npos) << error;
  tensor::TensorMap reshaped = tensors;
  reshaped["classifier.bias"] = tensor::Tensor{{2}, {0, 0}};
  EXPECT_EQ(SupernetFromTensors(ChainSpace(), reshaped, &error), nullptr);
  EXPECT_NE(error.find("classifier.bias: shape [2], expected [10]"),
            std::string::npos)
      << error;
  EXPECT_EQ(SupernetFromTensors(CellSpace(), tensors, &error), nullptr);

  tensor::TensorMap sub;
  EXPECT_FALSE(ExtractSubnet(*net, {0, 0}, &sub, &error));
  EXPECT_NE(error.find("invalid architecture"), std::string::npos) << error;
  auto data = RowData(100, 20);
  ShardOptions bad = FastShard(1, 1);
  bad.shard_index = 2;
  bad.num_shards = 2;
  ShardResult r;
  EXPECT_FALSE(TrainSupernetShard(net.get(), *data, bad, nullptr, &r, &error));
  EXPECT_NE(error.find("shard_index"), std::string::npos) << error;
  ShardOptions few = FastShard(1, 1);
  few.fixed_choices = {0, 1};  // the space has 8 decisions
  EXPECT_FALSE(TrainSupernetShard(net.get(), *data, few, nullptr, &r, &error));
  EXPECT_NE(error.find("fixed_choices"), std::string::npos) << error;
  few.fixed_choices = std::vector<int>(8, -1);
  few.fixed_choices[0] = 2;  // stage1.depth has 2 options
  EXPECT_FALSE(TrainSupernetShard(net.get(), *data, few, nullptr, &r, &error));
  EXPECT_NE(error.find("fixed_choices"), std::string::npos) << error;
  auto wrong_shape = MakeDataset(
      "tiny", 10, {0.5f}, {0.5f}, torch::zeros({20, 1, 5, 5}, torch::kUInt8),
      torch::zeros({20}, torch::kInt64),
      torch::zeros({4, 1, 5, 5}, torch::kUInt8), torch::zeros({4}, torch::kInt64),
      &error);
  ASSERT_NE(wrong_shape, nullptr) << error;
  ScoreResult s;
  EXPECT_FALSE(ScoreSubnet(*net, std::vector<int>(8, 0), *wrong_shape,
                           ScoreOptions(), &s, &error));
  EXPECT_NE(error.find("does not match"), std::string::npos) << error;
}

}  // namespace
}  // namespace nas::train
