#include "controller/strategy/categorical_gp.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nas::controller {
namespace {

constexpr double kThetaGrid[] = {0.5, 1, 2, 3, 4, 6, 8, 12};
constexpr double kNoiseGrid[] = {1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0};

}  // namespace

void CategoricalGp::SetTheta(double theta) {
  theta_ = theta;
  const size_t d = inputs_.empty() ? 0 : inputs_[0].size();
  kernel_by_mismatches_.resize(d + 1);
  for (size_t m = 0; m <= d; ++m) {
    kernel_by_mismatches_[m] =
        std::exp(-theta * static_cast<double>(m) / static_cast<double>(d));
  }
}

double CategoricalGp::Kernel(const std::vector<int>& a,
                             const std::vector<int>& b) const {
  int mismatches = 0;
  for (size_t i = 0; i < a.size(); ++i) mismatches += a[i] != b[i];
  return kernel_by_mismatches_[mismatches];
}

bool CategoricalGp::Factor() {
  const size_t n = inputs_.size();
  rows_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<double>& row = rows_[i];
    row.assign(i + 1, 0.0);
    for (size_t j = 0; j <= i; ++j) {
      const std::vector<double>& other = rows_[j];
      double sum = kernel_by_mismatches_[mismatches_[i * n + j]];
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
  mismatches_.assign(n * n, 0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < i; ++j) {
      int m = 0;
      for (size_t k = 0; k < inputs_[i].size(); ++k) {
        m += inputs_[i][k] != inputs_[j][k];
      }
      mismatches_[i * n + j] = mismatches_[j * n + i] = m;
    }
  }
  // Profile log likelihood (signal variance at its optimum); -inf when the
  // matrix is not positive definite.
  auto score = [&](double theta, double noise) {
    SetTheta(theta);
    noise_ratio_ = noise;
    if (!Factor()) return -std::numeric_limits<double>::infinity();
    Solve();
    return -0.5 * static_cast<double>(n) * std::log(signal_variance_) -
           0.5 * LogDeterminant();
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
