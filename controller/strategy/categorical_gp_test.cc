#include "controller/strategy/categorical_gp.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace nas::controller {
namespace {

// Six decisions of five options, additive hidden weights.
struct AdditiveProblem {
  explicit AdditiveProblem(uint64_t seed) : rng(seed) {
    std::normal_distribution<double> normal;
    for (auto& row : weights) {
      for (double& w : row) w = normal(rng);
    }
  }
  std::vector<int> Sample() {
    std::uniform_int_distribution<int> pick(0, 4);
    std::vector<int> x(6);
    for (int& v : x) v = pick(rng);
    return x;
  }
  double operator()(const std::vector<int>& x) const {
    double y = 0;
    for (int i = 0; i < 6; ++i) y += weights[i][x[i]];
    return y;
  }
  std::mt19937_64 rng;
  double weights[6][5];
};

double Correlation(const std::vector<double>& a, const std::vector<double>& b) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ma += a[i] / a.size();
    mb += b[i] / b.size();
  }
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

TEST(CategoricalGpTest, PredictsHeldOutPointsOfAnAdditiveFunction) {
  AdditiveProblem problem(1);
  std::vector<std::vector<int>> x;
  std::vector<double> y;
  for (int i = 0; i < 80; ++i) {
    x.push_back(problem.Sample());
    y.push_back(problem(x.back()));
  }
  CategoricalGp gp;
  gp.Fit(x, y);
  std::vector<double> truth, predicted;
  for (int i = 0; i < 200; ++i) {
    const std::vector<int> t = problem.Sample();
    truth.push_back(problem(t));
    predicted.push_back(gp.Predict(t).mean);
  }
  EXPECT_GT(Correlation(truth, predicted), 0.8);
}

TEST(CategoricalGpTest, NearlyInterpolatesExactData) {
  AdditiveProblem problem(2);
  std::vector<std::vector<int>> x;
  std::vector<double> y;
  for (int i = 0; i < 30; ++i) {
    x.push_back(problem.Sample());
    y.push_back(problem(x.back()));
  }
  CategoricalGp gp;
  gp.Fit(x, y);
  for (size_t i = 0; i < x.size(); ++i) {
    const auto p = gp.Predict(x[i]);
    EXPECT_NEAR(p.mean, y[i], 0.35);
    EXPECT_LT(p.variance, 0.2 * gp.signal_variance());
  }
}

TEST(CategoricalGpTest, BelievedObservationKeepsTheMeanAndShrinksVariance) {
  AdditiveProblem problem(3);
  std::vector<std::vector<int>> x;
  std::vector<double> y;
  for (int i = 0; i < 20; ++i) {
    x.push_back(problem.Sample());
    y.push_back(problem(x.back()));
  }
  CategoricalGp gp;
  gp.Fit(x, y);
  const std::vector<int> probe = problem.Sample();
  const auto before = gp.Predict(probe);
  gp.Append(probe, before.mean);
  const auto after = gp.Predict(probe);
  EXPECT_NEAR(after.mean, before.mean, 1e-6);
  EXPECT_LT(after.variance, 0.5 * before.variance);
}

TEST(CategoricalGpTest, RelevanceFavoursTheDecisionsThatMatter) {
  // Only decisions 0 and 1 change the value; 2..5 are noise-free filler.
  AdditiveProblem problem(4);
  std::vector<std::vector<int>> x;
  std::vector<double> y;
  for (int i = 0; i < 60; ++i) {
    x.push_back(problem.Sample());
    y.push_back(problem.weights[0][x.back()[0]] +
                problem.weights[1][x.back()[1]]);
  }
  CategoricalGp gp;
  gp.set_ard(true);
  gp.Fit(x, y);
  const std::vector<double>& r = gp.relevance();
  ASSERT_EQ(r.size(), 6u);
  for (int k = 2; k < 6; ++k) {
    EXPECT_GT(r[0], r[k]) << k;
    EXPECT_GT(r[1], r[k]) << k;
  }
  // Without ARD every decision weighs the same.
  CategoricalGp plain;
  plain.Fit(x, y);
  EXPECT_EQ(plain.relevance(), std::vector<double>(6, 1.0));
}

TEST(CategoricalGpTest, OrdinalFeaturesInterpolateBetweenCounts) {
  // y grows with a count; counts 0, 2 and 4 are seen, 1 and 3 are not.
  std::vector<std::vector<int>> x;
  std::vector<double> y;
  for (int c : {0, 2, 4}) {
    for (int other = 0; other < 3; ++other) {
      x.push_back({other, c});
      y.push_back(c);
    }
  }
  CategoricalGp gp;
  gp.set_first_ordinal(1);
  gp.Fit(x, y);
  const double at1 = gp.Predict(std::vector<int>{0, 1}).mean;
  const double at3 = gp.Predict(std::vector<int>{0, 3}).mean;
  EXPECT_GT(at1, gp.Predict(std::vector<int>{0, 0}).mean);
  EXPECT_LT(at1, gp.Predict(std::vector<int>{0, 2}).mean);
  EXPECT_GT(at3, gp.Predict(std::vector<int>{0, 2}).mean);
  EXPECT_LT(at3, gp.Predict(std::vector<int>{0, 4}).mean);
}

}  // namespace
}  // namespace nas::controller
