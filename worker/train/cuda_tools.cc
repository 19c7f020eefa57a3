#include "worker/train/cuda_tools.h"

#ifdef NAS_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>
#endif

#include <exception>

namespace nas::train {

#ifdef NAS_WITH_CUDA

struct CudaGraph::Impl {
  at::cuda::CUDAGraph graph;
};

bool CudaGraphsBuilt() { return true; }

CudaGraph::CudaGraph() = default;
CudaGraph::~CudaGraph() = default;

bool CudaGraph::Capture(int device, int warmup,
                        const std::function<void()>& body, std::string* error) {
  const auto index = static_cast<c10::DeviceIndex>(device);
  try {
    c10::cuda::CUDAGuard device_guard(index);
    // A capture must not run on the legacy default stream, and the side
    // stream must not overlap work queued before it: sync on both sides.
    c10::cuda::CUDAStream side =
        c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index);
    torch::cuda::synchronize(device);
    {
      c10::cuda::CUDAStreamGuard stream_guard(side);
      for (int i = 0; i < warmup; ++i) body();
    }
    torch::cuda::synchronize(device);
    auto impl = std::make_unique<Impl>();
    {
      c10::cuda::CUDAStreamGuard stream_guard(side);
      impl->graph.capture_begin();
      body();
      impl->graph.capture_end();
    }
    torch::cuda::synchronize(device);
    impl_ = std::move(impl);
    return true;
  } catch (const std::exception& e) {
    if (error) *error = std::string("CUDA graph capture failed: ") + e.what();
    return false;
  }
}

void CudaGraph::Replay() { impl_->graph.replay(); }

int64_t PeakDeviceBytes(int device) {
  // [0] is the aggregate over the small and large pools (StatType::AGGREGATE
  // in every LibTorch version).
  return c10::cuda::CUDACachingAllocator::getDeviceStats(
             static_cast<c10::DeviceIndex>(device))
      .allocated_bytes[0]
      .peak;
}

void ResetPeakDeviceBytes(int device) {
  c10::cuda::CUDACachingAllocator::resetPeakStats(
      static_cast<c10::DeviceIndex>(device));
}

#else  // !NAS_WITH_CUDA

struct CudaGraph::Impl {};

bool CudaGraphsBuilt() { return false; }

CudaGraph::CudaGraph() = default;
CudaGraph::~CudaGraph() = default;

bool CudaGraph::Capture(int, int, const std::function<void()>&,
                        std::string* error) {
  if (error) *error = "this build has no CUDA (LibTorch without CUDA)";
  return false;
}

void CudaGraph::Replay() {}

int64_t PeakDeviceBytes(int) { return -1; }
void ResetPeakDeviceBytes(int) {}

#endif  // NAS_WITH_CUDA

}  // namespace nas::train
