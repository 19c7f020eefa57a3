// Scores each candidate at initialization with a zero-cost proxy
// (ZERO_COST trials; ZeroCostConfig in search.proto), without training: a
// trial costs a fraction of a second on a CPU. Torch itself is confined to
// worker/train (zero_cost.h); this adapter converts protos.
#ifndef NAS_WORKER_ZERO_COST_ESTIMATOR_H_
#define NAS_WORKER_ZERO_COST_ESTIMATOR_H_

#include <memory>
#include <string>

#include "worker/dataset_cache.h"
#include "worker/estimator.h"

namespace nas::worker {

struct ZeroCostEstimatorOptions {
  std::string device = "cpu";  // already resolved: cpu, cuda:N
  int num_threads = 0;         // 0: LibTorch's default
};

class ZeroCostEstimator : public Estimator {
 public:
  ZeroCostEstimator(ZeroCostEstimatorOptions options,
                    std::shared_ptr<DatasetCache> datasets);

  // Reports zero_cost_score (larger predicts more accurate: synflow as its
  // natural log, since it spans hundreds of orders of magnitude; naswot as
  // log |K_H|; grad_norm, params and flops as they are), params, flops and
  // train_seconds (the time the score took). The data-based proxies draw
  // their batch from the training images with the trial's seed; the
  // network is initialized with it too. A proxy without a finite score
  // (synflow 0, a singular NASWOT kernel) fails the trial: the candidate
  // cannot be ranked.
  absl::StatusOr<Evaluation> Evaluate(
      const nas::v1::TrialAssignment& assignment,
      const ProgressFn& on_epoch) override;
  // Both spaces on each data set the cache has, kind ZERO_COST.
  nas::v1::Capabilities Capabilities() const override;

 private:
  const ZeroCostEstimatorOptions options_;
  const std::shared_ptr<DatasetCache> datasets_;
};

}  // namespace nas::worker

#endif  // NAS_WORKER_ZERO_COST_ESTIMATOR_H_
