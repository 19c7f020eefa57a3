// Trains each candidate from scratch with LibTorch under the trial's budget
// (the proxy: few epochs, a data fraction) and measures it: TRAIN trials,
// and RETRAIN trials, which train exactly the same way and also return the
// trained network's weights for upload. Torch itself is confined to
// worker/train; this adapter only converts protos.
#ifndef NAS_WORKER_TORCH_ESTIMATOR_H_
#define NAS_WORKER_TORCH_ESTIMATOR_H_

#include <memory>
#include <string>

#include "worker/dataset_cache.h"
#include "worker/estimator.h"

namespace nas::worker {

struct TorchEstimatorOptions {
  std::string data_dir = "data";
  std::string device = "cpu";  // already resolved: cpu, cuda:N
  int num_threads = 0;         // 0: LibTorch's default
  // On CUDA, train with the fast step (TrainOptions::fast_cuda_step).
  bool fast_cuda_step = true;
};

class TorchEstimator : public Estimator {
 public:
  // Loads data sets from options.data_dir into a cache of its own.
  explicit TorchEstimator(TorchEstimatorOptions options);
  // Shares `datasets` (options.data_dir is then unused). With `states`
  // (not owned), a TRAIN trial under early stopping saves its training state
  // at its checkpoint epochs and a resumed one goes on from it; without,
  // such trials train from the start and save nothing.
  TorchEstimator(TorchEstimatorOptions options,
                 std::shared_ptr<DatasetCache> datasets,
                 TrialStateStore* states = nullptr);

  // Any kind is trained from scratch; RETRAIN also sets Evaluation::upload
  // to the trained network's tensors (a tensor archive, by the names
  // BuildNetwork gives them; see StandaloneLogits in worker/train/supernet.h).
  absl::StatusOr<Evaluation> Evaluate(
      const nas::v1::TrialAssignment& assignment,
      const ProgressFn& on_epoch) override;
  // Both spaces (nb201, chain) on each data set whose folder is in
  // data_dir, estimator "torch", no kinds (TRAIN and RETRAIN).
  nas::v1::Capabilities Capabilities() const override;

 private:
  const TorchEstimatorOptions options_;
  const std::shared_ptr<DatasetCache> datasets_;
  TrialStateStore* const states_;
};

}  // namespace nas::worker

#endif  // NAS_WORKER_TORCH_ESTIMATOR_H_
