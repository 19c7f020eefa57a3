#include "controller/search_service.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/space/space_size.h"
#include "common/spec/space_from_proto.h"
#include "common/spec/spec_validation.h"
#include "common/spec/spec_yaml.h"
#include "common/status_util.h"
#include "controller/best_trials.h"
#include "controller/request_checks.h"
#include "controller/strategy/search_strategy.h"
#include "spdlog/spdlog.h"

namespace nas::controller {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
// Everything CreateSearch must refuse before anything is stored.
absl::Status CheckSpec(const nas::v1::SearchSpec& spec) {
  if (absl::Status s = spec::ValidateSearchSpec(spec); !s.ok()) return s;
  if (absl::Status s = spec::MakeSearchSpace(spec.space()).status(); !s.ok()) {
    return s;
  }
  return MakeSearchStrategy(spec.strategy()).status();
}

// The spec CreateSearch stores and ValidateSearch returns: defaults filled
// in, then every check, so that the two RPCs cannot drift apart.
absl::StatusOr<nas::v1::SearchSpec> CheckedSpec(
    const nas::v1::SearchSpec& requested) {
  nas::v1::SearchSpec spec = requested;
  spec::ApplySpecDefaults(&spec);
  if (absl::Status s = CheckSpec(spec); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("spec.", s.message()));
  }
  // Stored with the strategy's defaults spelled out: the spec column then
  // says what ran, even if a later release changes a default.
  *spec.mutable_strategy() = WithStrategyDefaults(spec.strategy());
  return spec;
}

// What CreateSearch tells the client about a valid spec: today, a budget
// the space cannot use up. REQUIRES: CheckSpec(spec) is OK.
std::vector<std::string> SpecWarnings(const nas::v1::SearchSpec& spec) {
  std::vector<std::string> warnings;
  absl::StatusOr<std::unique_ptr<space::SearchSpace>> space =
      spec::MakeSearchSpace(spec.space());
  if (!space.ok()) return warnings;
  const space::SpaceSize size = space::MeasureSpace(**space);
  const uint64_t max_trials = spec.budget().max_trials();
  if (max_trials <= size.computations) return warnings;
  warnings.push_back(absl::StrCat(
      "budget.max_trials: ", max_trials, " is more than the ",
      size.exact ? "" : "at most ", size.computations,
      " distinct computations this space has; the search will complete "
      "early, \"space exhausted\", after ",
      size.exact ? "" : "at most ", size.computations, " trials"));
  return warnings;
}

// The spec a CreateSearch or ValidateSearch request names: the message, or
// its spec_yaml parsed, then checked.
absl::StatusOr<nas::v1::SearchSpec> RequestedSpec(bool has_spec,
                                                  const nas::v1::SearchSpec& spec,
                                                  const std::string& spec_yaml) {
  if (has_spec && !spec_yaml.empty()) {
    return absl::InvalidArgumentError("set spec or spec_yaml, not both");
  }
  if (spec_yaml.empty()) return CheckedSpec(spec);
  absl::StatusOr<nas::v1::SearchSpec> parsed =
      spec::ParseSearchSpecYaml(spec_yaml);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("spec_yaml: ", parsed.status().message()));
  }
  return CheckedSpec(*parsed);
}

}  // namespace

SearchServiceImpl::SearchServiceImpl(TrialStore* store, Scheduler* scheduler,
                                     TrialLifecycle* lifecycle, EventHub* hub,
                                     const Authorizer* auth,
                                     CheckpointStore* checkpoints)
    : store_(store),
      scheduler_(scheduler),
      lifecycle_(lifecycle),
      hub_(hub),
      auth_(auth),
      checkpoints_(checkpoints) {}

absl::StatusOr<nas::v1::Search> SearchServiceImpl::VisibleSearch(
    const Caller& caller, int64_t search_id) {
  absl::StatusOr<nas::v1::Search> search = store_->GetSearch(search_id);
  if (search.ok() && !MaySee(caller, search->owner())) {
    return absl::NotFoundError(
        absl::StrCat("search ", search_id, " not found"));
  }
  return search;
}

grpc::Status SearchServiceImpl::CreateSearch(
    grpc::ServerContext* context, const nas::v1::CreateSearchRequest* request,
    nas::v1::Search* response) {
  absl::StatusOr<Caller> caller = auth_->Authorize(*context, Role::kClient);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<nas::v1::SearchSpec> spec = RequestedSpec(
      request->has_spec(), request->spec(), request->spec_yaml());
  if (!spec.ok()) return ToGrpcStatus(spec.status());
  absl::StatusOr<nas::v1::Search> search =
      store_->CreateSearch(*spec, caller->name);
  if (!search.ok()) return ToGrpcStatus(search.status());
  *response = *std::move(search);
  for (std::string& warning : SpecWarnings(*spec)) {
    response->add_warnings(std::move(warning));
  }
  spdlog::info("search {} created by {}: \"{}\", {} trials{}", response->id(),
               caller->name.empty() ? "(no token)" : caller->name, spec->name(),
               spec->budget().max_trials(),
               response->warnings().empty()
                   ? ""
                   : absl::StrCat("; warning: ",
                                  absl::StrJoin(response->warnings(), "; ")));
  scheduler_->Notify();
  return grpc::Status::OK;
}

grpc::Status SearchServiceImpl::ValidateSearch(
    grpc::ServerContext* context, const nas::v1::ValidateSearchRequest* request,
    nas::v1::ValidateSearchResponse* response) {
  // The same role as CreateSearch: a dry run answers what the real call
  // would.
  absl::StatusOr<Caller> caller = auth_->Authorize(*context, Role::kClient);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<nas::v1::SearchSpec> spec = RequestedSpec(
      request->has_spec(), request->spec(), request->spec_yaml());
  if (!spec.ok()) return ToGrpcStatus(spec.status());
  for (std::string& warning : SpecWarnings(*spec)) {
    response->add_warnings(std::move(warning));
  }
  *response->mutable_spec() = *std::move(spec);
  return grpc::Status::OK;
}

grpc::Status SearchServiceImpl::GetSearch(
    grpc::ServerContext* context, const nas::v1::GetSearchRequest* request,
    nas::v1::Search* response) {
  absl::StatusOr<Caller> caller = auth_->Authorize(*context, Role::kClient);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = CheckId("search_id", request->search_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<nas::v1::Search> search =
      VisibleSearch(*caller, request->search_id());
  if (!search.ok()) return ToGrpcStatus(search.status());
  *response = *std::move(search);
  return grpc::Status::OK;
}

grpc::Status SearchServiceImpl::ListSearches(
    grpc::ServerContext* context, const nas::v1::ListSearchesRequest* request,
    nas::v1::ListSearchesResponse* response) {
  absl::StatusOr<Caller> caller = auth_->Authorize(*context, Role::kClient);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<int> page_size = CheckPageSize(
      "page_size", request->page_size(), kDefaultPageSize, kMaxPageSize);
  if (!page_size.ok()) return ToGrpcStatus(page_size.status());
  absl::StatusOr<int64_t> before = ParsePageToken(request->page_token(), 0);
  if (!before.ok()) return ToGrpcStatus(before.status());
  SearchFilter filter;
  if (caller->role != Role::kAdmin) filter.owner = caller->name;
  for (int state : request->states()) {
    if (!nas::v1::SearchState_IsValid(state) ||
        state == nas::v1::SEARCH_STATE_UNSPECIFIED) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("states: ", state, " is not a search state")));
    }
    filter.states.push_back(static_cast<nas::v1::SearchState>(state));
  }
  filter.name = request->name();
  filter.include_archived = request->include_archived();
  // One extra row tells whether another page follows.
  absl::StatusOr<std::vector<nas::v1::Search>> searches =
      store_->ListSearches(*before, *page_size + 1, filter);
  if (!searches.ok()) return ToGrpcStatus(searches.status());
  for (int i = 0; i < static_cast<int>(searches->size()) && i < *page_size;
       ++i) {
    *response->add_searches() = std::move((*searches)[i]);
  }
  if (static_cast<int>(searches->size()) > *page_size) {
    response->set_next_page_token(
        std::to_string(response->searches().rbegin()->id()));
  }
  return grpc::Status::OK;
}

grpc::Status SearchServiceImpl::CancelSearch(
    grpc::ServerContext* context, const nas::v1::CancelSearchRequest* request,
    nas::v1::Search* response) {
  absl::StatusOr<Caller> caller = AuthorizeOn(*context, request->search_id());
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<nas::v1::Search> search =
      lifecycle_->CancelSearch(request->search_id());
  if (!search.ok()) return ToGrpcStatus(search.status());
  spdlog::info("search {} cancelled by {}", search->id(),
               caller->name.empty() ? "(no token)" : caller->name);
  *response = *std::move(search);
  return grpc::Status::OK;
}

grpc::Status SearchServiceImpl::ListTrials(
    grpc::ServerContext* context, const nas::v1::ListTrialsRequest* request,
    nas::v1::ListTrialsResponse* response) {
  absl::StatusOr<Caller> caller = auth_->Authorize(*context, Role::kClient);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = CheckId("search_id", request->search_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<int> page_size = CheckPageSize(
      "page_size", request->page_size(), kDefaultPageSize, kMaxPageSize);
  if (!page_size.ok()) return ToGrpcStatus(page_size.status());
  // Trial numbers start at 0, so the token stores number + 1.
  absl::StatusOr<int64_t> after = ParsePageToken(request->page_token(), 0);
  if (!after.ok()) return ToGrpcStatus(after.status());
  std::vector<nas::v1::TrialState> states;
  for (int state : request->states()) {
    if (!nas::v1::TrialState_IsValid(state) ||
        state == nas::v1::TRIAL_STATE_UNSPECIFIED) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("states: ", state, " is not a trial state")));
    }
    states.push_back(static_cast<nas::v1::TrialState>(state));
  }
  // Distinguish "no trials yet" from "no such search".
  if (absl::Status s = VisibleSearch(*caller, request->search_id()).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<std::vector<nas::v1::Trial>> trials =
      store_->ListTrials(request->search_id(), states,
                         static_cast<int32_t>(*after) - 1, *page_size + 1);
  if (!trials.ok()) return ToGrpcStatus(trials.status());
  for (int i = 0; i < static_cast<int>(trials->size()) && i < *page_size;
       ++i) {
    *response->add_trials() = std::move((*trials)[i]);
  }
  if (static_cast<int>(trials->size()) > *page_size) {
    response->set_next_page_token(
        std::to_string(response->trials().rbegin()->number() + 1));
  }
  return grpc::Status::OK;
}

grpc::Status SearchServiceImpl::GetBestTrials(
    grpc::ServerContext* context, const nas::v1::GetBestTrialsRequest* request,
    nas::v1::GetBestTrialsResponse* response) {
  absl::StatusOr<Caller> caller = auth_->Authorize(*context, Role::kClient);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = CheckId("search_id", request->search_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<int> k = CheckPageSize("k", request->k(), 5, kMaxPageSize);
  if (!k.ok()) return ToGrpcStatus(k.status());
  absl::StatusOr<nas::v1::Search> search =
      VisibleSearch(*caller, request->search_id());
  if (!search.ok()) return ToGrpcStatus(search.status());
  absl::StatusOr<BestTrials> best =
      FindBestTrials(*store_, search->spec(), request->search_id(), *k);
  if (!best.ok()) return ToGrpcStatus(best.status());
  for (nas::v1::Trial& t : best->trials) *response->add_trials() = std::move(t);
  response->set_pareto_front(best->pareto_front);
  return grpc::Status::OK;
}

}  // namespace nas::controller
