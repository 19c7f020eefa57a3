#include <gtest/gtest.h>

#include <cstdio>
#include <cmath>
#include <fstream>
#include <set>

#include "bench/ranking/ground_truth.h"
#include "bench/ranking/rank_correlation.h"
#include "bench/ranking/search_spec_lite.h"

namespace nas::bench {
namespace {

TEST(RankCorrelation, PerfectReversedAndTied) {
  const std::vector<double> a = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(KendallTau(a, {10, 20, 30, 40}), 1);
  EXPECT_DOUBLE_EQ(KendallTau(a, {4, 3, 2, 1}), -1);
  EXPECT_DOUBLE_EQ(Spearman(a, {4, 3, 2, 1}), -1);
  // One swapped pair out of six: (5 - 1) / 6.
  EXPECT_NEAR(KendallTau(a, {1, 3, 2, 4}), 4.0 / 6, 1e-12);
  // Tau-b with a tie: 5 concordant, 0 discordant, sqrt(6 * 5).
  EXPECT_NEAR(KendallTau(a, {1, 1, 2, 3}), 5 / std::sqrt(30.0), 1e-12);
  EXPECT_EQ(KendallTau(a, {1, 1, 1, 1}), 0);
  EXPECT_EQ(Spearman(a, {1, 1, 1, 1}), 0);
}

TEST(SpecLite, ReadsTheDemoSpec) {
  SpecLite spec;
  std::string error;
  ASSERT_TRUE(ReadSpecLite(NAS_DEMO_SPEC, &spec, &error)) << error;
  EXPECT_EQ(spec.dataset, "fashion_mnist");
  EXPECT_EQ(spec.seed, 7u);
  EXPECT_EQ(spec.epochs, 2);
  EXPECT_EQ(spec.batch_size, 128);
  EXPECT_DOUBLE_EQ(spec.learning_rate, 0.05);
  EXPECT_DOUBLE_EQ(spec.validation_fraction, 0.1);
  EXPECT_EQ(spec.chain.stem_channels, 16);
  ASSERT_EQ(spec.chain.stages.size(), 2u);
  EXPECT_EQ(spec.chain.stages[1].depths, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(spec.chain.stages[1].widths, (std::vector<int>{32, 48}));
  EXPECT_EQ(spec.chain.stages[1].ops.size(), 5u);
  EXPECT_EQ(spec.chain.stages[1].ops[4], "skip");
  EXPECT_EQ(spec.chain.stages[0].stride, 2);
}

TEST(GroundTruth, SelectionIsDeterministicAndDistinct) {
  SpecLite spec;
  std::string error;
  ASSERT_TRUE(ReadSpecLite(NAS_DEMO_SPEC, &spec, &error)) << error;
  auto space = space::MakeChainSpace(spec.chain, &error);
  ASSERT_NE(space, nullptr) << error;
  const space::InputShape input{1, 28, 28, 10};
  const auto a = SelectArchitectures(*space, input, 10, 500, 3);
  EXPECT_EQ(a, SelectArchitectures(*space, input, 10, 500, 3));
  ASSERT_EQ(a.size(), 10u);
  std::set<std::string> keys;
  for (const auto& c : a) keys.insert(space->CanonicalKey(c));
  EXPECT_EQ(keys.size(), 10u);
}

TEST(GroundTruth, RowsRoundTrip) {
  const std::string path = ::testing::TempDir() + "/truth_roundtrip.csv";
  std::remove(path.c_str());
  TruthRow row;
  row.arch = "stage1.depth=1 stage1.width=16 stage1.layer1=conv3x3";
  row.choices = {0, 0, 0, 1};
  row.params = 1234;
  row.flops = 56789;
  row.val_accuracy = 0.8512;
  row.test_accuracy = 0.8433;
  row.seconds = 61.5;
  std::string error;
  ASSERT_TRUE(AppendTruthRow(path, row, &error)) << error;
  ASSERT_TRUE(AppendTruthRow(path, row, &error)) << error;
  std::vector<TruthRow> rows;
  ASSERT_TRUE(ReadTruth(path, &rows, &error)) << error;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].arch, row.arch);
  EXPECT_EQ(rows[1].choices, row.choices);
  EXPECT_EQ(rows[1].params, 1234);
  EXPECT_DOUBLE_EQ(rows[1].test_accuracy, 0.8433);
}

}  // namespace
}  // namespace nas::bench
