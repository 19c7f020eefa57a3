// gRPC adapter for nas.v1.SearchService: converts requests, makes one domain
// call, maps the Status. Validation of specs lives in common/spec so that
// every client, in any language, gets the same answers.
#ifndef NAS_CONTROLLER_SEARCH_SERVICE_H_
#define NAS_CONTROLLER_SEARCH_SERVICE_H_

#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "controller/checkpoints/checkpoint_store.h"
#include "controller/core/trial_lifecycle.h"
#include "controller/event_hub.h"
#include "controller/scheduler.h"
#include "controller/security/authorizer.h"
#include "controller/store/trial_store.h"
#include "nas/v1/search_service.grpc.pb.h"

namespace nas::controller {

class SearchServiceImpl final : public nas::v1::SearchService::Service {
 public:
  // All pointers must outlive the service. Every call needs the client role
  // (or admin); clients see only the searches they created. Calls that end
  // a search (CancelSearch, DeleteSearch) go through `lifecycle`, which
  // tells the scheduler and the watchers; WatchSearch subscribes to `hub`.
  // `checkpoints` serves ExportModel; without it (nullptr) ExportModel is
  // FAILED_PRECONDITION.
  SearchServiceImpl(TrialStore* store, Scheduler* scheduler,
                    TrialLifecycle* lifecycle, EventHub* hub,
                    const Authorizer* auth,
                    CheckpointStore* checkpoints = nullptr);

  grpc::Status CreateSearch(grpc::ServerContext* context,
                            const nas::v1::CreateSearchRequest* request,
                            nas::v1::Search* response) override;
  grpc::Status GetSearch(grpc::ServerContext* context,
                         const nas::v1::GetSearchRequest* request,
                         nas::v1::Search* response) override;
  grpc::Status ValidateSearch(
      grpc::ServerContext* context,
      const nas::v1::ValidateSearchRequest* request,
      nas::v1::ValidateSearchResponse* response) override;
  grpc::Status ListSearches(grpc::ServerContext* context,
                            const nas::v1::ListSearchesRequest* request,
                            nas::v1::ListSearchesResponse* response) override;
  grpc::Status CancelSearch(grpc::ServerContext* context,
                            const nas::v1::CancelSearchRequest* request,
                            nas::v1::Search* response) override;
  grpc::Status ListTrials(grpc::ServerContext* context,
                          const nas::v1::ListTrialsRequest* request,
                          nas::v1::ListTrialsResponse* response) override;
  grpc::Status GetBestTrials(grpc::ServerContext* context,
                             const nas::v1::GetBestTrialsRequest* request,
                             nas::v1::GetBestTrialsResponse* response) override;
  // Watching: search_service_watch.cc.
  grpc::Status WatchSearch(
      grpc::ServerContext* context, const nas::v1::WatchSearchRequest* request,
      grpc::ServerWriter<nas::v1::SearchEvent>* writer) override;
  grpc::Status WatchSearchBatched(
      grpc::ServerContext* context, const nas::v1::WatchSearchRequest* request,
      grpc::ServerWriter<nas::v1::SearchEventBatch>* writer) override;
  // Managing searches: search_service_manage.cc.
  grpc::Status ExtendSearch(grpc::ServerContext* context,
                            const nas::v1::ExtendSearchRequest* request,
                            nas::v1::Search* response) override;
  grpc::Status DeleteSearch(grpc::ServerContext* context,
                            const nas::v1::DeleteSearchRequest* request,
                            nas::v1::DeleteSearchResponse* response) override;
  grpc::Status ArchiveSearch(grpc::ServerContext* context,
                             const nas::v1::ArchiveSearchRequest* request,
                             nas::v1::Search* response) override;
  grpc::Status EnqueueTrials(grpc::ServerContext* context,
                             const nas::v1::EnqueueTrialsRequest* request,
                             nas::v1::EnqueueTrialsResponse* response) override;
  // Exporting trained models: search_service_export.cc.
  grpc::Status ExportModel(
      grpc::ServerContext* context, const nas::v1::ExportModelRequest* request,
      grpc::ServerWriter<nas::v1::ExportModelChunk>* writer) override;

 private:
  // The search if `caller` may see it. Another client's search is NotFound,
  // the same answer as an id that does not exist.
  absl::StatusOr<nas::v1::Search> VisibleSearch(const Caller& caller,
                                                int64_t search_id);
  // The caller, when it may act on search `search_id` (a valid id it may
  // see): the common start of the calls that change a search.
  absl::StatusOr<Caller> AuthorizeOn(grpc::ServerContext& context,
                                     int64_t search_id);
  // A watch stream from its snapshot to search_done (or the client leaving),
  // each burst of events handed to `send` (false: the client is gone).
  grpc::Status ServeWatch(
      grpc::ServerContext* context, const nas::v1::WatchSearchRequest& request,
      EventHub::SearchDetail detail,
      absl::FunctionRef<
          bool(const std::vector<std::shared_ptr<const PublishedEvent>>&)>
          send);

  TrialStore* const store_;
  Scheduler* const scheduler_;
  TrialLifecycle* const lifecycle_;
  EventHub* const hub_;
  const Authorizer* const auth_;
  CheckpointStore* const checkpoints_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_SEARCH_SERVICE_H_
