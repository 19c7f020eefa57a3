// Durable weights: the merged versions of a search's supernet, and the
// uploads of trials (a SUPERNET_SHARD's trained supernet, a RETRAIN's
// trained network). Bytes are tensor archives (common/tensor) the controller
// never interprets except to merge shards; each is stored with its size and
// SHA-256 and checked again when read.
//
// Contract (tested against every implementation by
// checkpoint_store_conformance_test.cc): thread-safe; NotFound for an
// unknown search, trial or version; Unavailable when the database cannot be
// reached.
#ifndef NAS_CONTROLLER_CHECKPOINTS_CHECKPOINT_STORE_H_
#define NAS_CONTROLLER_CHECKPOINTS_CHECKPOINT_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/store/trial_store.h"

namespace nas::controller {

// The most bytes of one chunk: per message on the wire
// (UploadCheckpointRequest.data, CheckpointChunk.data) and per row stored.
inline constexpr int64_t kCheckpointChunkBytes = int64_t{1} << 20;

// What is known about a stored checkpoint, without its bytes.
struct CheckpointInfo {
  int64_t search_id = 0;
  // A merged supernet version (>= 1), or 0 for a trial's upload.
  int64_t version = 0;
  // Supernet versions: the version the merged shards started from.
  int64_t parent_version = 0;
  // Trial uploads: the trial and the attempt that uploaded it.
  int64_t trial_id = 0;
  int32_t attempt = 0;
  // Supernet versions: the shard trials merged into it.
  std::vector<int64_t> merged_trial_ids;
  // Trial uploads: UploadHeader.merge_weight.
  double merge_weight = 0;
  int64_t size = 0;
  std::string sha256;  // lower-case hex
  absl::Time created_at;
};

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;

  // Its database connections' counts (zeros without a database).
  virtual DatabaseStats database_stats() const { return {}; }

  // Stores the weights a trial's current lease produced, replacing an
  // earlier upload of the same trial. Fenced in the same transaction:
  // FailedPrecondition unless `ref` names the trial's current RUNNING
  // lease. DataLoss when sha256 (lower-case hex) is not that of `bytes`.
  virtual absl::Status PutTrialUpload(const LeaseRef& ref,
                                      double merge_weight,
                                      const std::string& sha256,
                                      const std::string& bytes) = 0;
  // The upload of a trial; NotFound when it has none.
  virtual absl::StatusOr<CheckpointInfo> TrialUploadInfo(int64_t trial_id) = 0;
  // Its bytes, checked against the stored SHA-256 (DataLoss when not equal).
  virtual absl::StatusOr<std::string> ReadTrialUpload(int64_t trial_id) = 0;

  // Stores supernet version `version` of a search, merged from the uploads
  // of `merged_trial_ids` that started from `parent_version`. AlreadyExists
  // (and nothing changes) when the version is already stored, so that two
  // replicas never merge one round twice. FailedPrecondition when `version`
  // is not the latest version + 1 (versions have no gaps).
  virtual absl::Status PutSupernetVersion(
      int64_t search_id, int64_t version, int64_t parent_version,
      const std::vector<int64_t>& merged_trial_ids,
      const std::string& bytes) = 0;
  // The latest version of a search's supernet; 0 when none is stored.
  virtual absl::StatusOr<int64_t> LatestSupernetVersion(int64_t search_id) = 0;
  virtual absl::StatusOr<CheckpointInfo> SupernetVersionInfo(
      int64_t search_id, int64_t version) = 0;
  // Its bytes, checked against the stored SHA-256 (DataLoss when not equal).
  virtual absl::StatusOr<std::string> ReadSupernetVersion(int64_t search_id,
                                                          int64_t version) = 0;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_CHECKPOINTS_CHECKPOINT_STORE_H_
