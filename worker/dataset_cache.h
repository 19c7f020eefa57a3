// The data sets of a worker's data folder, loaded on first use and kept in
// memory for the worker's life, shared by its Torch estimators (training
// from scratch and the supernet) so that each is loaded once.
//
// Thread-safe.
#ifndef NAS_WORKER_DATASET_CACHE_H_
#define NAS_WORKER_DATASET_CACHE_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "nas/v1/worker_service.pb.h"
#include "worker/train/trainer.h"

namespace nas::worker {

class DatasetCache {
 public:
  // `data_dir` holds fashion_mnist/, mnist/, cifar10/ (any of them).
  explicit DatasetCache(std::string data_dir);

  // The data set, loaded on the first call. INVALID_ARGUMENT for a name
  // this worker does not know (a trial fault); FAILED_PRECONDITION naming
  // the file when its folder or a file is missing or malformed (a fault of
  // this worker's environment). A failed load is tried again next time.
  absl::StatusOr<std::shared_ptr<const train::Dataset>> Load(
      nas::v1::DatasetName name);

  // Both spaces (nb201, chain) on each data set whose folder exists, with
  // the given estimator label; no capability at all when no folder exists.
  // A folder that is present but unreadable shows up later, as a worker
  // fault of the trial that needs it.
  nas::v1::Capabilities Capabilities(const std::string& estimator) const;

 private:
  const std::string data_dir_;
  std::mutex mu_;
  std::map<int, std::shared_ptr<const train::Dataset>> datasets_
      ABSL_GUARDED_BY(mu_);
};

// The network a trial's candidate architecture builds on its data set,
// with the data set loaded.
struct Candidate {
  space::NetworkSpec network;
  std::shared_ptr<const train::Dataset> data;
};

// INVALID_ARGUMENT (a trial fault) for an architecture not in the
// assignment's space; the errors of MakeSearchSpace and Load otherwise.
absl::StatusOr<Candidate> CandidateOf(const nas::v1::TrialAssignment& a,
                                      DatasetCache& datasets);

}  // namespace nas::worker

#endif  // NAS_WORKER_DATASET_CACHE_H_
