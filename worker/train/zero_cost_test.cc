#include "worker/train/zero_cost.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdlib>

#include "gtest/gtest.h"
#include "worker/train/model_builder.h"

namespace nas::train {
namespace {

// Stem (3x3 conv, batch norm, ReLU) straight into global pooling and the
// classifier: small enough to score by hand.
space::NetworkSpec Tiny() {
  space::ChainNetwork chain;
  chain.stem_channels = 2;
  chain.stem_stride = 1;
  return space::NetworkSpec{space::InputShape{1, 4, 4, 3}, chain};
}

space::NetworkSpec Chain(int width) {
  space::ChainNetwork chain;
  chain.stem_channels = 8;
  chain.layers = {{"conv3x3", width, 2}, {"ir_k3_e3", width, 1}};
  return space::NetworkSpec{space::InputShape{1, 12, 12, 10}, chain};
}

TEST(ZeroCostTest, SynflowMatchesAHandComputation) {
  ZeroCostOptions o;
  o.seed = 4;
  double score = 0;
  std::string error;
  ASSERT_TRUE(SynflowScore(Tiny(), o, &score, &error)) << error;

  // The same initialization, read out.
  torch::manual_seed(o.seed);
  Network net = BuildNetwork(Tiny());
  torch::Tensor conv, linear;
  for (const auto& item : net->named_parameters()) {
    if (item.key() == "body.stem.conv.weight") conv = item.value();
    if (item.key() == "classifier.weight") linear = item.value();
  }
  ASSERT_TRUE(conv.defined() && linear.defined());
  auto w = conv.accessor<float, 4>();     // [2, 1, 3, 3]
  auto W = linear.accessor<float, 2>();   // [3, 2]
  // With |weights|, an identity batch norm and an all-ones 4x4 input, every
  // activation is positive (ReLU passes it), so R = sum_k b_k +
  // sum_{k,c} |W_kc| m_c, where m_c, channel c's mean over the 16 positions,
  // is sum_{ij} |w_cij| n_ij / 16 and n_ij counts the positions at which
  // kernel tap (i, j) falls inside the zero-padded image. Hence
  // |W_kc dR/dW_kc| = |W_kc| m_c, and the conv weights add the same again:
  // sum_ij |w_cij| (sum_k |W_kc|) n_ij / 16.
  double expected = 0;
  for (int c = 0; c < 2; ++c) {
    double m = 0;
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        m += std::abs(w[c][0][i][j]) * (4 - std::abs(i - 1)) *
             (4 - std::abs(j - 1)) / 16.0;
      }
    }
    double s = 0;
    for (int k = 0; k < 3; ++k) s += std::abs(W[k][c]);
    expected += 2 * m * s;
  }
  EXPECT_NEAR(score, expected, 1e-6 * expected);
}

TEST(ZeroCostTest, SynflowIsSeededAndGrowsWithWidth) {
  ZeroCostOptions o;
  o.seed = 1;
  double a = 0, again = 0, other_seed = 0, wide = 0;
  std::string error;
  ASSERT_TRUE(SynflowScore(Chain(8), o, &a, &error)) << error;
  ASSERT_TRUE(SynflowScore(Chain(8), o, &again, &error)) << error;
  ASSERT_TRUE(SynflowScore(Chain(32), o, &wide, &error)) << error;
  o.seed = 2;
  ASSERT_TRUE(SynflowScore(Chain(8), o, &other_seed, &error)) << error;
  EXPECT_EQ(a, again);
  EXPECT_NE(a, other_seed);
  EXPECT_GT(wide, a);
  EXPECT_TRUE(std::isfinite(wide));
}

ZeroCostBatch RandomBatch(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor x = torch::randn({n, 1, 12, 12});
  ZeroCostBatch b;
  b.images.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  for (int64_t i = 0; i < n; ++i) b.labels.push_back(i % 10);
  b.batch = n;
  return b;
}

TEST(ZeroCostTest, GradNormDependsOnTheBatchAndRefusesABadOne) {
  ZeroCostOptions o;
  double a = 0, again = 0, other = 0;
  std::string error;
  ASSERT_TRUE(GradNormScore(Chain(8), RandomBatch(16, 1), o, &a, &error))
      << error;
  ASSERT_TRUE(GradNormScore(Chain(8), RandomBatch(16, 1), o, &again, &error));
  ASSERT_TRUE(GradNormScore(Chain(8), RandomBatch(16, 2), o, &other, &error));
  EXPECT_GT(a, 0);
  EXPECT_NEAR(a, again, 1e-9 * a);
  EXPECT_NE(a, other);

  ZeroCostBatch bad = RandomBatch(16, 1);
  bad.labels.pop_back();
  double unused = 0;
  EXPECT_FALSE(GradNormScore(Chain(8), bad, o, &unused, &error));
  EXPECT_NE(error.find("one label per image"), std::string::npos) << error;
}

}  // namespace
}  // namespace nas::train
