// Exact Gaussian-process regression over categorical vectors (one value per
// decision; ActiveDecisions::kInactive is just another value). The kernel
// depends only on how many decisions two inputs differ in:
//   k(a, b) = exp(-theta * mismatches(a, b) / decisions),
// a product over decisions, so it captures interactions of every order with
// one length-scale. theta and the noise-to-signal ratio are chosen on fixed
// grids by coordinate ascent on the profile marginal likelihood (the signal
// variance and the constant mean have closed forms), so fitting is
// deterministic. Plain C++, no linear-algebra library: sized for a few
// hundred observations. Not thread-safe.
#ifndef NAS_CONTROLLER_STRATEGY_CATEGORICAL_GP_H_
#define NAS_CONTROLLER_STRATEGY_CATEGORICAL_GP_H_

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

  double theta() const { return theta_; }
  double noise_ratio() const { return noise_ratio_; }
  double signal_variance() const { return signal_variance_; }

 private:
  double Kernel(const std::vector<int>& a, const std::vector<int>& b) const;
  void SetTheta(double theta);
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
  std::vector<double> kernel_by_mismatches_;
  std::vector<int> mismatches_;  // n x n, for the inputs given to Fit
  std::vector<std::vector<double>> rows_;  // Cholesky factor, row i has i+1
  std::vector<double> residual_;  // L^-1 (targets - mean)
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STRATEGY_CATEGORICAL_GP_H_
