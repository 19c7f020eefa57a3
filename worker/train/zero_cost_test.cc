#include "worker/train/zero_cost.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>
#include <vector>

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

// ln|det m| by Gaussian elimination with partial pivoting: independent of
// the LAPACK call NaswotScore makes.
double LogAbsDet(std::vector<std::vector<double>> m) {
  const size_t n = m.size();
  double log_det = 0;
  for (size_t k = 0; k < n; ++k) {
    size_t pivot = k;
    for (size_t i = k + 1; i < n; ++i) {
      if (std::abs(m[i][k]) > std::abs(m[pivot][k])) pivot = i;
    }
    std::swap(m[k], m[pivot]);
    if (m[k][k] == 0) return -std::numeric_limits<double>::infinity();
    log_det += std::log(std::abs(m[k][k]));
    for (size_t i = k + 1; i < n; ++i) {
      const double f = m[i][k] / m[k][k];
      for (size_t j = k; j < n; ++j) m[i][j] -= f * m[k][j];
    }
  }
  return log_det;
}

// n images of side x side Gaussian noise, one channel.
ZeroCostBatch NoiseBatch(int64_t n, int side, uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor x = torch::randn({n, 1, side, side});
  ZeroCostBatch b;
  b.images.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  for (int64_t i = 0; i < n; ++i) b.labels.push_back(i % 3);
  b.batch = n;
  return b;
}

TEST(ZeroCostTest, NaswotMatchesAPlainComputationOfTheCodes) {
  const int n = 5;
  const ZeroCostBatch batch = NoiseBatch(n, 4, 3);
  ZeroCostOptions o;
  o.seed = 4;
  std::vector<double> kernel;
  double score = 0;
  std::string error;
  ASSERT_TRUE(NaswotKernel(Tiny(), batch, o, &kernel, &error)) << error;
  ASSERT_TRUE(NaswotScore(Tiny(), batch, o, &score, &error)) << error;

  torch::manual_seed(o.seed);  // the same initialization, read out
  Network net = BuildNetwork(Tiny());
  torch::Tensor conv;
  for (const auto& item : net->named_parameters()) {
    if (item.key() == "body.stem.conv.weight") conv = item.value();
  }
  ASSERT_TRUE(conv.defined());
  auto w = conv.accessor<float, 4>();  // [2, 1, 3, 3]
  // Tiny's one ReLU follows batch norm in train mode, whose initial scale 1
  // and shift 0 make its input positive exactly where the conv output
  // exceeds its channel's mean over the batch and the 16 positions.
  std::vector<std::array<double, 32>> out(n);  // [image][channel * 16 + pos]
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < 2; ++c) {
      for (int y = 0; y < 4; ++y) {
        for (int x = 0; x < 4; ++x) {
          double sum = 0;
          for (int dy = -1; dy <= 1; ++dy) {
            for (int dx = -1; dx <= 1; ++dx) {
              if (y + dy < 0 || y + dy > 3 || x + dx < 0 || x + dx > 3) {
                continue;
              }
              sum += w[c][0][dy + 1][dx + 1] *
                     batch.images[i * 16 + (y + dy) * 4 + x + dx];
            }
          }
          out[i][c * 16 + y * 4 + x] = sum;
        }
      }
    }
  }
  std::vector<std::array<int, 32>> codes(n);
  for (int c = 0; c < 2; ++c) {
    double mean = 0;
    for (int i = 0; i < n; ++i) {
      for (int p = 0; p < 16; ++p) mean += out[i][c * 16 + p] / (n * 16);
    }
    for (int i = 0; i < n; ++i) {
      for (int p = 0; p < 16; ++p) {
        codes[i][c * 16 + p] = out[i][c * 16 + p] > mean ? 1 : 0;
      }
    }
  }
  std::vector<std::vector<double>> expected(n, std::vector<double>(n));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      for (int u = 0; u < 32; ++u) expected[i][j] += codes[i][u] == codes[j][u];
    }
  }
  ASSERT_EQ(kernel.size(), static_cast<size_t>(n * n));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      EXPECT_EQ(kernel[i * n + j], expected[i][j]) << i << ", " << j;
    }
  }
  const double log_det = LogAbsDet(expected);
  ASSERT_TRUE(std::isfinite(log_det));
  EXPECT_NEAR(score, log_det, 1e-9 * std::abs(log_det));
}

// N_A, the kernel's diagonal, is the number of units of the ReLUs counted
// by hand: each ReLU seen once, whether a module or a call inside one.
TEST(ZeroCostTest, NaswotCountsEveryReluOnce) {
  space::CellNetwork cell;
  cell.channels = 4;
  cell.cells_per_stage = 1;
  // Edges 0->1, 0->2, 1->2, 0->3, 1->3, 2->3: three ReLU-conv-BN edges.
  cell.edge_ops = {"nor_conv_3x3", "skip_connect", "nor_conv_1x1",
                   "avg_pool_3x3", "nor_conv_3x3", "none"};
  const space::NetworkSpec nb201{space::InputShape{1, 8, 8, 10}, cell};
  // Feature maps of 4x8x8, 8x4x4 and 16x2x2 (256, 128 and 64 units): three
  // edge ReLUs per cell; each reduction's two ReLUs (on its input and its
  // halved map); the final BN-ReLU.
  const double nb201_units =
      3 * (256 + 128 + 64) + (256 + 128) + (128 + 64) + 64;
  // Chain(8) on 12x12: stem conv-BN-ReLU to 8x6x6 (288), conv3x3 /2 to 8x3x3
  // (72), an inverted residual with two ReLU6 on 24x3x3 (216 each).
  const double chain_units = 288 + 72 + 2 * 216;

  auto expect_units = [](const space::NetworkSpec& spec, int side,
                         double units) {
    const int n = 6;
    std::vector<double> k;
    std::string error;
    ASSERT_TRUE(NaswotKernel(spec, NoiseBatch(n, side, 5), ZeroCostOptions{},
                             &k, &error))
        << error;
    ASSERT_EQ(k.size(), static_cast<size_t>(n * n));
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(k[i * n + i], units);
      for (int j = 0; j < n; ++j) {
        EXPECT_EQ(k[i * n + j], k[j * n + i]);
        EXPECT_GE(k[i * n + j], 0);
        if (i != j) {
          EXPECT_LT(k[i * n + j], units);  // noise images differ
        }
      }
    }
  };
  expect_units(nb201, 8, nb201_units);
  expect_units(Chain(8), 12, chain_units);
}

// Identical images have identical codes, so K_H has equal rows: the score is
// -infinity, reported as a success, which ranks the network last.
TEST(ZeroCostTest, NaswotOfIdenticalImagesIsMinusInfinity) {
  ZeroCostBatch batch = RandomBatch(4, 1);
  const size_t image = batch.images.size() / 4;
  for (size_t i = image; i < batch.images.size(); ++i) {
    batch.images[i] = batch.images[i % image];
  }
  double score = 0;
  std::string error;
  ASSERT_TRUE(NaswotScore(Chain(8), batch, ZeroCostOptions{}, &score, &error))
      << error;
  EXPECT_EQ(score, -std::numeric_limits<double>::infinity());

  // One repeated image among distinct ones is enough.
  batch = RandomBatch(4, 1);
  std::copy(batch.images.begin(), batch.images.begin() + image,
            batch.images.begin() + 2 * image);
  ASSERT_TRUE(NaswotScore(Chain(8), batch, ZeroCostOptions{}, &score, &error))
      << error;
  EXPECT_EQ(score, -std::numeric_limits<double>::infinity());
}

TEST(ZeroCostTest, NaswotIsSeededAndRefusesABadBatch) {
  ZeroCostOptions o;
  o.seed = 1;
  double a = 0, again = 0, other_seed = 0, other_batch = 0;
  std::string error;
  ASSERT_TRUE(NaswotScore(Chain(8), RandomBatch(16, 1), o, &a, &error))
      << error;
  ASSERT_TRUE(NaswotScore(Chain(8), RandomBatch(16, 1), o, &again, &error));
  ASSERT_TRUE(
      NaswotScore(Chain(8), RandomBatch(16, 2), o, &other_batch, &error));
  o.seed = 2;
  ASSERT_TRUE(
      NaswotScore(Chain(8), RandomBatch(16, 1), o, &other_seed, &error));
  EXPECT_TRUE(std::isfinite(a));
  EXPECT_EQ(a, again);
  EXPECT_NE(a, other_seed);
  EXPECT_NE(a, other_batch);

  ZeroCostBatch bad = RandomBatch(16, 1);
  bad.images.pop_back();
  double unused = 0;
  EXPECT_FALSE(NaswotScore(Chain(8), bad, o, &unused, &error));
  EXPECT_NE(error.find("image values"), std::string::npos) << error;
}

}  // namespace
}  // namespace nas::train
