// Assembles the client stream of WorkerService.UploadCheckpoint: checks each
// message as it arrives, so that a malformed or oversized upload is refused
// before the rest of it is received, and the whole against its header.
// Knows nothing of gRPC or the database.
#ifndef NAS_CONTROLLER_CHECKPOINTS_UPLOAD_ASSEMBLER_H_
#define NAS_CONTROLLER_CHECKPOINTS_UPLOAD_ASSEMBLER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/hash/sha256.h"
#include "nas/v1/worker_service.pb.h"

namespace nas::controller {

// One upload; not thread-safe (a handler owns it).
class UploadAssembler {
 public:
  // REQUIRES: max_bytes >= 1 (the controller's --max_checkpoint_mib).
  explicit UploadAssembler(int64_t max_bytes) : max_bytes_(max_bytes) {}

  // Takes the next message. InvalidArgument when the first message has no
  // header or a later one has one, a header field is malformed (worker_id
  // empty, trial_id or attempt < 1, size not in [1, max_bytes], sha256 not
  // 64 lower-case hex digits, merge_weight negative or not finite), or a
  // chunk is larger than kCheckpointChunkBytes; DataLoss when the bytes so
  // far exceed the header's size. Once it has failed, stop feeding it.
  absl::Status Add(const nas::v1::UploadCheckpointRequest& message);

  // After the last message. InvalidArgument when no message came; DataLoss
  // when the bytes received are not header().size() bytes with SHA-256
  // header().sha256(), naming expected and actual.
  absl::Status Finish();

  // Valid after the first successful Add.
  const nas::v1::UploadHeader& header() const { return header_; }
  // Everything received so far.
  const std::string& bytes() const { return bytes_; }

 private:
  absl::Status CheckHeader(const nas::v1::UploadHeader& header) const;

  const int64_t max_bytes_;
  bool has_header_ = false;
  nas::v1::UploadHeader header_;
  std::string bytes_;
  hash::Sha256 digest_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_CHECKPOINTS_UPLOAD_ASSEMBLER_H_
