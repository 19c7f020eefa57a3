// Exact Gaussian-process regression over categorical vectors (one value per
// decision; ActiveDecisions::kInactive is just another value). The kernel
// depends only on which decisions two inputs differ in:
//   k(a, b) = exp(-theta * sum_i r_i d_i(a, b) / sum_i r_i),
// where d_i is 1 when feature i differs (|a_i - b_i| for ordinal count
// features) and r_i its relevance (all 1 unless ARD is on): a product over
// features, so it captures interactions of every order. theta and the noise-to-signal ratio are chosen on fixed
// grids by coordinate ascent on the profile marginal likelihood (the signal
// variance and the constant mean have closed forms), so fitting is
// deterministic. Plain C++, no linear-algebra library: sized for a few
// hundred observations. Not thread-safe.
#ifndef NAS_CONTROLLER_STRATEGY_CATEGORICAL_GP_H_
#define NAS_CONTROLLER_STRATEGY_CATEGORICAL_GP_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nas::controller {

class CategoricalGp {
 public:
  struct Prediction {
    double mean = 0;
    double variance = 0;  // of the latent function, without noise
  };

  // A point whose posterior is queried repeatedly: it caches the solve
  // against the training inputs and catches up in O(n) per Append.
  struct Probe {
    std::vector<int> input;
    std::vector<double> solved;  // L^-1 k(inputs, input), a prefix
  };

  // Fits hyperparameters and the posterior to (inputs, targets).
  // REQUIRES: inputs non-empty, all of one length, as many as targets.
  void Fit(const std::vector<std::vector<int>>& inputs,
           const std::vector<double>& targets);

  // Conditions on one more observation with the current hyperparameters;
  // used for pending trials, added at the posterior mean ("kriging
  // believer"), which keeps the mean and shrinks the variance. O(n^2).
  void Append(const std::vector<int>& input, double target);

  Probe MakeProbe(const std::vector<int>& input) const;
  Prediction Predict(Probe& probe) const;
  Prediction Predict(const std::vector<int>& input) const;

  // The joint posterior covariance of the probes' latent values, row-major.
  std::vector<double> JointCovariance(std::vector<Probe>& probes) const;

  // Per-decision relevances fitted by Fit (automatic relevance
  // determination): k(a, b) = exp(-theta * sum_i r_i [a_i != b_i] / sum r).
  // Off by default: every decision counts the same.
  void set_ard(bool ard) { ard_ = ard; }
  const std::vector<double>& relevance() const { return relevance_; }
  // Features from index `first` on are counts, compared by their absolute
  // difference instead of by equality. Set before Fit.
  void set_first_ordinal(size_t first) { first_ordinal_ = first; }

  double theta() const { return theta_; }
  double noise_ratio() const { return noise_ratio_; }
  double signal_variance() const { return signal_variance_; }

 private:
  double Kernel(const std::vector<int>& a, const std::vector<int>& b) const;
  void SetTheta(double theta);
  // distances_ and scale_ from inputs_, relevance_ and theta_.
  void RecomputeDistances();
  // How far apart a and b are in feature k: 0 or 1 for a categorical
  // feature, |a_k - b_k| for an ordinal one.
  int Difference(const std::vector<int>& a, const std::vector<int>& b,
                 size_t k) const;
  // Cholesky factor of K + noise_ratio * I into rows_; false if not SPD.
  bool Factor();
  // The constant mean, residual solve and signal variance from rows_.
  void Solve();
  // Extends `solved` (a forward-substitution prefix of `rhs`) to all rows.
  void ForwardSolve(const std::vector<double>& rhs,
                    std::vector<double>& solved) const;
  double LogDeterminant() const;

  std::vector<std::vector<int>> inputs_;
  std::vector<double> targets_;
  double theta_ = 1.0;
  double noise_ratio_ = 1e-2;
  double mean_ = 0;
  double signal_variance_ = 1;
  bool ard_ = false;
  size_t first_ordinal_ = static_cast<size_t>(-1);
  std::vector<uint8_t> differences_;  // d x n x n, Difference per feature
  std::vector<double> relevance_;  // one per decision
  double scale_ = 0;               // theta / sum of relevance_
  std::vector<double> distances_;  // n x n relevance-weighted mismatches
  std::vector<std::vector<double>> rows_;  // Cholesky factor, row i has i+1
  std::vector<double> residual_;  // L^-1 (targets - mean)
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STRATEGY_CATEGORICAL_GP_H_
