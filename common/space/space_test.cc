#include "common/space/space.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "common/space/nb201_cell.h"

namespace nas::space {
namespace {

std::unique_ptr<SearchSpace> Nb201(std::vector<std::string> ops = Nb201Ops()) {
  Nb201Config config;
  config.ops = std::move(ops);
  std::string error;
  auto space = MakeNb201Space(config, &error);
  EXPECT_NE(space, nullptr) << error;
  return space;
}

// Choices for an NB201 string, in the full op set's order.
std::vector<int> Nb201Choices(const std::string& text) {
  std::vector<std::string> ops;
  std::string error;
  EXPECT_TRUE(ParseNb201String(text, &ops, &error)) << error;
  std::vector<int> choices;
  for (const std::string& op : ops) {
    const auto& all = Nb201Ops();
    choices.push_back(
        static_cast<int>(std::find(all.begin(), all.end(), op) - all.begin()));
  }
  return choices;
}

std::string Key(const std::string& text) {
  return Nb201()->CanonicalKey(Nb201Choices(text));
}

Nb201Edges Edges(const std::string& text) {
  std::vector<std::string> ops;
  std::string error;
  EXPECT_TRUE(ParseNb201String(text, &ops, &error)) << error;
  Nb201Edges edges;
  std::copy(ops.begin(), ops.end(), edges.begin());
  return edges;
}

TEST(Nb201SpaceTest, DecisionsNameEdgesInBenchmarkOrder) {
  auto space = Nb201({"none", "nor_conv_3x3"});
  const auto& decisions = space->decisions();
  ASSERT_EQ(decisions.size(), 6u);
  const std::vector<std::string> names = {"edge_1<-0", "edge_2<-0",
                                          "edge_2<-1", "edge_3<-0",
                                          "edge_3<-1", "edge_3<-2"};
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(decisions[i].name, names[i]);
    EXPECT_EQ(decisions[i].options,
              (std::vector<std::string>{"none", "nor_conv_3x3"}));
  }
}

TEST(Nb201SpaceTest, RendersBenchmarkString) {
  auto space = Nb201({"none", "skip_connect", "nor_conv_3x3"});
  EXPECT_EQ(space->Render({2, 2, 1, 1, 2, 0}),
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+"
            "|skip_connect~0|nor_conv_3x3~1|none~2|");
}

TEST(Nb201SpaceTest, RenderParseRoundTripsEveryCell) {
  auto space = Nb201();
  std::vector<int> choices(6, 0);
  int count = 0;
  for (int code = 0; code < 15625; ++code, ++count) {
    for (int e = 0, rest = code; e < 6; ++e, rest /= 5) choices[e] = rest % 5;
    const std::string text = space->Render(choices);
    EXPECT_EQ(Nb201Choices(text), choices) << text;
  }
  EXPECT_EQ(count, 15625);
}

TEST(Nb201SpaceTest, ValidateNamesTheProblem) {
  auto space = Nb201({"none", "skip_connect"});
  EXPECT_EQ(space->Validate({0, 1, 0, 1, 0, 1}), "");
  EXPECT_EQ(space->Validate({0, 1}), "expected 6 choices, got 2");
  EXPECT_EQ(space->Validate({0, 1, 2, 0, 0, 0}),
            "choice 2 (edge_2<-1): index 2 out of range [0, 2)");
  EXPECT_EQ(space->Validate({0, -1, 0, 0, 0, 0}),
            "choice 1 (edge_2<-0): index -1 out of range [0, 2)");
}

TEST(Nb201SpaceTest, NetworkCarriesConfigAndReducedEdges) {
  Nb201Config config;
  config.channels = 8;
  config.cells_per_stage = 2;
  config.ops = Nb201Ops();
  std::string error;
  auto space = MakeNb201Space(config, &error);
  ASSERT_NE(space, nullptr) << error;
  InputShape input{3, 32, 32, 10};
  // Node 1 feeds only node 2, which does not reach node 3: both are dead.
  const NetworkSpec spec =
      space->Network(Nb201Choices("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+"
                                  "|avg_pool_3x3~0|none~1|none~2|"),
                     input);
  EXPECT_EQ(spec.input.channels, 3);
  EXPECT_EQ(spec.input.height, 32);
  const auto& cell = std::get<CellNetwork>(spec.body);
  EXPECT_EQ(cell.channels, 8);
  EXPECT_EQ(cell.cells_per_stage, 2);
  EXPECT_EQ(cell.stem_stride, 1);
  EXPECT_EQ(cell.edge_ops, (Nb201Edges{"none", "none", "none", "avg_pool_3x3",
                                       "none", "none"}));
}

TEST(ParseNb201StringTest, AcceptsBenchmarkString) {
  std::vector<std::string> ops;
  std::string error;
  ASSERT_TRUE(
      ParseNb201String("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+"
                       "|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
                       &ops, &error))
      << error;
  EXPECT_EQ(ops, (std::vector<std::string>{"nor_conv_3x3", "nor_conv_3x3",
                                           "avg_pool_3x3", "skip_connect",
                                           "nor_conv_3x3", "skip_connect"}));
}

TEST(ParseNb201StringTest, RejectsMalformedStrings) {
  struct Case {
    std::string text;
    std::string error;
  };
  const std::string prefix = "bad NAS-Bench-201 string: ";
  const std::vector<Case> cases = {
      {"", "expected 3 nodes separated by '+', got 1"},
      {"|none~0|+|none~0|none~1|", "expected 3 nodes separated by '+', got 2"},
      {"|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|",
       "expected 3 nodes separated by '+', got 4"},
      {"none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
       "node 1: \"none~0|\" must start and end with '|'"},
      {"|none~0|+|none~0|+|none~0|none~1|none~2|",
       "node 2: expected 2 edges, got 1"},
      {"|none~0|+|none~0|none~1|+|none~0|none~2|none~1|",
       "node 3: edge \"none~2\" must be \"<op>~1\""},
      {"|none~0|+|none~0|none~1|+|none~0|none~1|~2|",
       "node 3: edge \"~2\" must be \"<op>~2\""},
      {"|none~0|+|none~0|none~1|+|none~0|none~1|conv9x9~2|",
       "node 3: unknown op \"conv9x9\""},
      {"|none~0|+|none~0|none~1|+|none~0|none~1|none~2| ",
       "node 3: \"|none~0|none~1|none~2| \" must start and end with '|'"},
      {"|none~0||+|none~0|none~1|+|none~0|none~1|none~2|",
       "node 1: expected 1 edges, got 2"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> ops = {"untouched"};
    std::string error;
    EXPECT_FALSE(ParseNb201String(c.text, &ops, &error)) << c.text;
    EXPECT_EQ(error, prefix + c.error) << c.text;
    EXPECT_EQ(ops, std::vector<std::string>{"untouched"});
  }
}

TEST(Nb201KeyTest, EdgesIntoDeadNodeDoNotMatter) {
  // Node 1 does not reach node 3 in either cell.
  EXPECT_EQ(Key("|nor_conv_3x3~0|+|none~0|none~1|+"
                "|nor_conv_1x1~0|none~1|none~2|"),
            Key("|avg_pool_3x3~0|+|none~0|none~1|+"
                "|nor_conv_1x1~0|none~1|none~2|"));
  // Node 2 is dead; what feeds it is irrelevant.
  EXPECT_EQ(Key("|skip_connect~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+"
                "|nor_conv_1x1~0|nor_conv_3x3~1|none~2|"),
            Key("|skip_connect~0|+|none~0|none~1|+"
                "|nor_conv_1x1~0|nor_conv_3x3~1|none~2|"));
}

TEST(Nb201KeyTest, NodeWithoutInputsOutputsZero) {
  // Node 1 receives nothing, so its conv edges into nodes 2 and 3 are none.
  EXPECT_EQ(Key("|none~0|+|skip_connect~0|nor_conv_3x3~1|+"
                "|nor_conv_1x1~0|nor_conv_3x3~1|avg_pool_3x3~2|"),
            Key("|none~0|+|skip_connect~0|none~1|+"
                "|nor_conv_1x1~0|none~1|avg_pool_3x3~2|"));
}

TEST(Nb201KeyTest, CellsWhoseOutputIsZeroAreOneClass) {
  EXPECT_EQ(Key("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), "zero");
  EXPECT_EQ(Key("|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+"
                "|none~0|none~1|none~2|"),
            "zero");
  EXPECT_EQ(Key("|none~0|+|none~0|nor_conv_3x3~1|+"
                "|none~0|nor_conv_3x3~1|nor_conv_1x1~2|"),
            "zero");
  EXPECT_NE(Key("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"),
            "zero");
}

TEST(Nb201KeyTest, SkipConnectIsIdentity) {
  // conv(node 1) with node 1 = x is conv(x) straight from node 0.
  EXPECT_EQ(Key("|skip_connect~0|+|none~0|none~1|+"
                "|none~0|nor_conv_3x3~1|none~2|"),
            Key("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"));
  EXPECT_EQ(Key("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"),
            "t0=nor_conv_3x3(x) out=t0");
}

TEST(Nb201KeyTest, SumsCommuteAndFlatten) {
  // node 3 = conv(x) + pool(x) either way round.
  EXPECT_EQ(Key("|skip_connect~0|+|none~0|none~1|+"
                "|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"),
            Key("|skip_connect~0|+|none~0|none~1|+"
                "|avg_pool_3x3~0|nor_conv_3x3~1|none~2|"));
  // node 3 = pool(x) + skip(node 2) with node 2 = conv(x) + x, against
  // node 3 = x + conv(x) + pool(x) with each term on its own edge.
  EXPECT_EQ(Key("|skip_connect~0|+|nor_conv_1x1~0|skip_connect~1|+"
                "|avg_pool_3x3~0|none~1|skip_connect~2|"),
            Key("|nor_conv_1x1~0|+|avg_pool_3x3~0|none~1|+"
                "|skip_connect~0|skip_connect~1|skip_connect~2|"));
}

TEST(Nb201KeyTest, InterchangeableIntermediateNodesSwap) {
  // node 3 = conv1x1(conv3x3(x)) + pool(x), with nodes 1 and 2 swapped.
  EXPECT_EQ(Key("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+"
                "|none~0|nor_conv_1x1~1|skip_connect~2|"),
            Key("|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+"
                "|none~0|skip_connect~1|nor_conv_1x1~2|"));
}

TEST(Nb201KeyTest, DifferentComputationsDiffer) {
  EXPECT_NE(Key("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"),
            Key("|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|"));
  // x versus x + x.
  EXPECT_NE(Key("|skip_connect~0|+|none~0|none~1|+"
                "|skip_connect~0|skip_connect~1|none~2|"),
            Key("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"));
  // conv(conv(x)) versus conv(x) + conv(x).
  EXPECT_NE(Key("|nor_conv_3x3~0|+|none~0|none~1|+"
                "|none~0|nor_conv_3x3~1|none~2|"),
            Key("|nor_conv_3x3~0|+|none~0|none~1|+"
                "|nor_conv_3x3~0|skip_connect~1|none~2|"));
}

TEST(Nb201KeyTest, SharedWeightsAreNotTwoConvs) {
  // Node 3 = c3(a(x)) + pool(a(x)) with one 1x1 conv `a` shared, against
  // c3(a(x)) + pool(b(x)) with two 1x1 convs: different parameter counts.
  // NAS-Bench-201's string hash treats these as one cell.
  const std::string shared =
      "|nor_conv_1x1~0|+|none~0|skip_connect~1|+"
      "|nor_conv_1x1~0|nor_conv_3x3~1|avg_pool_3x3~2|";
  const std::string separate =
      "|nor_conv_1x1~0|+|nor_conv_1x1~0|none~1|+"
      "|nor_conv_1x1~0|nor_conv_3x3~1|avg_pool_3x3~2|";
  EXPECT_NE(Key(shared), Key(separate));
  EXPECT_EQ(Nb201BenchmarkKey(Edges(shared)),
            Nb201BenchmarkKey(Edges(separate)));
}

TEST(Nb201KeyTest, PoolsOfTheSameTensorAreOneTensor) {
  // node 3 = pool(x) + conv(pool(x)): a pool on edge 0->3 and one reached
  // through node 1 are the same tensor ...
  EXPECT_EQ(Key("|avg_pool_3x3~0|+|none~0|none~1|+"
                "|avg_pool_3x3~0|nor_conv_3x3~1|none~2|"),
            Key("|avg_pool_3x3~0|+|none~0|skip_connect~1|+"
                "|none~0|nor_conv_3x3~1|skip_connect~2|"));
  // ... whereas two 1x1 convs carry their own weights.
  EXPECT_NE(Key("|nor_conv_1x1~0|+|none~0|none~1|+"
                "|nor_conv_1x1~0|nor_conv_3x3~1|none~2|"),
            Key("|nor_conv_1x1~0|+|none~0|skip_connect~1|+"
                "|none~0|nor_conv_3x3~1|skip_connect~2|"));
}

TEST(Nb201KeyTest, ReducedEdgesKeepTheKey) {
  const Nb201Edges ops = Edges(
      "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+"
      "|avg_pool_3x3~0|skip_connect~1|none~2|");
  EXPECT_EQ(Nb201ReducedEdges(ops),
            (Nb201Edges{"nor_conv_3x3", "none", "none", "avg_pool_3x3",
                        "skip_connect", "none"}));
  EXPECT_EQ(Nb201ComputationKey(Nb201ReducedEdges(ops)),
            Nb201ComputationKey(ops));
}

std::string TablePath() {
  const char* env = std::getenv("NB201_TABLE");
  return env && *env ? env : NAS_NB201_TABLE;
}

TEST(Nb201KeyTest, CountsUniqueCellsOfTheBenchmarkTable) {
  std::ifstream table(TablePath());
  if (!table) GTEST_SKIP() << "no NAS-Bench-201 table at " << TablePath();
  std::string line;
  std::getline(table, line);  // header
  std::set<std::string> strings, keys, benchmark_keys;
  while (std::getline(table, line)) {
    const std::string arch = line.substr(0, line.find(','));
    const Nb201Edges ops = Edges(arch);
    strings.insert(arch);
    keys.insert(Nb201ComputationKey(ops));
    benchmark_keys.insert(Nb201BenchmarkKey(ops));
    // Reducing never changes the computation.
    ASSERT_EQ(Nb201ComputationKey(Nb201ReducedEdges(ops)),
              Nb201ComputationKey(ops))
        << arch;
  }
  EXPECT_EQ(strings.size(), 15625u);
  // The benchmark's published figure, from its own string hash.
  EXPECT_EQ(benchmark_keys.size(), 6466u);
  // Exact equivalence (see nb201_cell.h for why it differs from 6,466).
  EXPECT_EQ(keys.size(), 5260u);
}

// Every one of the 5^6 cells, keyed twice in opposite orders (the second
// pass reads the process-wide memo): the same keys, and the exact
// equivalence's 5,260 computations, with no table needed.
TEST(Nb201KeyTest, MemoizedKeysOfEveryCellMatchTheirFirstComputation) {
  const std::vector<std::string>& names = Nb201Ops();
  std::vector<Nb201Edges> cells;
  for (int index = 0; index < 15625; ++index) {
    Nb201Edges ops;
    for (int e = 5, rest = index; e >= 0; --e, rest /= 5)
      ops[e] = names[rest % 5];
    cells.push_back(ops);
  }
  std::vector<std::string> first;
  for (const Nb201Edges& ops : cells) first.push_back(Nb201ComputationKey(ops));
  for (int i = 15624; i >= 0; --i) {
    ASSERT_EQ(Nb201ComputationKey(cells[i]), first[i]) << i;
  }
  EXPECT_EQ(std::set<std::string>(first.begin(), first.end()).size(), 5260u);
}

// ---------------------------------------------------------------- chain ---

ChainConfig TwoStageConfig() {
  ChainConfig config;
  config.stem_channels = 16;
  ChainStageConfig first;
  first.depths = {1, 2, 3};
  first.widths = {16, 24};
  first.ops = {"conv3x3", "ir_k3_e3", "skip"};
  first.stride = 2;
  ChainStageConfig second;
  second.depths = {2};
  second.widths = {48};
  second.ops = {"ir_k5_e6", "skip"};
  second.stride = 1;
  config.stages = {first, second};
  return config;
}

std::unique_ptr<SearchSpace> Chain(const ChainConfig& config) {
  std::string error;
  auto space = MakeChainSpace(config, &error);
  EXPECT_NE(space, nullptr) << error;
  return space;
}

TEST(ChainSpaceTest, DecisionsPerStage) {
  auto space = Chain(TwoStageConfig());
  std::vector<std::string> names;
  for (const Decision& d : space->decisions()) names.push_back(d.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "stage1.depth", "stage1.width", "stage1.layer1.op",
                "stage1.layer2.op", "stage1.layer3.op", "stage2.depth",
                "stage2.width", "stage2.layer1.op", "stage2.layer2.op"}));
  EXPECT_EQ(space->decisions()[0].options,
            (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(space->decisions()[1].options,
            (std::vector<std::string>{"16", "24"}));
  EXPECT_EQ(space->decisions()[7].options,
            (std::vector<std::string>{"ir_k5_e6", "skip"}));
}

TEST(ChainSpaceTest, RenderShowsOnlyActiveDecisions) {
  auto space = Chain(TwoStageConfig());
  // Stage 1: depth 2, width 24, layers conv3x3, ir_k3_e3 (layer 3 inactive).
  const std::vector<int> choices = {1, 1, 0, 1, 2, 0, 0, 0, 1};
  ASSERT_EQ(space->Validate(choices), "");
  EXPECT_EQ(space->Render(choices),
            "stage1.depth=2 stage1.width=24 stage1.layer1.op=conv3x3 "
            "stage1.layer2.op=ir_k3_e3 stage2.depth=2 stage2.width=48 "
            "stage2.layer1.op=ir_k5_e6 stage2.layer2.op=skip");
}

TEST(ChainSpaceTest, InactiveLayersDoNotChangeTheKey) {
  auto space = Chain(TwoStageConfig());
  const std::vector<int> a = {1, 1, 0, 1, 0, 0, 0, 0, 0};
  const std::vector<int> b = {1, 1, 0, 1, 2, 0, 0, 0, 0};
  EXPECT_EQ(space->CanonicalKey(a), space->CanonicalKey(b));
  EXPECT_NE(space->Render(a), "");
  const std::vector<int> deeper = {2, 1, 0, 1, 2, 0, 0, 0, 0};
  // Layer 3 is now active, but an identity skip (stride 1, 24 -> 24).
  EXPECT_EQ(space->CanonicalKey(a), space->CanonicalKey(deeper));
  const std::vector<int> other_op = {2, 1, 0, 1, 0, 0, 0, 0, 0};
  EXPECT_NE(space->CanonicalKey(a), space->CanonicalKey(other_op));
  EXPECT_EQ(space->CanonicalKey(a),
            "conv3x3/24/s2 ir_k3_e3/24/s1 ir_k5_e6/48/s1 ir_k5_e6/48/s1");
}

TEST(ChainSpaceTest, SkipThatChangesShapeIsNotIdentity) {
  auto space = Chain(TwoStageConfig());
  // Stage 1: one skip with stride 2, a projection. Stage 2: a skip from 16
  // to 48 channels (a projection) and a 48 -> 48 skip (an identity).
  EXPECT_EQ(space->CanonicalKey({0, 0, 2, 0, 0, 0, 0, 1, 1}),
            "skip/16/s2 skip/48/s1");
  EXPECT_EQ(space->CanonicalKey({0, 0, 2, 0, 0, 0, 0, 1, 0}),
            "skip/16/s2 skip/48/s1 ir_k5_e6/48/s1");
}

TEST(ChainSpaceTest, NetworkListsActiveLayers) {
  auto space = Chain(TwoStageConfig());
  const InputShape input{1, 28, 28, 10};
  const NetworkSpec spec = space->Network({1, 1, 0, 1, 2, 0, 0, 0, 1}, input);
  const auto& chain = std::get<ChainNetwork>(spec.body);
  EXPECT_EQ(chain.stem_channels, 16);
  EXPECT_EQ(chain.stem_stride, 2);  // the default
  EXPECT_EQ(chain.head_channels, 0);
  ASSERT_EQ(chain.layers.size(), 4u);
  EXPECT_EQ(chain.layers[0].op, "conv3x3");
  EXPECT_EQ(chain.layers[0].out_channels, 24);
  EXPECT_EQ(chain.layers[0].stride, 2);
  EXPECT_EQ(chain.layers[1].op, "ir_k3_e3");
  EXPECT_EQ(chain.layers[1].stride, 1);
  EXPECT_EQ(chain.layers[2].op, "ir_k5_e6");
  EXPECT_EQ(chain.layers[2].out_channels, 48);
  EXPECT_EQ(chain.layers[2].stride, 1);
  EXPECT_EQ(chain.layers[3].op, "skip");
}

TEST(ChainSpaceTest, ValidateChecksEveryDecision) {
  auto space = Chain(TwoStageConfig());
  EXPECT_EQ(space->Validate({0, 0, 0, 0, 0, 0, 0, 0}),
            "expected 9 choices, got 8");
  EXPECT_EQ(space->Validate({0, 0, 0, 0, 3, 0, 0, 0, 0}),
            "choice 4 (stage1.layer3.op): index 3 out of range [0, 3)");
}

// --------------------------------------------------------- config errors ---

std::string Nb201Error(const Nb201Config& config) {
  std::string error;
  auto space = MakeNb201Space(config, &error);
  EXPECT_EQ(space, nullptr);
  return error;
}

TEST(ConfigErrorTest, Nb201) {
  Nb201Config config;
  config.ops = {"none", "nor_conv_3x3"};
  std::string error;
  EXPECT_NE(MakeNb201Space(config, &error), nullptr) << error;

  Nb201Config c = config;
  c.ops = {};
  EXPECT_EQ(Nb201Error(c), "ops: must not be empty");
  c.ops = {"none", "skip_connect", "conv9x9"};
  EXPECT_EQ(Nb201Error(c), "ops[2]: unknown op \"conv9x9\"");
  c.ops = {"none", "skip_connect", "none"};
  EXPECT_EQ(Nb201Error(c), "ops[2]: duplicate op \"none\"");
  c = config;
  c.channels = 0;
  EXPECT_EQ(Nb201Error(c), "channels: must be at least 1");
  c.channels = 5000;
  EXPECT_EQ(Nb201Error(c), "channels: must be at most 4096");
  c = config;
  c.cells_per_stage = 0;
  EXPECT_EQ(Nb201Error(c), "cells_per_stage: must be at least 1");
  c.cells_per_stage = 65;
  EXPECT_EQ(Nb201Error(c), "cells_per_stage: must be at most 64");
  c = config;
  c.stem_stride = 3;
  EXPECT_EQ(Nb201Error(c), "stem_stride: must be 1 or 2");
}

std::string ChainError(const ChainConfig& config) {
  std::string error;
  auto space = MakeChainSpace(config, &error);
  EXPECT_EQ(space, nullptr);
  return error;
}

TEST(ConfigErrorTest, Chain) {
  ChainConfig c = TwoStageConfig();
  c.stem_channels = 0;
  EXPECT_EQ(ChainError(c), "stem_channels: must be at least 1");
  c.stem_channels = 4097;
  EXPECT_EQ(ChainError(c), "stem_channels: must be at most 4096");
  c = TwoStageConfig();
  c.stem_stride = 0;
  EXPECT_EQ(ChainError(c), "stem_stride: must be 1 or 2");
  c = TwoStageConfig();
  c.stages.clear();
  EXPECT_EQ(ChainError(c), "stages: must not be empty");
  c.stages.assign(65, TwoStageConfig().stages[0]);
  EXPECT_EQ(ChainError(c), "stages: must have at most 64 entries");

  c = TwoStageConfig();
  c.stages[1].depths = {};
  EXPECT_EQ(ChainError(c), "stages[1].depths: must not be empty");
  c.stages[1].depths = {0};
  EXPECT_EQ(ChainError(c), "stages[1].depths[0]: must be at least 1");
  c.stages[1].depths = {2, 65};
  EXPECT_EQ(ChainError(c), "stages[1].depths[1]: must be at most 64");
  c.stages[1].depths = {2, 2};
  EXPECT_EQ(ChainError(c), "stages[1].depths[1]: duplicate value 2");

  c = TwoStageConfig();
  c.stages[0].widths = {};
  EXPECT_EQ(ChainError(c), "stages[0].widths: must not be empty");
  c.stages[0].widths = {16, 0};
  EXPECT_EQ(ChainError(c), "stages[0].widths[1]: must be at least 1");
  c.stages[0].widths = {8192};
  EXPECT_EQ(ChainError(c), "stages[0].widths[0]: must be at most 4096");

  c = TwoStageConfig();
  c.stages[0].ops = {};
  EXPECT_EQ(ChainError(c), "stages[0].ops: must not be empty");
  c.stages[0].ops = {"conv3x3", "skip", "conv9x9"};
  EXPECT_EQ(ChainError(c), "stages[0].ops[2]: unknown op \"conv9x9\"");
  c.stages[0].ops = {"conv3x3", "conv3x3"};
  EXPECT_EQ(ChainError(c), "stages[0].ops[1]: duplicate op \"conv3x3\"");
  // NB201 ops are not chain ops.
  c.stages[0].ops = {"nor_conv_3x3"};
  EXPECT_EQ(ChainError(c), "stages[0].ops[0]: unknown op \"nor_conv_3x3\"");

  c = TwoStageConfig();
  c.stages[1].stride = 3;
  EXPECT_EQ(ChainError(c), "stages[1].stride: must be 1 or 2");
  c.stages[1].stride = 0;
  EXPECT_EQ(ChainError(c), "stages[1].stride: must be 1 or 2");
}

TEST(ConfigErrorTest, NullErrorPointerIsAllowed) {
  Nb201Config config;
  EXPECT_EQ(MakeNb201Space(config, nullptr), nullptr);
  EXPECT_EQ(MakeChainSpace(ChainConfig{}, nullptr), nullptr);
}

}  // namespace
}  // namespace nas::space
