// SearchServiceImpl: the calls that manage a submitted search (extend,
// delete, archive, enqueue). Like the rest of the service: authorize,
// convert, one domain call, map the status.
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "controller/request_checks.h"
#include "controller/search_service.h"

namespace nas::controller {

absl::StatusOr<Caller> SearchServiceImpl::AuthorizeOn(
    grpc::ServerContext& context, int64_t search_id) {
  absl::StatusOr<Caller> caller = auth_->Authorize(context, Role::kClient);
  if (!caller.ok()) return caller;
  if (absl::Status s = CheckId("search_id", search_id); !s.ok()) return s;
  // Another client's search is NotFound, as for every other call.
  if (absl::Status s = VisibleSearch(*caller, search_id).status(); !s.ok()) {
    return s;
  }
  return caller;
}

grpc::Status SearchServiceImpl::ExtendSearch(
    grpc::ServerContext* context, const nas::v1::ExtendSearchRequest* request,
    nas::v1::Search* response) {
  if (absl::Status s = AuthorizeOn(*context, request->search_id()).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<nas::v1::Search> search =
      scheduler_->ExtendSearch(request->search_id(), request->max_trials());
  if (!search.ok()) return ToGrpcStatus(search.status());
  *response = *std::move(search);
  return grpc::Status::OK;
}

grpc::Status SearchServiceImpl::DeleteSearch(
    grpc::ServerContext* context, const nas::v1::DeleteSearchRequest* request,
    nas::v1::DeleteSearchResponse* response) {
  if (absl::Status s = AuthorizeOn(*context, request->search_id()).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<TrialStore::DeletedSearch> deleted =
      lifecycle_->DeleteSearch(request->search_id(), request->force());
  if (!deleted.ok()) return ToGrpcStatus(deleted.status());
  *response->mutable_search() = std::move(deleted->search);
  response->set_deleted_trials(deleted->deleted_trials);
  return grpc::Status::OK;
}

grpc::Status SearchServiceImpl::ArchiveSearch(
    grpc::ServerContext* context, const nas::v1::ArchiveSearchRequest* request,
    nas::v1::Search* response) {
  if (absl::Status s = AuthorizeOn(*context, request->search_id()).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<nas::v1::Search> search =
      store_->SetSearchArchived(request->search_id(), request->archived());
  if (!search.ok()) return ToGrpcStatus(search.status());
  *response = *std::move(search);
  return grpc::Status::OK;
}

grpc::Status SearchServiceImpl::EnqueueTrials(
    grpc::ServerContext* context, const nas::v1::EnqueueTrialsRequest* request,
    nas::v1::EnqueueTrialsResponse* response) {
  if (absl::Status s = AuthorizeOn(*context, request->search_id()).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<std::vector<nas::v1::Trial>> trials =
      scheduler_->EnqueueTrials(
          request->search_id(),
          {request->architectures().begin(), request->architectures().end()});
  if (!trials.ok()) return ToGrpcStatus(trials.status());
  for (nas::v1::Trial& t : *trials) *response->add_trials() = std::move(t);
  return grpc::Status::OK;
}

}  // namespace nas::controller
