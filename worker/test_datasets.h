// For the estimator tests of nas_worker_test: the data sets of NAS_DATA_DIR
// (scripts/prepare_data.sh), loaded once for the whole test program, not
// once per test file. Tests that need them skip when DataDir() is null.
#ifndef NAS_WORKER_TEST_DATASETS_H_
#define NAS_WORKER_TEST_DATASETS_H_

#include <cstdlib>
#include <memory>

#include "worker/dataset_cache.h"

namespace nas::worker::test_data {

inline const char* DataDir() {
  const char* dir = std::getenv("NAS_DATA_DIR");
  return dir != nullptr && *dir != '\0' ? dir : nullptr;
}

// One cache per process: an inline function's static is shared by every
// file that includes this header.
inline std::shared_ptr<DatasetCache> Datasets() {
  static auto* cache = new std::shared_ptr<DatasetCache>(
      std::make_shared<DatasetCache>(DataDir() ? DataDir() : ""));
  return *cache;
}

}  // namespace nas::worker::test_data

#endif  // NAS_WORKER_TEST_DATASETS_H_
