// A NAS-Bench-201 accuracy table (the CSV format of
// shared/benchmarks/nb201_cifar10.csv: `arch,<accuracy>` per line) indexed by
// the space's choices. Strings that are the same computation (equal
// CanonicalKey) form one class whose value is the best accuracy among them,
// so an architecture's value does not depend on which string represents it.
// Only the benchmark's evaluation function reads it; strategies never do.
#ifndef NAS_BENCH_STRATEGIES_NB201_TABLE_H_
#define NAS_BENCH_STRATEGIES_NB201_TABLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/space/space.h"

namespace nas::bench {

class Nb201Table {
 public:
  // Reads the table for `space` (an NB201 space over all five ops).
  // InvalidArgument when a row is malformed, names an op the space lacks,
  // repeats a string, or when a string of the space is missing.
  static absl::StatusOr<Nb201Table> Load(const std::string& path,
                                         const space::SearchSpace& space);

  // The class value of a valid architecture.
  double Accuracy(const std::vector<int>& choices) const {
    return class_value_[class_of_[Index(choices)]];
  }
  // True for every computation whose value equals the table's maximum
  // (ties count: each reaches the global optimum).
  bool IsOptimum(const std::vector<int>& choices) const {
    return class_value_[class_of_[Index(choices)]] == optimum();
  }
  double optimum() const { return class_value_[optimum_class_]; }
  int strings() const { return static_cast<int>(class_of_.size()); }
  int classes() const { return static_cast<int>(class_value_.size()); }
  // Computations whose value is the maximum.
  int optimum_classes() const { return optimum_classes_; }

 private:
  size_t Index(const std::vector<int>& choices) const;

  std::vector<int> radix_;
  std::vector<int> class_of_;        // per string, in mixed-radix order
  std::vector<double> class_value_;  // per class
  int optimum_class_ = 0;
  int optimum_classes_ = 0;
};

}  // namespace nas::bench

#endif  // NAS_BENCH_STRATEGIES_NB201_TABLE_H_
