#include "controller/strategy/categorical_gp.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace nas::controller {
namespace {

constexpr double kThetaGrid[] = {0.5, 1, 2, 3, 4, 6, 8, 12};
constexpr double kNoiseGrid[] = {1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0};
// Relative relevance of one decision; the grid spans a factor of 16 so that
// no decision is ever ignored outright on a few dozen observations.
constexpr double kRelevanceGrid[] = {0.25, 0.5, 1, 2, 4};
// Fewer observations than this cannot tell decisions apart reliably.
constexpr size_t kMinArdObservations = 20;

}  // namespace

void CategoricalGp::SetTheta(double theta) {
  theta_ = theta;
  RecomputeDistances();
}

int CategoricalGp::Difference(const std::vector<int>& a,
                              const std::vector<int>& b, size_t k) const {
  if (k >= first_ordinal_) return std::abs(a[k] - b[k]);
  return a[k] != b[k];
}

void CategoricalGp::RecomputeDistances() {
  const size_t n = inputs_.size();
  const size_t d = relevance_.size();
  // scale_ makes theta the decay of the kernel when every categorical
  // feature differs (and the ordinal ones by one), whatever the relevances.
  double total = 0;
  for (double r : relevance_) total += r;
  scale_ = total > 0 ? theta_ / total : 0.0;
  if (differences_.size() != n * n * d) {
    differences_.assign(n * n * d, 0);
    for (size_t k = 0; k < d; ++k) {
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < i; ++j) {
          differences_[(k * n + i) * n + j] = differences_[(k * n + j) * n + i] =
              static_cast<uint8_t>(
                  std::min(Difference(inputs_[i], inputs_[j], k), 255));
        }
      }
    }
  }
  distances_.assign(n * n, 0.0);
  for (size_t k = 0; k < d; ++k) {
    const uint8_t* diff = &differences_[k * n * n];
    for (size_t p = 0; p < n * n; ++p) distances_[p] += relevance_[k] * diff[p];
  }
}

double CategoricalGp::Kernel(const std::vector<int>& a,
                             const std::vector<int>& b) const {
  double dist = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    dist += relevance_[k] * Difference(a, b, k);
  }
  return std::exp(-scale_ * dist);
}

bool CategoricalGp::Factor() {
  const size_t n = inputs_.size();
  rows_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<double>& row = rows_[i];
    row.assign(i + 1, 0.0);
    for (size_t j = 0; j <= i; ++j) {
      const std::vector<double>& other = rows_[j];
      double sum = std::exp(-scale_ * distances_[i * n + j]);
      if (i == j) sum += noise_ratio_;
      for (size_t k = 0; k < j; ++k) sum -= row[k] * other[k];
      if (i == j) {
        if (sum <= 0) return false;
        row[i] = std::sqrt(sum);
      } else {
        row[j] = sum / other[j];
      }
    }
  }
  return true;
}

void CategoricalGp::ForwardSolve(const std::vector<double>& rhs,
                                 std::vector<double>& solved) const {
  for (size_t i = solved.size(); i < rows_.size(); ++i) {
    const std::vector<double>& row = rows_[i];
    double sum = rhs[i];
    for (size_t k = 0; k < i; ++k) sum -= row[k] * solved[k];
    solved.push_back(sum / row[i]);
  }
}

double CategoricalGp::LogDeterminant() const {
  double log_det = 0;
  for (size_t i = 0; i < rows_.size(); ++i) log_det += 2 * std::log(rows_[i][i]);
  return log_det;
}

void CategoricalGp::Solve() {
  const size_t n = inputs_.size();
  // Generalized least squares for the constant mean:
  // mean = 1' K^-1 y / 1' K^-1 1.
  std::vector<double> ones_solved, y_solved;
  ForwardSolve(std::vector<double>(n, 1.0), ones_solved);
  ForwardSolve(targets_, y_solved);
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num += ones_solved[i] * y_solved[i];
    den += ones_solved[i] * ones_solved[i];
  }
  mean_ = num / den;
  std::vector<double> centred(n);
  for (size_t i = 0; i < n; ++i) centred[i] = targets_[i] - mean_;
  residual_.clear();
  ForwardSolve(centred, residual_);
  double quad = 0;
  for (double r : residual_) quad += r * r;
  signal_variance_ = std::max(quad / static_cast<double>(n), 1e-12);
}

void CategoricalGp::Fit(const std::vector<std::vector<int>>& inputs,
                        const std::vector<double>& targets) {
  inputs_ = inputs;
  targets_ = targets;
  const size_t n = inputs_.size();
  relevance_.assign(inputs_.empty() ? 0 : inputs_[0].size(), 1.0);
  differences_.clear();
  // Profile log likelihood (signal variance at its optimum) of the current
  // hyperparameters; -inf when the matrix is not positive definite.
  auto likelihood = [&]() {
    if (!Factor()) return -std::numeric_limits<double>::infinity();
    Solve();
    return -0.5 * static_cast<double>(n) * std::log(signal_variance_) -
           0.5 * LogDeterminant();
  };
  auto score = [&](double theta, double noise) {
    SetTheta(theta);
    noise_ratio_ = noise;
    return likelihood();
  };
  // Coordinate ascent from the middle of the grids.
  double theta = 3, noise = 1e-2;
  double best = score(theta, noise);
  for (int sweep = 0; sweep < 2; ++sweep) {
    for (double t : kThetaGrid) {
      const double s = score(t, noise);
      if (s > best) best = s, theta = t;
    }
    for (double v : kNoiseGrid) {
      const double s = score(theta, v);
      if (s > best) best = s, noise = v;
    }
  }
  if (ard_ && n >= kMinArdObservations) {
    best = score(theta, noise);
    // One relevance per decision, each on a grid by coordinate ascent with
    // theta and the noise held: a decision that barely changes the score
    // (or one that changes it a lot) gets its own length-scale.
    for (int sweep = 0; sweep < 2; ++sweep) {
      for (size_t k = 0; k < relevance_.size(); ++k) {
        double best_r = relevance_[k];
        for (double r : kRelevanceGrid) {
          if (r == best_r) continue;
          relevance_[k] = r;
          RecomputeDistances();
          const double s = likelihood();
          if (s > best) best = s, best_r = r;
        }
        relevance_[k] = best_r;
      }
    }
  }
  if (!std::isfinite(score(theta, noise))) {
    // Only reachable with degenerate inputs; a large nugget always works.
    score(theta, 1.0);
  }
}

void CategoricalGp::Append(const std::vector<int>& input, double target) {
  const size_t n = inputs_.size();
  std::vector<double> k(n), row;
  for (size_t i = 0; i < n; ++i) k[i] = Kernel(inputs_[i], input);
  ForwardSolve(k, row);
  double diag = 1.0 + noise_ratio_;
  for (double v : row) diag -= v * v;
  row.push_back(std::sqrt(std::max(diag, 1e-12)));
  // The new residual entry: forward substitution of the new target.
  double r = target - mean_;
  for (size_t i = 0; i < n; ++i) r -= row[i] * residual_[i];
  residual_.push_back(r / row[n]);
  rows_.push_back(std::move(row));
  inputs_.push_back(input);
  targets_.push_back(target);
}

CategoricalGp::Probe CategoricalGp::MakeProbe(
    const std::vector<int>& input) const {
  Probe probe;
  probe.input = input;
  probe.solved.reserve(inputs_.size() + 8);
  return probe;
}

CategoricalGp::Prediction CategoricalGp::Predict(Probe& probe) const {
  const size_t n = inputs_.size();
  if (probe.solved.size() < n) {
    std::vector<double> k(n);
    for (size_t i = probe.solved.size(); i < n; ++i) {
      k[i] = Kernel(inputs_[i], probe.input);
    }
    ForwardSolve(k, probe.solved);
  }
  Prediction p;
  p.mean = mean_;
  double explained = 0;
  for (size_t i = 0; i < n; ++i) {
    p.mean += probe.solved[i] * residual_[i];
    explained += probe.solved[i] * probe.solved[i];
  }
  p.variance = signal_variance_ * std::max(1.0 - explained, 1e-12);
  return p;
}

CategoricalGp::Prediction CategoricalGp::Predict(
    const std::vector<int>& input) const {
  Probe probe = MakeProbe(input);
  return Predict(probe);
}

std::vector<double> CategoricalGp::JointCovariance(
    std::vector<Probe>& probes) const {
  const size_t m = probes.size();
  for (Probe& p : probes) Predict(p);  // brings every solve up to date
  std::vector<double> covariance(m * m);
  for (size_t a = 0; a < m; ++a) {
    for (size_t b = 0; b <= a; ++b) {
      double dot = 0;
      const std::vector<double>& va = probes[a].solved;
      const std::vector<double>& vb = probes[b].solved;
      for (size_t i = 0; i < va.size(); ++i) dot += va[i] * vb[i];
      const double c =
          signal_variance_ * (Kernel(probes[a].input, probes[b].input) - dot);
      covariance[a * m + b] = covariance[b * m + a] = c;
    }
  }
  return covariance;
}

}  // namespace nas::controller
