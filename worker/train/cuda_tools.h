// Internal to worker/train: the CUDA-only pieces of the fast training step
// (graph capture, the caching allocator's peak), behind a header with no
// CUDA or Torch include, so that the rest compiles on CPU-only LibTorch.
// cuda_tools.cc holds the real code when the build found LibTorch with CUDA
// (NAS_WITH_CUDA); otherwise every call reports that it is unsupported.
#ifndef NAS_WORKER_TRAIN_CUDA_TOOLS_H_
#define NAS_WORKER_TRAIN_CUDA_TOOLS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace nas::train {

// True when this build can capture CUDA graphs (LibTorch with CUDA).
bool CudaGraphsBuilt();

// One captured sequence of device work, replayed with a single launch.
// Tensors the captured work reads and writes must stay where they are
// (static inputs and outputs): a replay reuses the captured addresses.
class CudaGraph {
 public:
  CudaGraph();
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Runs `body` `warmup` times eagerly on a side stream of `device` (lazy
  // initialisation, cuDNN autotuning and allocations happen there, outside
  // the capture), then captures one more call. Returns false and sets
  // *error when this build has no CUDA, or when the capture failed (an
  // operation in `body` that syncs with the host, say).
  bool Capture(int device, int warmup, const std::function<void()>& body,
               std::string* error);
  // Launches the captured work on the current stream. REQUIRES: Capture
  // returned true.
  void Replay();
  bool captured() const { return impl_ != nullptr; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Peak bytes the caching allocator has handed out on `device` since the
// last ResetPeakDeviceBytes (what torch.cuda.max_memory_allocated reports);
// -1 without CUDA.
int64_t PeakDeviceBytes(int device);
void ResetPeakDeviceBytes(int device);

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_CUDA_TOOLS_H_
