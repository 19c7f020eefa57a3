// Weight sharing (single-path one-shot; worker/train/supernet.h) as
// estimator trials:
//  * SUPERNET_SHARD: trains the search's supernet, from the version the task
//    names (0: a fresh supernet drawn with task.init_seed, on the CPU so that
//    every shard of round 0 starts from the same weights on any device), for
//    task.steps SPOS steps (0: one pass over the shard's part of the training
//    images) on part shard_index of num_shards. Reports one EpochMetrics at
//    the end (epoch 1, the mean train_loss, seconds; nothing validated) and
//    returns the trained bank as Evaluation::upload (SupernetTensors as a
//    tensor archive), merge_weight = images seen, and
//    metrics.train_seconds.
//  * SCORE_INHERITED: scores the candidate with the weights of version
//    task.checkpoint_version: val_accuracy, val_loss (on at most
//    max_validation_images validation images, after bn_recalibration_batches
//    batches recompute batch-norm statistics), params, flops, latency_ms (of
//    the candidate's stand-alone network on this device, as a TRAIN trial
//    measures it) and train_seconds (the scoring's seconds). No test
//    accuracy: a score is an estimate.
//    With task.fine_tune (epochs > 0), the candidate's subnet (batch norm
//    recalibrated as above) is instead fine-tuned stand-alone for
//    fine_tune.epochs epochs (fine_tune's data_fraction, batch_size and
//    peak learning_rate; TrainAndEvaluate's schedule), reporting each
//    epoch's validation like a TRAIN trial, so that early stopping can
//    judge it; its state is saved at checkpoint_epochs and resumed as a
//    TRAIN trial's (resumable_training.h). val_accuracy and val_loss are
//    then the last epoch's, on all validation images; train_seconds
//    counts the fine-tuning too.
// Task numbers: momentum, weight_decay and bn_recalibration_batches that are
// negative are off (0); zeros, and a zero batch_size or learning_rate, take
// the defaults the search spec documents (those of ShardOptions and
// ScoreOptions), so the values mean the same here as in the spec.
//
// Versions come from a CheckpointSource. The last version loaded for each of
// the last few searches stays in memory, ready to score, so a worker scoring
// many candidates of one version fetches it once. A shard trains a copy of
// its starting version, which stays cached for the round's other shards and
// for scoring: a trained bank is never kept as if it were a version.
//
// Errors (see Estimator::Evaluate for the faults):
//  * the data set missing or unreadable: FAILED_PRECONDITION;
//  * fetching: as the CheckpointSource says (CheckpointClient: UNAVAILABLE
//    or FAILED_PRECONDITION for this worker's trouble, NOT_FOUND or DATA_LOSS
//    for a version that is missing or corrupt);
//  * a fetched archive that does not parse, or whose tensors do not fit the
//    search's space: DATA_LOSS, a trial fault. Its checksum matched, so these
//    are the bytes the controller stored and every worker would fail the same
//    way: handing the trial to another worker would only spend its attempts;
//  * out of memory: RESOURCE_EXHAUSTED; CUDA failures: UNAVAILABLE;
//  * an invalid space, architecture or task: INVALID_ARGUMENT; diverged
//    training and other Torch failures: INTERNAL.
//
// Thread-safety: Evaluate runs one trial at a time (a mutex serializes
// calls), like every Torch training in a process.
#ifndef NAS_WORKER_SUPERNET_ESTIMATOR_H_
#define NAS_WORKER_SUPERNET_ESTIMATOR_H_

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "worker/dataset_cache.h"
#include "worker/estimator.h"
#include "worker/train/supernet.h"

namespace nas::worker {

struct SupernetEstimatorOptions {
  std::string device = "cpu";  // already resolved: cpu, cuda:N
  int num_threads = 0;         // 0: LibTorch's default
  // Searches whose last loaded version stays in memory.
  int cached_searches = 2;
};

class SupernetEstimator : public Estimator {
 public:
  // `checkpoints` and `states` (which may be null: fine-tuning then neither
  // saves nor resumes) must outlive the estimator.
  SupernetEstimator(SupernetEstimatorOptions options,
                    std::shared_ptr<DatasetCache> datasets,
                    CheckpointSource* checkpoints,
                    TrialStateStore* states = nullptr);
  ~SupernetEstimator() override;

  // SUPERNET_SHARD and SCORE_INHERITED (see above); other kinds are
  // INVALID_ARGUMENT.
  absl::StatusOr<Evaluation> Evaluate(
      const nas::v1::TrialAssignment& assignment,
      const ProgressFn& on_epoch) override;
  // Both spaces on each data set present, estimator "supernet", kinds
  // SUPERNET_SHARD and SCORE_INHERITED.
  nas::v1::Capabilities Capabilities() const override;

 private:
  struct CachedVersion {
    int64_t search_id = 0;
    int64_t version = 0;
    train::SupernetPtr supernet;
  };

  absl::StatusOr<Evaluation> TrainShard(const nas::v1::TrialAssignment& a,
                                        const train::SupernetSpace& space,
                                        const train::Dataset& data,
                                        const ProgressFn& on_epoch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Evaluation> Score(const nas::v1::TrialAssignment& a,
                                   const train::SupernetSpace& space,
                                   const train::Dataset& data,
                                   const ProgressFn& on_epoch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Score's fine-tuning path, from the inherited version `supernet`.
  absl::StatusOr<Evaluation> FineTune(const nas::v1::TrialAssignment& a,
                                      const train::Supernet& supernet,
                                      const std::vector<int>& choices,
                                      const train::Dataset& data,
                                      const train::ScoreOptions& inherit,
                                      const ProgressFn& on_epoch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Version `version` of the search's supernet: the cached one, or fetched,
  // checked and loaded, replacing the search's cached version.
  absl::StatusOr<train::Supernet*> Version(int64_t search_id, int64_t version,
                                           const train::SupernetSpace& space)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fetches and loads a version (no caching).
  absl::StatusOr<train::SupernetPtr> Fetch(int64_t search_id, int64_t version,
                                           const train::SupernetSpace& space);

  const SupernetEstimatorOptions options_;
  const std::shared_ptr<DatasetCache> datasets_;
  CheckpointSource* const checkpoints_;
  TrialStateStore* const states_;
  std::mutex mu_;
  // Most recently used first; one entry per search.
  std::list<CachedVersion> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nas::worker

#endif  // NAS_WORKER_SUPERNET_ESTIMATOR_H_
