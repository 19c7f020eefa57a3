// Internal to worker/train (no Torch): how the official training images are
// split into a fixed validation set and a training pool, shared by the
// stand-alone trainer and the supernet so that both validate on the same
// images.
#ifndef NAS_WORKER_TRAIN_DATA_SPLIT_H_
#define NAS_WORKER_TRAIN_DATA_SPLIT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace nas::train {

// A Fisher-Yates permutation of 0..n-1 driven by mt19937_64 only, so it is
// the same on every platform, LibTorch version and device.
std::vector<int64_t> Permutation(int64_t n, uint64_t seed);

struct DataSplit {
  std::vector<int64_t> train_pool;   // indices of images that may be trained on
  std::vector<int64_t> validation;  // the fixed validation images
};

// The last validation_fraction (at least one image) of a permutation with a
// constant seed validates; the rest is the training pool. Which images
// validate depends only on `total` and the fraction, never on a trial.
// Returns false and sets *error when fewer than 2 training images remain.
bool SplitTrainValidation(int64_t total, double validation_fraction,
                          DataSplit* split, std::string* error);

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_DATA_SPLIT_H_
