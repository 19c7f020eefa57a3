#include "worker/train/path_sampler.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace nas::train {
namespace {

// Decisions with 1, 2, 3, 2, 2, 5 and 5 options (stage 2's sizes descend).
std::unique_ptr<space::SearchSpace> Space() {
  space::ChainConfig config;
  config.stem_channels = 8;
  config.stages = {{{1}, {8, 16}, {"conv3x3", "ir_k3_e3", "skip"}, 2},
                   {{2, 1}, {24, 16},
                    {"conv3x3", "ir_k3_e3", "ir_k3_e6", "ir_k5_e6", "skip"},
                    2}};
  std::string error;
  auto space = space::MakeChainSpace(config, &error);
  EXPECT_NE(space, nullptr) << error;
  return space;
}

// counts[d][o]: how often decision d took option o in `steps` steps.
std::vector<std::map<int, int>> Counts(PathSampler& sampler, int steps) {
  std::vector<std::map<int, int>> counts;
  for (int s = 0; s < steps; ++s) {
    const std::vector<int> choices = sampler.Next();
    counts.resize(choices.size());
    for (size_t d = 0; d < choices.size(); ++d) ++counts[d][choices[d]];
  }
  return counts;
}

TEST(PathSamplerTest, FairPathsTrainEveryOptionOncePerCycle) {
  const auto space = Space();
  PathSampler sampler(*space, /*fair=*/true, /*sandwich=*/false, 5);
  const std::vector<space::Decision>& decisions = space->decisions();
  // Every run of k steps from the start holds each of a k-option decision's
  // options exactly once.
  for (int cycle = 0; cycle < 4; ++cycle) {
    const int steps = 60;  // a multiple of every option count here
    const std::vector<std::map<int, int>> counts = Counts(sampler, steps);
    for (size_t d = 0; d < decisions.size(); ++d) {
      const int k = static_cast<int>(decisions[d].options.size());
      ASSERT_EQ(static_cast<int>(counts[d].size()), k) << decisions[d].name;
      for (const auto& [option, n] : counts[d]) {
        EXPECT_EQ(n, steps / k) << decisions[d].name << " option " << option;
      }
    }
  }
}

TEST(PathSamplerTest, UniformPathsAreUnevenByChanceAndSeeded) {
  const auto space = Space();
  PathSampler a(*space, /*fair=*/false, /*sandwich=*/false, 5);
  PathSampler b(*space, /*fair=*/false, /*sandwich=*/false, 5);
  bool uneven = false;
  for (int s = 0; s < 10; ++s) {
    const std::vector<std::map<int, int>> counts = Counts(a, 60);
    const std::vector<std::map<int, int>> again = Counts(b, 60);
    EXPECT_EQ(counts, again);
    for (const auto& decision : counts) {
      for (const auto& [option, n] : decision) {
        uneven |= n != 60 / static_cast<int>(decision.size());
      }
    }
  }
  EXPECT_TRUE(uneven);
}

TEST(PathSamplerTest, FairOrderStillDependsOnTheSeed) {
  const auto space = Space();
  PathSampler a(*space, true, false, 1);
  PathSampler b(*space, true, false, 2);
  bool differs = false;
  for (int s = 0; s < 20; ++s) differs |= a.Next() != b.Next();
  EXPECT_TRUE(differs);
}

TEST(PathSamplerTest, SandwichTrainsLargestThenSmallestThenTwoDrawn) {
  const auto space = Space();
  const std::vector<space::Decision>& decisions = space->decisions();
  PathSampler sampler(*space, /*fair=*/true, /*sandwich=*/true, 3);
  std::vector<std::map<int, int>> ops_seen(decisions.size());
  bool drawn_varies = false;
  for (int step = 0; step < 40; ++step) {
    const std::vector<int> choices = sampler.Next();
    for (size_t d = 0; d < decisions.size(); ++d) {
      const std::string& name = decisions[d].name;
      const bool size = name.find(".depth") != std::string::npos ||
                        name.find(".width") != std::string::npos;
      const int value = size ? std::stoi(decisions[d].options[choices[d]]) : 0;
      int largest = 0, smallest = 1 << 30;
      for (const std::string& option : decisions[d].options) {
        if (!size) break;
        largest = std::max(largest, std::stoi(option));
        smallest = std::min(smallest, std::stoi(option));
      }
      if (size && step % 4 == 0) {
        EXPECT_EQ(value, largest) << name << " step " << step;
      } else if (size && step % 4 == 1) {
        EXPECT_EQ(value, smallest) << name << " step " << step;
      } else if (size) {
        drawn_varies |= value != smallest;
      } else {
        ++ops_seen[d][choices[d]];  // ops: drawn in every phase
      }
    }
  }
  EXPECT_TRUE(drawn_varies);
  for (size_t d = 0; d < decisions.size(); ++d) {
    if (decisions[d].name.find(".op") == std::string::npos) continue;
    EXPECT_EQ(ops_seen[d].size(), decisions[d].options.size())
        << decisions[d].name;
  }
}

TEST(PathSamplerTest, FixedDecisionsNeverChangeAndTheRestAreDrawn) {
  const auto space = Space();
  const size_t n = space->decisions().size();
  std::vector<int> fixed(n, -1);
  ASSERT_EQ(space->decisions()[4].name, "stage2.width");
  fixed[4] = 1;  // its second option
  PathSampler sampler(*space, /*fair=*/false, /*sandwich=*/true, 7, fixed);
  bool others_vary = false;
  std::vector<int> first;
  for (int step = 0; step < 40; ++step) {
    const std::vector<int> choices = sampler.Next();
    ASSERT_EQ(choices.size(), n);
    EXPECT_EQ(choices[4], 1) << "step " << step;  // even for the sandwich
    if (first.empty()) first = choices;
    for (size_t d = 0; d < n; ++d) {
      if (d != 4 && choices[d] != first[d]) others_vary = true;
    }
  }
  EXPECT_TRUE(others_vary);
}

TEST(ShardLearningRateTest, ConstantWithoutASchedule) {
  ShardOptions o;
  o.steps = 100;
  o.learning_rate = 0.08;
  EXPECT_DOUBLE_EQ(ShardLearningRate(o, 0), 0.08);
  EXPECT_DOUBLE_EQ(ShardLearningRate(o, 99), 0.08);
}

TEST(ShardLearningRateTest, RoundsJoinIntoOneCosineToZero) {
  ShardOptions whole;
  whole.steps = 400;
  whole.learning_rate = 0.1;
  whole.schedule_from = 0;
  whole.schedule_to = 1;
  // Four rounds of 100 steps: round r's step i is the whole schedule's step
  // 100 r + i.
  for (int r = 0; r < 4; ++r) {
    ShardOptions round = whole;
    round.steps = 100;
    round.schedule_from = r / 4.0;
    round.schedule_to = (r + 1) / 4.0;
    for (int i = 0; i < 100; i += 7) {
      EXPECT_NEAR(ShardLearningRate(round, i),
                  ShardLearningRate(whole, 100 * r + i), 1e-12);
    }
  }
  EXPECT_DOUBLE_EQ(ShardLearningRate(whole, 0), 0.1);
  EXPECT_NEAR(ShardLearningRate(whole, 200), 0.05, 1e-12);
  EXPECT_NEAR(ShardLearningRate(whole, 400), 0, 1e-12);
  EXPECT_LT(ShardLearningRate(whole, 399), 1e-5);
}

}  // namespace
}  // namespace nas::train
