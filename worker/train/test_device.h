// Internal to worker/train's tests (includes Torch): the device the tests
// run on. NAS_TEST_DEVICE=cuda (or cuda:N) runs them on a GPU; CPU by
// default.
#ifndef NAS_WORKER_TRAIN_TEST_DEVICE_H_
#define NAS_WORKER_TRAIN_TEST_DEVICE_H_

#include <torch/torch.h>

#include <cstdlib>
#include <string>

namespace nas::train {

// On CUDA it also makes float32 convolutions and matrix products exact
// float32 (no TF32) and cuDNN's algorithms deterministic: tests that compare
// two computations must compare them, not TF32's 10-bit rounding amplified
// over training steps (seen on an H200: two orders of the same arithmetic
// drifted 1e-2 apart in 60 steps with TF32 on).
inline std::string TestDeviceName() {
  const char* device = std::getenv("NAS_TEST_DEVICE");
  const std::string name = device && *device ? device : "cpu";
  if (name.rfind("cuda", 0) == 0) {
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setDeterministicCuDNN(true);
  }
  return name;
}

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_TEST_DEVICE_H_
