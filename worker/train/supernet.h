// A one-shot supernet for weight sharing (single-path one-shot, SPOS): one
// bank of weights that holds every option of every decision of a search
// space, from which any architecture of the space is cut out as a stand-alone
// network without training.
//
// Layout of the bank:
//  * NAS-Bench-201 cells: each edge holds one set of weights per op that has
//    weights (nor_conv_1x1, nor_conv_3x3); pooling, skip and none are shared
//    by construction.
//  * Chain: each layer slot (stage s, layer j) holds one set of weights per
//    op, at the stage's largest width and the largest width that can feed it;
//    a narrower architecture uses the leading channels of every tensor
//    (weights, batch-norm parameters and statistics), as in slimmable and
//    once-for-all networks. Deeper slots simply go unused by shallower
//    architectures.
//  * Stem, reductions and classifier are shared by all.
// A subnet is exactly the network the stand-alone trainer builds for the same
// architecture (BuildNetwork), with its tensors sliced from the bank, so a
// score measured here is the score of a network a user can export and retrain.
//
// This header includes no Torch header; the bank converts to and from the
// plain tensor archive (common/tensor) in which it travels.
//
// Errors: no function throws; Torch exceptions become *error. Thread-safety:
// like TrainAndEvaluate, training changes the global Torch RNG seed; run one
// shard or scoring at a time per process.
#ifndef NAS_WORKER_TRAIN_SUPERNET_H_
#define NAS_WORKER_TRAIN_SUPERNET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "common/space/space.h"
#include "common/tensor/tensor_archive.h"
#include "worker/train/trainer.h"

namespace nas::train {

// The space a supernet covers, for inputs of one shape.
struct SupernetSpace {
  std::variant<space::Nb201Config, space::ChainConfig> config;
  space::InputShape input;
};

// The weight bank (see above). Opaque; created by CreateSupernet or
// SupernetFromTensors.
class Supernet;

struct SupernetDeleter {
  void operator()(Supernet* supernet) const;
};
using SupernetPtr = std::unique_ptr<Supernet, SupernetDeleter>;

// A freshly initialized bank (Torch's default initializations, drawn with
// `seed`). Returns nullptr and sets *error on a bad space config.
SupernetPtr CreateSupernet(const SupernetSpace& space, uint64_t seed,
                           std::string* error);

// A bank loaded from an archive made by SupernetTensors for the same space.
// Returns nullptr and sets *error, naming the tensor, when a name is missing
// or unknown or a shape differs from the space's layout.
SupernetPtr SupernetFromTensors(const SupernetSpace& space,
                                const tensor::TensorMap& tensors,
                                std::string* error);

// Every tensor of the bank (weights and batch-norm statistics), by name.
tensor::TensorMap SupernetTensors(const Supernet& supernet);

// The search space the supernet was made for (to validate choices, render
// architectures and build networks).
const space::SearchSpace& SupernetSearchSpace(const Supernet& supernet);

struct ShardOptions {
  int steps = 200;  // optimizer steps, one sampled path each
  int batch_size = 128;
  // The peak of a cosine schedule over the whole supernet training, of
  // which this shard covers the fraction [schedule_from, schedule_to]: at
  // step i of n the rate is
  //   learning_rate * (1 + cos(pi * (from + (to - from) * i / n))) / 2.
  // The controller gives round r of R the fraction [r/R, (r+1)/R], so the
  // rate falls smoothly to zero by the end of the last round, whatever
  // worker runs which shard. from == to == 0 keeps the rate constant.
  double learning_rate = 0.05;
  double schedule_from = 0;
  double schedule_to = 0;
  // Fair path sampling (FairNAS, Chu et al. 2021): every decision draws its
  // options from a shuffled queue that refills when empty, so over every
  // run of k steps each of a decision's k options trains exactly once.
  // false (the default): every decision uniform and independent at each
  // step (SPOS). Fair sampling ranked no better in bench/ranking (Kendall
  // tau 0.23 against 0.34 over three seeds), so it stays an option.
  bool fair_paths = false;
  // The sandwich rule (BigNAS, Yu et al. 2020), one path per step: of every
  // 4 steps one trains the largest depths and widths of the space, one the
  // smallest, two drawn paths (ops are always drawn). A uniform draw trains
  // a deep slot only when the depth reaches it and the wide channels only at
  // the largest width, so the supernet under-rates big architectures; the
  // largest and the smallest subnet bound all others.
  bool sandwich = false;
  // Few-shot training (Zhao et al. 2021): when not empty, one entry per
  // decision of the space, an option index to train only paths that take
  // it, or -1 to draw that decision as usual. A sub-supernet per option of
  // a decision then trains without the interference of the others.
  std::vector<int> fixed_choices;
  double momentum = 0.9;  // Nesterov; the buffer starts at zero per shard
  double weight_decay = 5e-4;
  // The shard trains only on part shard_index of num_shards equal parts of
  // the training pool (the validation images are never trained on).
  int shard_index = 0;
  int num_shards = 1;
  double validation_fraction = 0.1;  // as TrainOptions
  uint64_t seed = 0;  // paths and batch order; the split of parts is fixed
  std::string device = "auto";
  int num_threads = 0;
  // Chain spaces: train through layer modules built once per shard whose
  // tensors alias the bank, instead of rebuilding the subnet and copying it
  // back every step. Same arithmetic (equal banks up to floating-point
  // rounding); false selects the rebuilding reference path, for tests and
  // benchmarks. NB201 cells always rebuild.
  bool cache_subnet_modules = true;
};

struct ShardResult {
  double train_loss = 0;  // mean over the shard's steps
  int steps = 0;
  int64_t images = 0;  // images seen (steps x batch), the merge weight
  double seconds = 0;
  std::string device;
};

// Called every few steps with the steps done so far; return false to stop
// the shard (the result then covers the steps done). May be empty.
using ShardProgress = std::function<bool(int steps_done)>;

// Trains the bank in place for options.steps SPOS steps: each step samples
// one architecture (fairly or uniformly, see fair_paths), trains its
// subnet on one batch, and writes the updated slices back into the bank.
// Returns false and sets *error on bad options, a data set that does not
// match the space's input, a non-finite loss or a Torch failure (the bank is
// then unspecified).
bool TrainSupernetShard(Supernet* supernet, const Dataset& data,
                        const ShardOptions& options,
                        const ShardProgress& progress, ShardResult* result,
                        std::string* error);

struct ScoreOptions {
  // Training batches (of the training pool, drawn with `seed`) run through
  // the subnet in train mode without gradients, to recompute its batch-norm
  // statistics from scratch: statistics shared across paths in the bank do
  // not fit any one path. 0 keeps the bank's statistics.
  int bn_recalibration_batches = 20;
  int batch_size = 128;
  double validation_fraction = 0.1;
  // Validate on at most this many of the validation images (0: all).
  int64_t max_validation_images = 0;
  uint64_t seed = 0;
  std::string device = "auto";
  int num_threads = 0;
};

struct ScoreResult {
  double val_accuracy = 0;
  double val_loss = 0;
  int64_t params = 0;  // of the subnet, as CountParameters
  int64_t flops = 0;   // as CountFlops
  double seconds = 0;
  std::string device;
};

// Scores the architecture `choices` with inherited weights: cuts its subnet
// out of the bank, recalibrates batch norm, and evaluates on the validation
// images. The bank is not changed. Returns false and sets *error for invalid
// choices, a mismatched data set or a Torch failure.
bool ScoreSubnet(const Supernet& supernet, const std::vector<int>& choices,
                 const Dataset& data, const ScoreOptions& options,
                 ScoreResult* result, std::string* error);

// The subnet of `choices` as the tensors of the stand-alone network
// (BuildNetwork's parameter and buffer names, e.g. "body.layer2.body.0.weight",
// without batch-norm step counters). Returns false and sets *error for
// invalid choices.
bool ExtractSubnet(const Supernet& supernet, const std::vector<int>& choices,
                   tensor::TensorMap* out, std::string* error);

// The subnet of `choices` as ExtractSubnet gives it, with its batch-norm
// statistics recomputed as ScoreSubnet does (options' bn_recalibration_batches,
// batch_size, seed, validation_fraction, device): the weights a candidate
// inherits to be fine-tuned stand-alone (TrainOptions::initial_weights).
// The bank is not changed. Returns false and sets *error as ScoreSubnet.
bool InheritSubnet(const Supernet& supernet, const std::vector<int>& choices,
                   const Dataset& data, const ScoreOptions& options,
                   tensor::TensorMap* out, std::string* error);

// Logits of the subnet of `choices` (as ScoreSubnet would use it, with the
// bank's batch-norm statistics) for `images` (float, [N, C, H, W], already
// normalized), in eval mode, as a flat row-major vector.
bool SubnetLogits(const Supernet& supernet, const std::vector<int>& choices,
                  const std::vector<float>& images, int64_t batch,
                  std::vector<float>* logits, std::string* error);

// Builds the stand-alone network of `spec`, loads `tensors` into it by name
// (every parameter and running statistic must be present with its exact
// shape) and returns its logits for `images` (float, [N, C, H, W], already
// normalized) in eval mode, as a flat row-major vector. For tests and for
// checking exported models. Returns false and sets *error on any mismatch.
bool StandaloneLogits(const space::NetworkSpec& spec,
                      const tensor::TensorMap& tensors,
                      const std::vector<float>& images, int64_t batch,
                      std::vector<float>* logits, std::string* error);

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_SUPERNET_H_
