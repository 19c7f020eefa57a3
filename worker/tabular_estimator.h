// Evaluates a NAS-Bench-201 cell by looking its accuracy up in a benchmark
// table instead of training it, so a whole search runs through the real
// controller and workers in seconds (strategy development, benchmarks, tests).
//
// The table is a CSV file with the header `arch,cifar10_test_acc_200ep` and
// one row per architecture: the NAS-Bench-201 string (as
// nas::space::SearchSpace::Render writes it for the nb201 space) and the test
// accuracy in percent (see ../shared/benchmarks/README.md).
//
// Thread-safety: the table is immutable once loaded; Evaluate may be called
// from any number of threads.
#ifndef NAS_WORKER_TABULAR_ESTIMATOR_H_
#define NAS_WORKER_TABULAR_ESTIMATOR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "worker/estimator.h"

namespace nas::worker {

class TabularEstimator : public Estimator {
 public:
  // Reads the whole table at `path`. `noise_sigma` (percentage points, >= 0)
  // is the standard deviation of the Gaussian noise added to the reported
  // validation accuracy; 0 reports the table's value exactly.
  // Errors: NOT_FOUND when the file cannot be opened; INVALID_ARGUMENT for a
  // negative or non-finite sigma, a wrong header, an empty table, or a bad
  // row (message "PATH:LINE: ..." for a malformed line, an architecture
  // string that does not parse, a duplicate string, or an accuracy that is
  // not a number in [0, 100]).
  static absl::StatusOr<std::unique_ptr<TabularEstimator>> Load(
      const std::string& path, double noise_sigma = 0);

  // Looks the assignment's architecture up. Reports
  //  * val_accuracy: (table accuracy + noise) / 100, clamped to [0, 1]; the
  //    noise is drawn from the trial's seed, so every attempt of a trial
  //    sees the same value;
  //  * test_accuracy: table accuracy / 100, without noise;
  //  * params and flops of the network the space describes, for the input
  //    shape of the assignment's data set (CIFAR-10's when unspecified);
  //  * train_seconds the look-up's wall time; val_loss, test_loss and
  //    latency_ms unset (nothing runs or is measured);
  // and calls on_epoch once, with epoch 1 (stopped when it returns false).
  // Errors: FAILED_PRECONDITION when the space is not nb201; the errors of
  // spec::MakeSearchSpace; INVALID_ARGUMENT for choices outside the space;
  // NOT_FOUND naming the string when the table lacks the architecture.
  absl::StatusOr<Evaluation> Evaluate(
      const nas::v1::TrialAssignment& assignment,
      const ProgressFn& on_epoch) override;
  // The nb201 space on any data set (the table stands in for training),
  // estimator "tabular".
  nas::v1::Capabilities Capabilities() const override;

  // The table's accuracy (percent) for a NAS-Bench-201 string, if present.
  std::optional<double> Lookup(const std::string& arch) const;
  size_t size() const { return accuracy_.size(); }
  double noise_sigma() const { return noise_sigma_; }

  // The validation accuracy (percent) Evaluate reports for an architecture
  // whose table accuracy is `accuracy` in a trial with `seed`.
  double NoisyAccuracy(double accuracy, uint64_t seed) const;

 private:
  TabularEstimator(absl::flat_hash_map<std::string, double> accuracy,
                   double noise_sigma);

  const absl::flat_hash_map<std::string, double> accuracy_;
  const double noise_sigma_;
};

}  // namespace nas::worker

#endif  // NAS_WORKER_TABULAR_ESTIMATOR_H_
