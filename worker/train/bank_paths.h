// Internal to worker/train (includes Torch): helpers shared by the supernet
// code, and the cache of chain-space training paths that lets an SPOS step
// train the bank in place instead of rebuilding its subnet.
#ifndef NAS_WORKER_TRAIN_BANK_PATHS_H_
#define NAS_WORKER_TRAIN_BANK_PATHS_H_

#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/space/network_spec.h"

namespace nas::train {

// Runs `body(&message)`; returns true when it does. Otherwise sets *error
// (when not null) to the message the body left, or that of the Torch or
// standard exception it threw, or `fallback`.
template <typename Body>
bool Guarded(std::string* error, const char* fallback, Body body) {
  std::string message;
  try {
    if (body(&message)) return true;
  } catch (const c10::Error& e) {
    message = e.what_without_backtrace();
  } catch (const std::exception& e) {
    message = e.what();
  }
  if (error) *error = message.empty() ? fallback : message;
  return false;
}

// The leading block of `bank` of the given shape: a view, so in-place
// updates of it change the bank. Throws std::invalid_argument when the rank
// differs or the bank is smaller than `shape` (naming `name`).
torch::Tensor LeadingSlice(const torch::Tensor& bank, at::IntArrayRef shape,
                           const std::string& name);

// Parameters and batch-norm statistics of a module, by name (batch-norm step
// counters left out).
std::vector<std::pair<std::string, torch::Tensor>> NamedTensors(
    const torch::nn::Module& module);

// A chain subnet's modules for SPOS training, assembled from layer modules
// cached per (slot, op, input width, output width, stride). The parameters
// and batch-norm statistics of every cached module alias the leading slices
// of the bank's tensors, so a forward pass updates batch-norm statistics in
// the bank and an optimizer step on a path's tensors updates the bank in
// place: nothing is built, copied in or copied back per step.
//
// The arithmetic is that of the stand-alone network (BuildNetwork) of the
// same spec: the same modules in the same order (stem, layers, global
// average pooling, classifier).
//
// REQUIRES: the bank outlives the cache, lives on `device`, and none of its
// tensors is replaced (reassigned, moved to another device) while the cache
// is in use. Not thread-safe.
class ChainPathCache {
 public:
  // A tensor of a path: the module's tensor (an alias of the bank's slice),
  // its momentum buffer's slice, and whether the optimizer trains it.
  struct Entry {
    torch::Tensor tensor;
    torch::Tensor velocity;  // undefined for batch-norm statistics
  };
  struct Path {
    std::vector<torch::nn::AnyModule> modules;  // stem, layers, classifier
    std::vector<Entry*> trainable;              // parameters of all modules
  };

  // `momentum` holds one zero-initialized buffer per bank tensor it names,
  // created on first use, at the bank tensor's full shape.
  ChainPathCache(std::map<std::string, torch::Tensor>* bank,
                 std::map<std::string, torch::Tensor>* momentum,
                 torch::Device device);

  // The path of `spec`, whose i-th layer sits in `slots[i]`
  // ("stage{s}.layer{j}", see ChainLayerSlots in supernet.cc). Returns false
  // (and leaves *path alone) for a spec the cache cannot serve (one with a
  // head conv, which the bank does not hold). Throws on a bank without a
  // tensor the path needs.
  bool Get(const space::NetworkSpec& spec,
           const std::vector<std::string>& slots, Path* path);

  // Logits of `path` for `x`, as Network::forward.
  static torch::Tensor Forward(Path& path, const torch::Tensor& x);

 private:
  struct Cached {
    torch::nn::AnyModule module;
    std::vector<Entry> entries;  // trainable ones, in module order
  };
  Cached& Lookup(const std::string& key, const std::string& bank_prefix,
                 const std::function<torch::nn::AnyModule()>& make);

  std::map<std::string, torch::Tensor>* bank_;
  std::map<std::string, torch::Tensor>* momentum_;
  torch::Device device_;
  std::map<std::string, Cached> cache_;
};

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_BANK_PATHS_H_
