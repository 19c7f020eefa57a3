// SearchService.ExportModel: a trained trial's weights with the manifest
// that rebuilds the network (common/spec/model_manifest.h).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/spec/model_manifest.h"
#include "common/spec/trial_kinds.h"
#include "common/status_util.h"
#include "common/tensor/tensor_archive.h"
#include "controller/best_trials.h"
#include "controller/request_checks.h"
#include "controller/search_service.h"
#include "spdlog/spdlog.h"

namespace nas::controller {
namespace {

// How many of the best trials ExportModel looks through for one that kept
// its weights (a TRAIN trial trained by a tabular worker has none).
constexpr int kBestTrialsSearched = 1000;

absl::StatusOr<nas::v1::Trial> TrialByNumber(TrialStore& store,
                                             int64_t search_id, int number) {
  absl::StatusOr<std::vector<nas::v1::Trial>> page =
      store.ListTrials(search_id, {}, number - 1, 1);
  if (!page.ok()) return page.status();
  if (page->empty() || page->front().number() != number) {
    return absl::NotFoundError(
        absl::StrCat("search ", search_id, " has no trial ", number));
  }
  return std::move(page->front());
}

// Why `trial` cannot be exported, or OK.
absl::Status CheckExportable(const nas::v1::Trial& trial) {
  if (!spec::IsRankedKind(trial.kind())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "trial ", trial.number(), " is a ", spec::NamesOf(trial.kind()).stored,
        " trial, which trains no stand-alone network; export a TRAIN or "
        "RETRAIN trial (nasctl best lists them)"));
  }
  if (trial.state() != nas::v1::TRIAL_STATE_COMPLETED) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", trial.number(), " is ",
                     nas::v1::TrialState_Name(trial.state()).substr(12),
                     "; only a COMPLETED trial has trained weights"));
  }
  return absl::OkStatus();
}

absl::Status NoWeights(const nas::v1::Trial& trial) {
  return absl::FailedPreconditionError(absl::StrCat(
      "trial ", trial.number(),
      " kept no weights: it was estimated without training a network (a "
      "tabular look-up) or trained before the controller kept the weights of "
      "TRAIN trials"));
}

}  // namespace

grpc::Status SearchServiceImpl::ExportModel(
    grpc::ServerContext* context, const nas::v1::ExportModelRequest* request,
    grpc::ServerWriter<nas::v1::ExportModelChunk>* writer) {
  absl::StatusOr<Caller> caller = auth_->Authorize(*context, Role::kClient);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  const int64_t id = request->search_id();
  if (absl::Status s = CheckId("search_id", id); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (!request->best() && request->trial_number() < 0) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "trial_number: must be >= 0, got ", request->trial_number())));
  }
  if (checkpoints_ == nullptr) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        "this controller keeps no weights (no checkpoint store)"));
  }
  absl::StatusOr<nas::v1::Search> search = VisibleSearch(*caller, id);
  if (!search.ok()) return ToGrpcStatus(search.status());

  nas::v1::Trial trial;
  if (request->best()) {
    absl::StatusOr<BestTrials> best =
        FindBestTrials(*store_, search->spec(), id, kBestTrialsSearched);
    if (!best.ok()) return ToGrpcStatus(best.status());
    auto with_weights = std::find_if(
        best->trials.begin(), best->trials.end(), [&](const nas::v1::Trial& t) {
          return checkpoints_->TrialUploadInfo(t.id()).ok();
        });
    if (with_weights == best->trials.end()) {
      return ToGrpcStatus(absl::FailedPreconditionError(absl::StrCat(
          "search ", id,
          best->trials.empty()
              ? " has no completed feasible TRAIN or RETRAIN trial yet"
              : " has no ranked trial that kept its weights (tabular "
                "estimates train no network)")));
    }
    trial = std::move(*with_weights);
  } else {
    absl::StatusOr<nas::v1::Trial> found =
        TrialByNumber(*store_, id, request->trial_number());
    if (!found.ok()) return ToGrpcStatus(found.status());
    trial = *std::move(found);
    if (absl::Status s = CheckExportable(trial); !s.ok()) {
      return ToGrpcStatus(s);
    }
  }

  absl::StatusOr<CheckpointInfo> info =
      checkpoints_->TrialUploadInfo(trial.id());
  if (absl::IsNotFound(info.status())) return ToGrpcStatus(NoWeights(trial));
  if (!info.ok()) return ToGrpcStatus(info.status());
  absl::StatusOr<std::string> bytes = checkpoints_->ReadTrialUpload(trial.id());
  if (!bytes.ok()) return ToGrpcStatus(bytes.status());
  // A training state (early stopping's resume point) holds the weights
  // under other names and is not a finished model.
  tensor::TensorMap tensors;
  std::string error;
  if (!tensor::Parse(*bytes, &tensors, &error)) {
    return ToGrpcStatus(absl::DataLossError(absl::StrCat(
        "trial ", trial.number(), "'s stored weights are damaged: ", error)));
  }
  if (tensors.count("trainer/epoch") != 0)
    return ToGrpcStatus(NoWeights(trial));

  absl::StatusOr<nas::v1::ModelManifest> manifest = spec::BuildModelManifest(
      *search, trial, static_cast<int64_t>(bytes->size()), info->sha256);
  if (!manifest.ok()) {
    return ToGrpcStatus(absl::InternalError(manifest.status().message()));
  }

  const size_t size = bytes->size();
  size_t offset = 0;
  do {
    nas::v1::ExportModelChunk chunk;
    if (offset == 0) *chunk.mutable_manifest() = *manifest;
    const size_t length =
        std::min(static_cast<size_t>(kCheckpointChunkBytes), size - offset);
    chunk.set_data(bytes->substr(offset, length));
    if (!writer->Write(chunk)) {
      return grpc::Status(grpc::StatusCode::CANCELLED,
                          "the client stopped reading the model");
    }
    offset += length;
  } while (offset < size);
  spdlog::info("exported search {} trial {} ({} bytes)", id, trial.number(),
               size);
  return grpc::Status::OK;
}

}  // namespace nas::controller
