// Zero-cost proxies: scores of an untrained network that predict how well it
// will train, computed at initialization in one forward pass and at most one
// backward pass
// (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021).
// No Torch in this header.
//
// Errors: no function throws; a bad spec or a Torch failure returns false
// and sets *error. Thread-safety: each call seeds Torch's global RNG (the
// initialization), like TrainAndEvaluate: one call at a time per process.
#ifndef NAS_WORKER_TRAIN_ZERO_COST_H_
#define NAS_WORKER_TRAIN_ZERO_COST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/space/network_spec.h"

namespace nas::train {

struct ZeroCostOptions {
  uint64_t seed = 0;  // the initialization the score is taken at
  std::string device = "cpu";  // as TrainOptions::device ("auto" allowed)
  int num_threads = 0;  // 0: Torch's default
};

// A batch to score with: `images` float [batch, C, H, W] row-major, already
// normalized, and one class index per image.
struct ZeroCostBatch {
  std::vector<float> images;
  std::vector<int64_t> labels;
  int64_t batch = 0;
};

class Dataset;  // trainer.h

// `batch` images drawn with `seed` from the training pool of `data` (never
// its validation images, split as TrainOptions::validation_fraction does),
// normalized, with their labels.
bool TrainingBatch(const Dataset& data, int64_t batch,
                   double validation_fraction, uint64_t seed,
                   ZeroCostBatch* out, std::string* error);

// synflow (Tanaka et al. 2020): the network in double precision with every
// parameter replaced by its absolute value and batch norm left out (an
// exact identity), R = the sum of its logits for one all-ones input; the
// score is the sum over the weights of every convolution and linear layer
// of |weight x dR/dweight|. Data-free. Large for networks that keep signal
// flowing through many parameters; ranks are what matter (the values span
// many orders of magnitude, so compare logs).
bool SynflowScore(const space::NetworkSpec& spec, const ZeroCostOptions& o,
                  double* score, std::string* error);

// grad_norm: the sum over convolution and linear weights of the L2 norm of
// the gradient of the mean cross-entropy of `batch` (train mode).
bool GradNormScore(const space::NetworkSpec& spec, const ZeroCostBatch& batch,
                   const ZeroCostOptions& o, double* score,
                   std::string* error);

// NASWOT (Mellor et al., "Neural Architecture Search without Training",
// ICML 2021): the log |det K_H| of the batch's activation-code kernel, in
// double precision. One forward pass of `batch` in train mode (batch norm on
// the batch's statistics, as the authors' code). Each image's code is, for
// every unit of every ReLU (and ReLU6) the network applies, 1 where the
// ReLU's input is > 0 and 0 otherwise, concatenated over the ReLUs; K_H[i][j]
// is the number of units on which images i and j agree (N_A minus their
// Hamming distance). Labels are not read. Large when the untrained network
// already tells the images apart.
//
// A kernel that is singular because two images have the same code (identical
// images, or a network that maps them alike) gives *score = -infinity and
// returns true, so such a network ranks last; other singular kernels give
// -infinity or, where rounding leaves a tiny determinant, a very low finite
// value. A ReLU applied once per edge counts once per edge; ReLUs the network
// does not run (NAS-Bench-201 edges reduced to "none") count nothing, where
// the authors' code, which multiplies "none" edges by zero, counts them as
// units on which every image agrees.
bool NaswotScore(const space::NetworkSpec& spec, const ZeroCostBatch& batch,
                 const ZeroCostOptions& o, double* score, std::string* error);

// The kernel K_H behind NaswotScore, row-major [batch x batch]; its diagonal
// is N_A, the number of ReLU units. For tests and inspection.
bool NaswotKernel(const space::NetworkSpec& spec, const ZeroCostBatch& batch,
                  const ZeroCostOptions& o, std::vector<double>* kernel,
                  std::string* error);

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_ZERO_COST_H_
