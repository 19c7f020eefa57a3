// Trains each candidate from scratch with LibTorch under the trial's budget
// (the proxy: few epochs, a data fraction) and measures it. Torch itself is
// confined to worker/train; this adapter only converts protos.
#ifndef NAS_WORKER_TORCH_ESTIMATOR_H_
#define NAS_WORKER_TORCH_ESTIMATOR_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "worker/estimator.h"
#include "worker/train/trainer.h"

namespace nas::worker {

struct TorchEstimatorOptions {
  std::string data_dir = "data";
  std::string device = "cpu";  // already resolved: cpu, cuda:N
  int num_threads = 0;          // 0: LibTorch's default
};

class TorchEstimator : public Estimator {
 public:
  explicit TorchEstimator(TorchEstimatorOptions options);
  absl::StatusOr<Evaluation> Evaluate(const nas::v1::TrialAssignment& assignment,
                                      const ProgressFn& on_epoch) override;
  // Both spaces (nb201, chain) on each data set whose folder is in
  // data_dir, estimator "torch". A folder that is present but unreadable
  // shows up later, as a worker fault of the trial that needs it.
  nas::v1::Capabilities Capabilities() const override;

 private:
  // Data sets are loaded once per worker and kept in memory.
  absl::StatusOr<std::shared_ptr<const train::Dataset>> LoadDataset(
      nas::v1::DatasetName name);

  const TorchEstimatorOptions options_;
  std::mutex mu_;
  std::map<int, std::shared_ptr<const train::Dataset>> datasets_;
};

}  // namespace nas::worker

#endif  // NAS_WORKER_TORCH_ESTIMATOR_H_
