// Trains and evaluates one network on one data set with LibTorch.
//
// This header deliberately includes no Torch header (Torch headers are heavy
// and must stay inside worker/train's .cc files); everything Torch-specific
// sits behind the opaque Dataset and the functions below.
//
// Errors: no function here throws. Torch and standard-library exceptions are
// caught inside and turned into the *error string (the error pointer may be
// null when the caller does not want the message).
//
// Thread-safety: LoadDataset, CountParameters, CountFlops, ResolveDevice and
// DeviceName may be called from any thread. TrainAndEvaluate changes
// process-wide Torch state (the global RNG seed; the intra-op thread count
// when num_threads > 0), so run one training at a time per process.
#ifndef NAS_WORKER_TRAIN_TRAINER_H_
#define NAS_WORKER_TRAIN_TRAINER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/space/network_spec.h"
#include "common/tensor/tensor_archive.h"

namespace nas::train {

struct TrainOptions {
  int epochs = 2;  // >= 0; 0 evaluates the freshly initialised network
  // Fraction (0, 1] of the training images (after the validation split) used
  // for training, drawn with `seed`.
  double data_fraction = 1.0;
  int batch_size = 128;  // >= 2
  // Peak learning rate of SGD (Nesterov momentum 0.9, weight decay 5e-4),
  // decayed to 0 along a cosine over all steps.
  double learning_rate = 0.1;
  // Fraction (0, 1) of the official training images held out for
  // validation. Which images is fixed by a permutation with a constant seed,
  // so every trial of every search validates on the same images.
  double validation_fraction = 0.1;
  uint64_t seed = 0;            // weights, data subsample and batch order
  std::string device = "auto";  // "cpu", "cuda", "cuda:N" or "auto"
  int num_threads = 0;          // > 0: torch::set_num_threads(num_threads)
  // Return the trained network's tensors in TrainResult::weights (for a
  // RETRAIN trial, whose weights are kept).
  bool keep_weights = false;
  // After each of these epochs (1-based) the whole training state
  // (weights, optimizer, position in the schedule) goes to on_checkpoint,
  // before on_epoch sees the epoch; on_checkpoint returning false stops
  // training (stopped = true). Early stopping saves a trial at its rungs.
  std::vector<int> checkpoint_epochs;
  std::function<bool(const tensor::TensorMap& state)> on_checkpoint;
  // A state on_checkpoint received in an earlier run with the same spec,
  // data set and options: training goes on after its epoch and ends exactly
  // as the uninterrupted run would (same seed, same device). nullptr: start
  // afresh. Not owned; must outlive the call.
  const tensor::TensorMap* resume_from = nullptr;
  // Weights to start from instead of a fresh initialization (a subnet
  // inherited from a supernet, fine-tuned): every parameter and batch-norm
  // statistic by name, as ExtractSubnet gives them. A resume_from state
  // holds its own weights and takes precedence. Not owned; must outlive the
  // call.
  const tensor::TensorMap* initial_weights = nullptr;
  // false: no test-set pass and no latency measurement after training
  // (test_accuracy, test_loss and latency_ms stay 0), for estimates ranked
  // by validation alone.
  bool evaluate_test = true;
  // On a CUDA device: train with the fast step (worker/train/train_step.h:
  // one flat optimizer update, cuDNN autotuning, channels last, the step
  // captured as a CUDA graph), still in float32. false: the plain eager
  // step, as on the CPU. bench/training measures the difference.
  bool fast_cuda_step = true;
};

struct EpochResult {
  int epoch = 0;          // 1-based
  double train_loss = 0;  // mean over the epoch's batches
  double val_loss = 0;
  double val_accuracy = 0;  // in [0, 1]
  double seconds = 0;       // wall time of the epoch, validation included
};

struct TrainResult {
  // Of the last epoch run (of the untrained network when epochs == 0).
  double val_accuracy = 0;
  double val_loss = 0;
  // On the official test split, evaluated once after training. Not for
  // model selection. Not when training was stopped early (stopped): a
  // stopped run's result is not kept, so test_accuracy, test_loss and
  // latency_ms stay 0 and no weights are returned, which saves a stopped
  // trial its test pass (for early stopping, most trials).
  double test_accuracy = 0;
  double test_loss = 0;
  int64_t params = 0;        // trainable parameters
  int64_t flops = 0;         // multiply-accumulates for one image (CountFlops)
  double latency_ms = 0;     // median batch-1 forward time on the device
  double train_seconds = 0;  // wall time of the training epochs
  int epochs_run = 0;  // counting those of a resumed run's earlier part
  int resumed_after = 0;  // the epoch resume_from was saved after; 0: none
  bool stopped = false;  // the epoch callback asked to stop
  std::string device;    // the resolved device, e.g. "cpu" or "cuda:0"
  // With keep_weights: every parameter and batch-norm running statistic of
  // the network after training, by the names BuildNetwork gives them and
  // without batch-norm step counters, as float32 on the host: what
  // StandaloneLogits (supernet.h) loads and ExtractSubnet produces.
  tensor::TensorMap weights;
};

// Called after each epoch; return false to stop training early (the result
// then has stopped = true). May be empty.
using EpochCallback = std::function<bool(const EpochResult&)>;

// The images and labels of one data set, held in memory (as 8-bit pixels;
// normalised per batch). Opaque; immutable once loaded, so one instance may
// be shared by trainings that run one after another.
class Dataset;

// Loads the data set `name` from `dir`:
//  * "fashion_mnist", "mnist": the four IDX files train-images-idx3-ubyte,
//    train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte
//    (see scripts/prepare_data.sh);
//  * "cifar10": the CIFAR-10 binary version, data_batch_1.bin ..
//    data_batch_5.bin and test_batch.bin.
// `dir` may be the folder holding the files or its parent (then the files
// are looked for in dir/<name>, and for cifar10 also in
// dir/cifar-10-batches-bin). Returns nullptr and sets *error, naming the
// missing or malformed file, on failure.
std::shared_ptr<const Dataset> LoadDataset(const std::string& name,
                                           const std::string& dir,
                                           std::string* error);

// Channels, height, width and number of classes of the data set's images.
space::InputShape DatasetShape(const Dataset& data);
// Number of images in the official training and test splits.
int64_t DatasetTrainSize(const Dataset& data);
int64_t DatasetTestSize(const Dataset& data);

// Trains `spec` on `data` and evaluates it. REQUIRES: result != nullptr.
// Returns false and sets *error on a bad option, a spec that does not match
// the data set's shape, a resume_from state of another network or budget,
// an unknown op, an unavailable device, a non-finite loss, or any Torch
// failure; *result is then unspecified.
bool TrainAndEvaluate(const space::NetworkSpec& spec, const Dataset& data,
                      const TrainOptions& options,
                      const EpochCallback& on_epoch, TrainResult* result,
                      std::string* error);

// Median forward time, in milliseconds, of one image (batch 1) through the
// network the trainer builds for `spec`, freshly initialized, on `device`
// (as TrainResult::latency_ms). Returns false and sets *error on an unknown
// op, an unavailable device or a Torch failure.
bool MeasureLatency(const space::NetworkSpec& spec, const std::string& device,
                    double* latency_ms, std::string* error);

// Trainable parameters of the network the trainer builds for `spec`,
// computed analytically (no Torch). Returns -1 for an unknown op.
int64_t CountParameters(const space::NetworkSpec& spec);

// Multiply-accumulates of one forward pass of one image through convolutions
// and the classifier (normalisation, activations, pooling and additions are
// not counted), computed analytically. Returns -1 for an unknown op.
int64_t CountFlops(const space::NetworkSpec& spec);

// "auto" -> "cuda:0" when CUDA is usable, else "cpu"; "cuda" -> "cuda:0";
// "cpu" and "cuda:N" are checked and returned as they are. Returns "" and
// sets *error for an unknown string or an unavailable CUDA device.
std::string ResolveDevice(const std::string& requested, std::string* error);

// Human-readable name of a resolved device: the CPU model from
// /proc/cpuinfo for "cpu", the GPU model (from the NVIDIA driver's /proc
// files, when they can be matched to the CUDA index) for "cuda:N".
std::string DeviceName(const std::string& device);

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_TRAINER_H_
