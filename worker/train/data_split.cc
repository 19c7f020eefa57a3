#include "worker/train/data_split.h"

#include <cmath>
#include <algorithm>
#include <numeric>
#include <random>
#include <utility>

namespace nas::train {
namespace {

// Seed of the train/validation split: a constant, independent of the trial
// seed, so that every trial of every search validates on the same images.
constexpr uint64_t kValidationSplitSeed = 0x6e61732d76616cULL;  // "nas-val"

}  // namespace

std::vector<int64_t> Permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(order[i], order[static_cast<int64_t>(rng() % (i + 1))]);
  }
  return order;
}

bool SplitTrainValidation(int64_t total, double validation_fraction,
                          DataSplit* split, std::string* error) {
  const int64_t num_val = std::max<int64_t>(
      1, std::llround(static_cast<double>(total) * validation_fraction));
  if (total - num_val < 2) {
    *error = "validation_fraction leaves fewer than 2 training images";
    return false;
  }
  const std::vector<int64_t> order = Permutation(total, kValidationSplitSeed);
  split->validation.assign(order.end() - num_val, order.end());
  split->train_pool.assign(order.begin(), order.end() - num_val);
  return true;
}

}  // namespace nas::train
