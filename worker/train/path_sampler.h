// How a supernet shard picks each step's path and learning rate. No Torch.
#ifndef NAS_WORKER_TRAIN_PATH_SAMPLER_H_
#define NAS_WORKER_TRAIN_PATH_SAMPLER_H_

#include <cstdint>
#include <random>
#include <vector>

#include "common/space/space.h"
#include "worker/train/supernet.h"

namespace nas::train {

// Draws one architecture per step (see ShardOptions::fair_paths and
// sandwich): fair, every decision pops its options from a shuffled queue
// that refills when empty; otherwise every decision uniform and independent.
// With the sandwich rule, steps 0, 4, 8, ... take every size decision
// (chain depths and widths) at its largest option and steps 1, 5, 9, ... at
// its smallest; other decisions are drawn as usual. Deterministic in `seed`.
class PathSampler {
 public:
  // `space` must outlive the sampler.
  // `fixed`: empty, or an option index (or -1: drawn) per decision, as
  // ShardOptions::fixed_choices. REQUIRES: valid indices.
  PathSampler(const space::SearchSpace& space, bool fair, bool sandwich,
              uint64_t seed, std::vector<int> fixed = {});

  std::vector<int> Next();

  // The sampler's generator, shared with the shard's batch order so that
  // one seed fixes both.
  std::mt19937_64& rng() { return rng_; }

 private:
  int Draw(size_t decision);

  const space::SearchSpace& space_;
  const bool fair_;
  const bool sandwich_;
  std::mt19937_64 rng_;
  int64_t step_ = 0;
  // Per decision: the option index of its largest and smallest number when
  // it is a size decision ("*.depth", "*.width"), else -1.
  std::vector<int> largest_;
  std::vector<int> smallest_;
  std::vector<std::vector<int>> queues_;  // per decision, options left
  std::vector<int> fixed_;  // per decision, an option index or -1
};

// The learning rate of step `step` (0-based) of a shard with options `o`
// (the cosine of ShardOptions::learning_rate).
double ShardLearningRate(const ShardOptions& o, int step);

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_PATH_SAMPLER_H_
