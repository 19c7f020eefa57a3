#include "controller/checkpoints/upload_assembler.h"

#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "controller/checkpoints/checkpoint_store.h"

namespace nas::controller {
namespace {

bool IsLowerHexSha256(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

}  // namespace

absl::Status UploadAssembler::CheckHeader(
    const nas::v1::UploadHeader& header) const {
  if (header.worker_id().empty()) {
    return absl::InvalidArgumentError(
        "header.worker_id: required; call RegisterWorker first");
  }
  if (header.trial_id() < 1 || header.attempt() < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "header.trial_id and header.attempt: must name the lease (>= 1), got ",
        header.trial_id(), " and ", header.attempt()));
  }
  if (header.size() < 1 || header.size() > max_bytes_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "header.size: must be between 1 and ", max_bytes_,
        " bytes (the controller's --max_checkpoint_mib), got ", header.size()));
  }
  if (!IsLowerHexSha256(header.sha256())) {
    return absl::InvalidArgumentError(
        absl::StrCat("header.sha256: must be 64 lower-case hex digits, got \"",
                     header.sha256().substr(0, 80), "\""));
  }
  if (!std::isfinite(header.merge_weight()) || header.merge_weight() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("header.merge_weight: must be finite and >= 0, got ",
                     header.merge_weight()));
  }
  return absl::OkStatus();
}

absl::Status UploadAssembler::Add(
    const nas::v1::UploadCheckpointRequest& message) {
  if (!has_header_) {
    if (!message.has_header()) {
      return absl::InvalidArgumentError(
          "header: required in the first message of an upload");
    }
    if (absl::Status s = CheckHeader(message.header()); !s.ok()) return s;
    header_ = message.header();
    has_header_ = true;
    bytes_.reserve(static_cast<size_t>(header_.size()));
  } else if (message.has_header()) {
    return absl::InvalidArgumentError(
        "header: only in the first message of an upload");
  }
  const std::string& data = message.data();
  if (static_cast<int64_t>(data.size()) > kCheckpointChunkBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("data: at most ", kCheckpointChunkBytes,
                     " bytes per message, got ", data.size()));
  }
  if (static_cast<int64_t>(bytes_.size() + data.size()) > header_.size()) {
    return absl::DataLossError(absl::StrCat(
        "upload of trial ", header_.trial_id(), ": the header says ",
        header_.size(), " bytes, received more (", bytes_.size() + data.size(),
        " so far)"));
  }
  bytes_.append(data);
  digest_.Update(data);
  return absl::OkStatus();
}

absl::Status UploadAssembler::Finish() {
  if (!has_header_) {
    return absl::InvalidArgumentError(
        "header: required; the upload had no message");
  }
  const std::string actual = digest_.FinishHex();
  if (static_cast<int64_t>(bytes_.size()) != header_.size() ||
      actual != header_.sha256()) {
    return absl::DataLossError(absl::StrCat(
        "upload of trial ", header_.trial_id(), ": expected ", header_.size(),
        " bytes with sha256 ", header_.sha256(), ", received ", bytes_.size(),
        " bytes with sha256 ", actual));
  }
  return absl::OkStatus();
}

}  // namespace nas::controller
