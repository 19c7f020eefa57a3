#include "worker/train/model_builder.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <stdexcept>

#include "common/space/space.h"
#include "worker/train/trainer.h"

namespace nas::train {
namespace {

using Edges = std::array<std::string, 6>;

int64_t NumParams(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel();
  return total;
}

std::vector<int64_t> Shape(const torch::Tensor& t) {
  return std::vector<int64_t>(t.sizes().begin(), t.sizes().end());
}

space::NetworkSpec TinyCellSpec(std::array<std::string, 6> edges) {
  space::CellNetwork cell;
  cell.channels = 4;
  cell.cells_per_stage = 1;
  cell.edge_ops = std::move(edges);
  return space::NetworkSpec{space::InputShape{1, 8, 8, 10}, cell};
}

space::NetworkSpec TinyChainSpec(std::vector<space::ChainLayer> layers) {
  space::ChainNetwork chain;
  chain.stem_channels = 4;
  chain.stem_stride = 1;
  chain.layers = std::move(layers);
  return space::NetworkSpec{space::InputShape{1, 8, 8, 10}, chain};
}

TEST(ModelBuilderTest, Nb201OpsKeepShape) {
  torch::manual_seed(0);
  const auto x = torch::randn({2, 8, 10, 10});
  EXPECT_EQ(Shape(ReluConvBn(8, 8, 3, 1)(x)), Shape(x));
  EXPECT_EQ(Shape(ReluConvBn(8, 8, 1, 1)(x)), Shape(x));
  for (const std::string& op : space::Nb201Ops()) {
    Cell cell(8, Edges{op, op, op, op, op, op});
    const auto y = cell(x);
    EXPECT_EQ(Shape(y), Shape(x)) << op;
    if (op == "none") {
      EXPECT_EQ(y.abs().sum().item<float>(), 0.0f);
    }
  }
  // Only a skip: the cell is the identity plus zero paths.
  Cell skip(8, Edges{"none", "none", "none", "skip_connect", "none", "none"});
  EXPECT_TRUE(torch::equal(skip(x), x));
}

TEST(ModelBuilderTest, ReductionHalvesEvenAndOddSizes) {
  ResidualReduction reduce(8, 16);
  EXPECT_EQ(Shape(reduce(torch::randn({2, 8, 28, 28}))),
            (std::vector<int64_t>{2, 16, 14, 14}));
  EXPECT_EQ(Shape(reduce(torch::randn({2, 8, 7, 7}))),
            (std::vector<int64_t>{2, 16, 4, 4}));
}

TEST(ModelBuilderTest, ChainOpsGiveExpectedShapes) {
  const auto x = torch::randn({2, 16, 7, 7});
  for (const std::string& op : space::ChainOps()) {
    for (int stride : {1, 2}) {
      for (int out : {16, 24}) {
        auto layer = MakeChainLayer(op, 16, out, stride);
        const int size = stride == 1 ? 7 : 4;
        EXPECT_EQ(Shape(layer.forward(x)),
                  (std::vector<int64_t>{2, out, size, size}))
            << op << " stride " << stride << " out " << out;
      }
    }
  }
  // A skip that keeps the shape is the identity and has no weights.
  Skip identity(16, 16, 1);
  EXPECT_TRUE(torch::equal(identity(x), x));
  EXPECT_EQ(NumParams(*identity), 0);
}

TEST(ModelBuilderTest, UnknownOpsThrow) {
  EXPECT_THROW(MakeChainLayer("conv9x8", 4, 4, 1), std::invalid_argument);
  EXPECT_THROW(MakeChainLayer("ir_k3", 4, 4, 1), std::invalid_argument);
  EXPECT_THROW(MakeChainLayer("conv4x4", 4, 4, 1), std::invalid_argument);
  EXPECT_THROW(
      Cell(4, Edges{"nor_conv_5x5", "none", "none", "none", "none", "none"}),
      std::invalid_argument);
  EXPECT_EQ(CountParameters(TinyChainSpec({{"conv9x9x", 8, 1}})), -1);
  EXPECT_EQ(
      CountFlops(TinyCellSpec({"bad", "none", "none", "none", "none", "none"})),
      -1);
}

TEST(ModelBuilderTest, HandCountedParameters) {
  // Conv 3x3 8->8 without bias: 8*8*9 = 576; BatchNorm: 2*8 = 16.
  EXPECT_EQ(NumParams(*ReluConvBn(8, 8, 3, 1)), 576 + 16);
  // Reduction 8->16: conv_a 8*16*9 + 32, conv_b 16*16*9 + 32, shortcut 8*16.
  EXPECT_EQ(NumParams(*ResidualReduction(8, 16)), 1152 + 32 + 2304 + 32 + 128);
  // Inverted residual 16->24, k3, e3 (hidden 48): expand 16*48 + 96,
  // depthwise 9*48 + 96, project 48*24 + 48.
  EXPECT_EQ(NumParams(*InvertedResidual(16, 24, 3, 3, 2)),
            768 + 96 + 432 + 96 + 1152 + 48);
  // Projecting skip 16->32: 1x1 conv 512 + BN 64.
  EXPECT_EQ(NumParams(*Skip(16, 32, 2)), 512 + 64);
}

TEST(ModelBuilderTest, TinyCellNetworkCounts) {
  // Input 1x8x8, C = 4, one cell per stage holding a single 3x3 conv edge.
  const auto spec =
      TinyCellSpec({"none", "none", "none", "nor_conv_3x3", "none", "none"});
  // Params: stem 36 + 8; cells 152, 592, 2336 (k*k*C*C + 2C at C = 4, 8,
  // 16); reductions 4->8: 288+16 + 576+16 + 32 = 928, 8->16: 3648; last BN
  // 32; classifier 16*10 + 10.
  const int64_t params = 44 + 152 + 928 + 592 + 3648 + 2336 + 32 + 170;
  EXPECT_EQ(params, 7902);
  EXPECT_EQ(CountParameters(spec), params);
  EXPECT_EQ(NumParams(*BuildNetwork(spec)), params);
  // MACs: stem 36*64; cell 144*64 at 8x8; reduction 1 at 4x4:
  // (288 + 576 + 32)*16; cell 576*16; reduction 2 at 2x2: (1152 + 2304 +
  // 128)*4; cell 2304*4; classifier 160.
  EXPECT_EQ(CountFlops(spec), 2304 + 9216 + 14336 + 9216 + 14336 + 9216 + 160);
  EXPECT_EQ(CountFlops(spec), 58784);
}

TEST(ModelBuilderTest, TinyChainNetworkCounts) {
  // Stem 1->4 3x3 at 8x8: 36 + 8 params, 36*64 MACs. conv3x3 4->8 stride 2
  // (4x4): 288 + 16 params, 288*16 MACs. ir_k3_e3 8->8 (hidden 24) at 4x4:
  // 192+48 + 216+48 + 192+16 = 712 params, (192 + 216 + 192)*16 MACs.
  // Classifier 8*10 + 10 params, 80 MACs.
  const auto spec = TinyChainSpec({{"conv3x3", 8, 2}, {"ir_k3_e3", 8, 1}});
  EXPECT_EQ(CountParameters(spec), 44 + 304 + 712 + 90);
  EXPECT_EQ(NumParams(*BuildNetwork(spec)), 1150);
  EXPECT_EQ(CountFlops(spec), 2304 + 4608 + 9600 + 80);
}

TEST(ModelBuilderTest, StridedStemsQuarterTheMacs) {
  // Stem stride 2 on 8x8: the stem conv yields 4x4 (36*16 MACs), the
  // conv3x3/2 layer 2x2 (288*4), the inverted residual 2x2 (600*4).
  auto chain = TinyChainSpec({{"conv3x3", 8, 2}, {"ir_k3_e3", 8, 1}});
  std::get<space::ChainNetwork>(chain.body).stem_stride = 2;
  EXPECT_EQ(CountParameters(chain), 1150);
  EXPECT_EQ(CountFlops(chain), 576 + 1152 + 2400 + 80);
  EXPECT_EQ(Shape(BuildNetwork(chain)(torch::randn({2, 1, 8, 8}))),
            (std::vector<int64_t>{2, 10}));
  // NB201 with a strided stem: 4x4, 2x2, 1x1 stages.
  auto cell =
      TinyCellSpec({"none", "none", "none", "nor_conv_3x3", "none", "none"});
  std::get<space::CellNetwork>(cell.body).stem_stride = 2;
  EXPECT_EQ(CountParameters(cell), 7902);
  EXPECT_EQ(CountFlops(cell), 36 * 16 + 144 * 16 + (288 + 576 + 32) * 4 +
                                  576 * 4 + (1152 + 2304 + 128) + 2304 + 160);
  EXPECT_EQ(NumParams(*BuildNetwork(cell)), 7902);
  EXPECT_EQ(Shape(BuildNetwork(cell)(torch::randn({2, 1, 8, 8}))),
            (std::vector<int64_t>{2, 10}));
}

TEST(ModelBuilderTest, EdgesOutOfZeroNodesCostNoMacs) {
  // Node 1 receives nothing, so the conv 1->3 never runs (it still has
  // weights when a spec lists it; the spaces pass such edges as none).
  auto with = TinyCellSpec(
      {"none", "none", "none", "nor_conv_3x3", "nor_conv_3x3", "none"});
  auto without =
      TinyCellSpec({"none", "none", "none", "nor_conv_3x3", "none", "none"});
  EXPECT_EQ(CountFlops(with), CountFlops(without));
  EXPECT_EQ(CountParameters(with), CountParameters(without) + 152 + 592 + 2336);
  EXPECT_EQ(NumParams(*BuildNetwork(with)), CountParameters(with));
}

std::unique_ptr<space::SearchSpace> RichChainSpace() {
  space::ChainConfig config;
  config.stem_channels = 8;
  config.stem_stride = 1;
  space::ChainStageConfig a;
  a.depths = {1, 2};
  a.widths = {8, 12};
  a.ops = space::ChainOps();
  a.stride = 2;
  space::ChainStageConfig b = a;
  b.depths = {1, 3};
  b.widths = {12, 16};
  b.stride = 1;
  space::ChainStageConfig c = a;
  c.widths = {16, 24};
  config.stages = {a, b, c};
  std::string error;
  auto space = space::MakeChainSpace(config, &error);
  EXPECT_NE(space, nullptr) << error;
  return space;
}

std::unique_ptr<space::SearchSpace> SmallNb201Space() {
  space::Nb201Config config;
  config.channels = 4;
  config.cells_per_stage = 2;
  config.ops = space::Nb201Ops();
  config.stem_stride = 2;
  std::string error;
  auto space = space::MakeNb201Space(config, &error);
  EXPECT_NE(space, nullptr) << error;
  return space;
}

std::vector<int> RandomChoices(const space::SearchSpace& space,
                               std::mt19937& rng) {
  std::vector<int> choices;
  for (const auto& d : space.decisions()) {
    choices.push_back(static_cast<int>(rng() % d.options.size()));
  }
  return choices;
}

TEST(ModelBuilderTest, CountsMatchBuiltModelsOfBothSpaces) {
  std::mt19937 rng(7);
  const space::InputShape mnist{1, 28, 28, 10};
  const space::InputShape cifar{3, 32, 32, 10};
  auto chain = RichChainSpace();
  auto nb201 = SmallNb201Space();
  for (int i = 0; i < 60; ++i) {
    const auto& space = i % 2 ? *chain : *nb201;
    const auto choices = RandomChoices(space, rng);
    const auto spec = space.Network(choices, i % 3 ? mnist : cifar);
    Network model = BuildNetwork(spec);
    EXPECT_EQ(CountParameters(spec), NumParams(*model))
        << space.Render(choices);
    EXPECT_GT(CountFlops(spec), 0);
    const auto out = model(torch::randn(
        {2, spec.input.channels, spec.input.height, spec.input.width}));
    EXPECT_EQ(Shape(out), (std::vector<int64_t>{2, 10}));
  }
}

TEST(ModelBuilderTest, EqualKeysHaveEqualCounts) {
  // Cells with the same canonical key build networks of the same size.
  auto nb201 = SmallNb201Space();
  const space::InputShape input{1, 28, 28, 10};
  std::map<std::string, std::pair<int64_t, int64_t>> by_key;
  std::vector<int> choices(6);
  for (int code = 0; code < 15625; ++code) {
    for (int e = 0, rest = code; e < 6; ++e, rest /= 5) choices[e] = rest % 5;
    const auto spec = nb201->Network(choices, input);
    const std::pair<int64_t, int64_t> counts = {CountParameters(spec),
                                                CountFlops(spec)};
    auto [it, inserted] = by_key.emplace(nb201->CanonicalKey(choices), counts);
    if (!inserted) {
      ASSERT_EQ(it->second, counts) << nb201->Render(choices);
    }
  }
  EXPECT_EQ(by_key.size(), 5260u);
}

}  // namespace
}  // namespace nas::train
