// MemoryStore: the CheckpointStore half. Each method mirrors
// PostgresCheckpointStore (controller/checkpoints/postgres_checkpoint_store.cc)
// check for check and message for message. Bytes are hashed outside the
// mutex: a checkpoint may be hundreds of megabytes, and leases must not wait
// for it.
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/hash/sha256.h"
#include "controller/checkpoints/checkpoint_rules.h"
#include "controller/memory_store/memory_store.h"
#include "controller/memory_store/memory_store_util.h"

namespace nas::controller {
namespace {

using memory_store_internal::SearchNotFound;
using memory_store_internal::TrialNotFound;
using memory_store_internal::TrialStateName;

std::string VersionName(int64_t search_id, int64_t version) {
  return absl::StrCat("search ", search_id, " supernet version ", version);
}

absl::Status NoUpload(int64_t trial_id) {
  return absl::NotFoundError(
      absl::StrCat("trial ", trial_id, " has no uploaded checkpoint"));
}

// The bytes of a checkpoint, checked against its size and SHA-256 as every
// read is. `what` names it in messages ("search 3 supernet version 2").
absl::StatusOr<std::string> CheckedBytes(const CheckpointInfo& info,
                                         const std::string& bytes,
                                         const std::string& what) {
  const std::string actual = hash::Sha256Hex(bytes);
  if (static_cast<int64_t>(bytes.size()) != info.size ||
      actual != info.sha256) {
    return absl::DataLossError(
        absl::StrCat(what, " is corrupt in the database: expected ", info.size,
                     " bytes with sha256 ", info.sha256, ", read ",
                     bytes.size(), " bytes with sha256 ", actual));
  }
  return bytes;
}

}  // namespace

absl::Status MemoryStore::PutTrialUpload(const LeaseRef& ref,
                                         double merge_weight,
                                         const std::string& sha256,
                                         const std::string& bytes) {
  if (absl::Status s = CheckTrialUpload(ref, merge_weight, sha256, bytes);
      !s.ok()) {
    return s;
  }
  auto stored = std::make_shared<const std::string>(bytes);
  absl::MutexLock lock(&mu_);
  TrialRow* trial = FindTrial(ref.trial_id);
  if (trial == nullptr) return TrialNotFound(ref.trial_id);
  // Fenced like every report of a lease, and only while it runs.
  if (trial->attempt != ref.attempt || trial->worker_id != ref.worker_id ||
      trial->state != nas::v1::TRIAL_STATE_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "trial ", ref.trial_id, ": lease attempt ", ref.attempt, " of worker ",
        ref.worker_id, " is not current; the current attempt is ",
        trial->attempt, " (", TrialStateName(trial->state),
        trial->worker_id.empty()
            ? ""
            : absl::StrCat(" on worker ", trial->worker_id),
        ")"));
  }
  Checkpoint upload;
  upload.info.search_id = trial->search_id;
  upload.info.trial_id = ref.trial_id;
  upload.info.attempt = ref.attempt;
  upload.info.merge_weight = merge_weight;
  upload.info.size = static_cast<int64_t>(bytes.size());
  upload.info.sha256 = sha256;
  upload.info.created_at = Now();
  upload.bytes = std::move(stored);
  trial->upload = std::move(upload);  // replaces an earlier upload
  return absl::OkStatus();
}

absl::StatusOr<CheckpointInfo> MemoryStore::TrialUploadInfo(int64_t trial_id) {
  absl::MutexLock lock(&mu_);
  const TrialRow* trial = FindTrial(trial_id);
  if (trial == nullptr || !trial->upload) return NoUpload(trial_id);
  return trial->upload->info;
}

absl::StatusOr<std::string> MemoryStore::ReadTrialUpload(int64_t trial_id) {
  Checkpoint upload;
  {
    absl::MutexLock lock(&mu_);
    const TrialRow* trial = FindTrial(trial_id);
    if (trial == nullptr || !trial->upload) return NoUpload(trial_id);
    upload = *trial->upload;
  }
  return CheckedBytes(upload.info, *upload.bytes,
                      absl::StrCat("the upload of trial ", trial_id));
}

absl::Status MemoryStore::PutSupernetVersion(
    int64_t search_id, int64_t version, int64_t parent_version,
    const std::vector<int64_t>& merged_trial_ids, const std::string& bytes) {
  if (version < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("version: must be >= 1, got ", version));
  }
  if (parent_version < 0 || parent_version >= version) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parent_version: must be in [0, ", version, "), got ", parent_version));
  }
  const std::set<int64_t> distinct(merged_trial_ids.begin(),
                                   merged_trial_ids.end());
  if (distinct.size() != merged_trial_ids.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("merged_trial_ids: a trial is listed twice: ",
                     absl::StrJoin(merged_trial_ids, ",")));
  }
  Checkpoint checkpoint;
  checkpoint.info.search_id = search_id;
  checkpoint.info.version = version;
  checkpoint.info.parent_version = parent_version;
  checkpoint.info.merged_trial_ids = merged_trial_ids;
  checkpoint.info.size = static_cast<int64_t>(bytes.size());
  checkpoint.info.sha256 = hash::Sha256Hex(bytes);
  checkpoint.bytes = std::make_shared<const std::string>(bytes);

  absl::MutexLock lock(&mu_);
  SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  const int64_t latest =
      search->versions.empty() ? 0 : search->versions.rbegin()->first;
  // Two replicas merging one round: the second finds it stored.
  if (version <= latest) {
    return absl::AlreadyExistsError(
        absl::StrCat(VersionName(search_id, version),
                     " is already stored (the latest is ", latest, ")"));
  }
  if (version != latest + 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        VersionName(search_id, version), " would leave a gap: the latest is ",
        latest, ", so the next is ", latest + 1));
  }
  for (int64_t trial_id : merged_trial_ids) {
    const TrialRow* trial = FindTrial(trial_id);
    if (trial == nullptr || trial->search_id != search_id) {
      return absl::NotFoundError(
          absl::StrCat("merged_trial_ids: not all of {",
                       absl::StrJoin(merged_trial_ids, ","),
                       "} are trials of search ", search_id));
    }
  }
  checkpoint.info.created_at = Now();
  search->versions.emplace(version, std::move(checkpoint));
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MemoryStore::LatestSupernetVersion(int64_t search_id) {
  absl::MutexLock lock(&mu_);
  const SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  return search->versions.empty() ? 0 : search->versions.rbegin()->first;
}

absl::StatusOr<MemoryStore::Checkpoint> MemoryStore::FindVersion(
    int64_t search_id, int64_t version) {
  const SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  auto it = search->versions.find(version);
  if (it != search->versions.end()) return it->second;
  return absl::NotFoundError(absl::StrCat(
      VersionName(search_id, version), " not found (the latest is ",
      search->versions.empty() ? 0 : search->versions.rbegin()->first, ")"));
}

absl::StatusOr<CheckpointInfo> MemoryStore::SupernetVersionInfo(
    int64_t search_id, int64_t version) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Checkpoint> checkpoint = FindVersion(search_id, version);
  if (!checkpoint.ok()) return checkpoint.status();
  return checkpoint->info;
}

absl::StatusOr<std::string> MemoryStore::ReadSupernetVersion(int64_t search_id,
                                                             int64_t version) {
  absl::StatusOr<Checkpoint> checkpoint;
  {
    absl::MutexLock lock(&mu_);
    checkpoint = FindVersion(search_id, version);
  }
  if (!checkpoint.ok()) return checkpoint.status();
  return CheckedBytes(checkpoint->info, *checkpoint->bytes,
                      VersionName(search_id, version));
}

}  // namespace nas::controller
