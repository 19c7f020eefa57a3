// MemoryStore: searches (create, list, end, extend, delete, archive),
// workers and the test hooks. Each method mirrors its PostgresStore
// counterpart (controller/store/postgres_store.cc, postgres_manage.cc) check
// for check and message for message.
#include "controller/memory_store/memory_store.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/spec/estimation.h"
#include "controller/memory_store/memory_store_util.h"
#include "controller/store/capability_tokens.h"
#include "controller/store/store_rules.h"

namespace nas::controller {
namespace {

using memory_store_internal::SearchNotFound;
using memory_store_internal::SearchStateName;
using memory_store_internal::SetTimestamp;
using memory_store_internal::TrialNotFound;
using memory_store_internal::TrialStateName;

constexpr int kDefaultMaxAttempts = 3;

// The metrics an objective may name: the columns the best_trials view
// ranks by (kObjectiveMetrics in controller/store/proto_rows.cc).
constexpr std::array<const char*, 7> kObjectiveMetrics = {
    "val_accuracy", "test_accuracy", "val_loss",     "params",
    "flops",        "latency_ms",    "train_seconds"};

// What RankingObjectiveOf (proto_rows.h) resolves: the first objective,
// accuracies maximized and everything else minimized when unspecified.
struct Ranking {
  std::string metric = "val_accuracy";
  bool maximize = true;
};

absl::StatusOr<Ranking> RankingOf(const nas::v1::SearchSpec& spec) {
  Ranking ranking;
  if (spec.objectives_size() == 0) return ranking;
  const nas::v1::Objective& first = spec.objectives(0);
  if (std::find(kObjectiveMetrics.begin(), kObjectiveMetrics.end(),
                first.metric()) == kObjectiveMetrics.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("objectives[0].metric: unknown metric \"",
                     absl::CEscape(first.metric()), "\""));
  }
  ranking.metric = first.metric();
  switch (first.direction()) {
    case nas::v1::DIRECTION_MAXIMIZE:
      ranking.maximize = true;
      break;
    case nas::v1::DIRECTION_MINIMIZE:
      ranking.maximize = false;
      break;
    default:
      ranking.maximize =
          ranking.metric == "val_accuracy" || ranking.metric == "test_accuracy";
  }
  return ranking;
}

void AddCount(nas::v1::TrialState state, int32_t n,
              nas::v1::TrialCounts* counts) {
  switch (state) {
    case nas::v1::TRIAL_STATE_PENDING:
      counts->set_pending(counts->pending() + n);
      break;
    case nas::v1::TRIAL_STATE_RUNNING:
      counts->set_running(counts->running() + n);
      break;
    case nas::v1::TRIAL_STATE_COMPLETED:
      counts->set_completed(counts->completed() + n);
      break;
    case nas::v1::TRIAL_STATE_FAILED:
      counts->set_failed(counts->failed() + n);
      break;
    case nas::v1::TRIAL_STATE_STOPPED:
      counts->set_stopped(counts->stopped() + n);
      break;
    case nas::v1::TRIAL_STATE_CANCELLED:
      counts->set_cancelled(counts->cancelled() + n);
      break;
    default:
      break;
  }
}

}  // namespace

MemoryStore::MemoryStore(Clock* clock) : clock_(clock) {}

MemoryStore::~MemoryStore() = default;

absl::Time MemoryStore::Now() {
  return absl::FromUnixMicros(absl::ToUnixMicros(clock_->Now()));
}

MemoryStore::SearchRow* MemoryStore::FindSearch(int64_t search_id) {
  auto it = searches_.find(search_id);
  return it == searches_.end() ? nullptr : &it->second;
}

MemoryStore::TrialRow* MemoryStore::FindTrial(int64_t trial_id) {
  auto it = trials_.find(trial_id);
  return it == trials_.end() ? nullptr : &it->second;
}

nas::v1::Search MemoryStore::SearchProto(int64_t search_id,
                                         const SearchRow& row) {
  nas::v1::Search search;
  search.set_id(search_id);
  *search.mutable_spec() = row.spec;
  search.set_state(row.state);
  search.set_owner(row.owner);
  search.set_state_reason(row.state_reason);
  SetTimestamp(row.created_at, search.mutable_created_at());
  if (row.finished_at) {
    SetTimestamp(*row.finished_at, search.mutable_finished_at());
  }
  if (row.archived_at) {
    SetTimestamp(*row.archived_at, search.mutable_archived_at());
  }
  search.set_supernet_version(
      row.versions.empty() ? 0 : row.versions.rbegin()->first);
  nas::v1::TrialCounts* total = search.mutable_counts();  // even when all 0
  for (const auto& [kind, by_state] : row.counts) {
    nas::v1::TrialCounts counts;
    int32_t trials = 0;
    for (size_t state = 0; state < by_state.size(); ++state) {
      AddCount(static_cast<nas::v1::TrialState>(state), by_state[state],
               &counts);
      AddCount(static_cast<nas::v1::TrialState>(state), by_state[state], total);
      trials += by_state[state];
    }
    // Like a GROUP BY: a kind is listed once the search has trials of it.
    if (trials == 0) continue;
    nas::v1::KindCounts* entry = search.add_kind_counts();
    entry->set_kind(kind);
    *entry->mutable_counts() = std::move(counts);
  }
  return search;
}

absl::StatusOr<nas::v1::Search> MemoryStore::CreateSearch(
    const nas::v1::SearchSpec& spec, const std::string& owner) {
  absl::StatusOr<Ranking> ranking = RankingOf(spec);
  if (!ranking.ok()) return ranking.status();
  absl::StatusOr<int> extra = CheckNewSearch(spec);
  if (!extra.ok()) return extra.status();
  const int extra_trials = *extra;
  absl::MutexLock lock(&mu_);
  const int64_t id = ++last_search_id_;
  SearchRow& row = searches_[id];
  row.spec = spec;
  row.owner = owner;
  row.extra_trials = extra_trials;
  row.max_attempts = spec.budget().max_attempts() > 0
                         ? spec.budget().max_attempts()
                         : kDefaultMaxAttempts;
  row.objective_metric = ranking->metric;
  row.maximize = ranking->maximize;
  row.created_at = Now();
  return SearchProto(id, row);
}

absl::StatusOr<nas::v1::Search> MemoryStore::GetSearch(int64_t search_id) {
  absl::MutexLock lock(&mu_);
  const SearchRow* row = FindSearch(search_id);
  if (row == nullptr) return SearchNotFound(search_id);
  return SearchProto(search_id, *row);
}

absl::StatusOr<std::vector<nas::v1::Search>> MemoryStore::ListSearches(
    int64_t before_id, int limit, const SearchFilter& filter) {
  std::vector<nas::v1::Search> searches;
  if (limit <= 0) return searches;
  absl::MutexLock lock(&mu_);
  auto end =
      before_id == 0 ? searches_.end() : searches_.lower_bound(before_id);
  for (auto it = std::make_reverse_iterator(end);
       it != searches_.rend() && static_cast<int>(searches.size()) < limit;
       ++it) {
    const SearchRow& row = it->second;
    if (filter.owner && row.owner != *filter.owner) continue;
    if (!filter.states.empty() &&
        std::find(filter.states.begin(), filter.states.end(), row.state) ==
            filter.states.end()) {
      continue;
    }
    // Literal, case-sensitive, like strpos: '%' and '_' are no wildcards.
    if (!absl::StrContains(row.spec.name(), filter.name)) continue;
    if (!filter.include_archived && row.archived_at) continue;
    searches.push_back(SearchProto(it->first, row));
  }
  return searches;
}

absl::StatusOr<std::vector<int64_t>> MemoryStore::ListRunningSearchIds() {
  absl::MutexLock lock(&mu_);
  std::vector<int64_t> ids;
  for (const auto& [id, row] : searches_) {
    if (row.state == nas::v1::SEARCH_STATE_RUNNING) ids.push_back(id);
  }
  return ids;
}

absl::StatusOr<nas::v1::Search> MemoryStore::CancelSearch(int64_t search_id) {
  absl::MutexLock lock(&mu_);
  SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  if (search->state != nas::v1::SEARCH_STATE_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "search ", search_id, " is ", SearchStateName(search->state),
        "; only a RUNNING search can be cancelled"));
  }
  const absl::Time now = Now();
  search->state = nas::v1::SEARCH_STATE_CANCELLED;
  search->finished_at = now;
  // RUNNING trials keep worker_id and attempt, so that the worker's next
  // report matches its lease and is told to stop.
  for (int64_t trial_id : search->trial_ids) {
    TrialRow& trial = trials_.at(trial_id);
    if (trial.state != nas::v1::TRIAL_STATE_PENDING &&
        trial.state != nas::v1::TRIAL_STATE_RUNNING) {
      continue;
    }
    SetTrialState(trial, nas::v1::TRIAL_STATE_CANCELLED);
    trial.finished_at = now;
    trial.lease_expires_at.reset();
    memory_store_internal::AppendReason(&trial.reason,
                                        "cancelled with its search");
  }
  DropResumeStates(*search);
  return SearchProto(search_id, *search);
}

absl::StatusOr<bool> MemoryStore::CompleteSearchIfDone(int64_t search_id) {
  absl::MutexLock lock(&mu_);
  SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  int64_t open = 0;
  for (const auto& [kind, by_state] : search->counts) {
    open += by_state[nas::v1::TRIAL_STATE_PENDING] +
            by_state[nas::v1::TRIAL_STATE_RUNNING];
  }
  if (open > 0 || search->state != nas::v1::SEARCH_STATE_RUNNING) return false;
  const int64_t total_trials =
      int64_t{search->spec.budget().max_trials()} + search->extra_trials;
  if (static_cast<int64_t>(search->trial_ids.size()) < total_trials) {
    return false;
  }
  search->state = nas::v1::SEARCH_STATE_COMPLETED;
  search->finished_at = Now();
  DropResumeStates(*search);
  return true;
}

void MemoryStore::DropResumeStates(const SearchRow& search) {
  for (int64_t trial_id : search.trial_ids) {
    TrialRow& trial = trials_.at(trial_id);
    if (trial.state != nas::v1::TRIAL_STATE_COMPLETED) trial.upload.reset();
  }
}

absl::StatusOr<bool> MemoryStore::EndSearch(int64_t search_id,
                                            nas::v1::SearchState state,
                                            const std::string& reason) {
  if (absl::Status ok = CheckEndState(state); !ok.ok()) return ok;
  absl::MutexLock lock(&mu_);
  SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  if (search->state != nas::v1::SEARCH_STATE_RUNNING) return false;
  const absl::Time now = Now();
  search->state = state;
  search->state_reason = reason;
  search->finished_at = now;
  // Copied: SetTrialState changes the set being walked.
  const std::set<int32_t> pending = search->pending;
  for (int32_t number : pending) {
    TrialRow& trial = trials_.at(search->trial_ids[number]);
    SetTrialState(trial, nas::v1::TRIAL_STATE_CANCELLED);
    trial.finished_at = now;
    // Replaces what earlier attempts said, as the PostgreSQL store does.
    trial.reason = "search ended before this trial ran";
  }
  DropResumeStates(*search);
  return true;
}

absl::StatusOr<nas::v1::Search> MemoryStore::ExtendSearch(int64_t search_id,
                                                          int32_t max_trials) {
  absl::MutexLock lock(&mu_);
  SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  if (search->state == nas::v1::SEARCH_STATE_CANCELLED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "search ", search_id,
        " was cancelled, which is final; submit a new search (and enqueue "
        "this one's best architectures into it) instead"));
  }
  const int32_t current = search->spec.budget().max_trials();
  if (max_trials <= current) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_trials: ", max_trials, " is not larger than search ",
                     search_id, "'s current max_trials ", current));
  }
  search->spec.mutable_budget()->set_max_trials(max_trials);
  // A running search keeps its state_reason: it may still hold. A COMPLETED
  // or FAILED one runs again, so the old ending's reason and time no
  // longer describe it, and a running search is never archived.
  if (search->state != nas::v1::SEARCH_STATE_RUNNING) {
    search->state = nas::v1::SEARCH_STATE_RUNNING;
    search->state_reason.clear();
    search->finished_at.reset();
    search->archived_at.reset();
  }
  return SearchProto(search_id, *search);
}

absl::StatusOr<TrialStore::DeletedSearch> MemoryStore::DeleteSearch(
    int64_t search_id, bool force) {
  absl::MutexLock lock(&mu_);
  SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  DeletedSearch deleted;
  deleted.search = SearchProto(search_id, *search);
  if (search->state == nas::v1::SEARCH_STATE_RUNNING) {
    if (!force) {
      return absl::FailedPreconditionError(absl::StrCat(
          "search ", search_id,
          " is RUNNING; cancel it first, or delete with force (nasctl "
          "delete --force) to cancel and delete it at once"));
    }
    // Nothing of it survives, so the cancellation is only what the caller
    // reports; workers training its trials find them gone at their next
    // report and abandon them.
    deleted.search.set_state(nas::v1::SEARCH_STATE_CANCELLED);
  }
  deleted.deleted_trials = static_cast<int>(search->trial_ids.size());
  // Its trials' epochs and uploads, and its supernet versions, go with it
  // (ON DELETE CASCADE).
  for (int64_t trial_id : search->trial_ids) {
    running_.erase(trial_id);
    trials_.erase(trial_id);
  }
  searches_.erase(search_id);
  return deleted;
}

absl::StatusOr<nas::v1::Search> MemoryStore::SetSearchArchived(
    int64_t search_id, bool archived) {
  absl::MutexLock lock(&mu_);
  SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  if (archived && search->state == nas::v1::SEARCH_STATE_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "search ", search_id,
        " is RUNNING; only a finished search can be archived (cancel it or "
        "let it finish first)"));
  }
  if (!archived) {
    search->archived_at.reset();
  } else if (!search->archived_at) {
    // Archived twice: the first time stays.
    search->archived_at = Now();
  }
  return SearchProto(search_id, *search);
}

absl::StatusOr<bool> MemoryStore::SetRunningSearchReason(
    int64_t search_id, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  if (search->state != nas::v1::SEARCH_STATE_RUNNING) return false;
  search->state_reason = reason;
  return true;
}

absl::StatusOr<std::string> MemoryStore::RegisterWorker(
    const nas::v1::RegisterWorkerRequest& worker) {
  WorkerRow row;
  row.name = worker.name().empty() ? worker.host() : worker.name();
  row.estimator = worker.capabilities().estimator();
  // nullopt: the worker declared nothing and is offered everything.
  if (worker.has_capabilities()) {
    row.capabilities = CapabilityTokens(worker.capabilities());
  }
  absl::MutexLock lock(&mu_);
  row.last_seen_at = Now();
  // The workers table's default: 'w-' || nextval('worker_id_seq').
  std::string id = absl::StrCat("w-", ++last_worker_number_);
  workers_[id] = std::move(row);
  return id;
}

absl::Status MemoryStore::TouchWorker(const std::string& worker_id) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) {
    return absl::NotFoundError(
        absl::StrCat("worker ", worker_id, " is not registered"));
  }
  it->second.last_seen_at = Now();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LiveWorker>> MemoryStore::ListLiveWorkers(
    absl::Duration within) {
  absl::MutexLock lock(&mu_);
  const absl::Time since =
      Now() - absl::Microseconds(absl::ToInt64Microseconds(within));
  std::vector<LiveWorker> workers;
  for (const auto& [id, row] : workers_) {
    if (row.last_seen_at <= since) continue;
    LiveWorker live;
    live.id = id;
    live.name = row.name;
    live.estimator = row.estimator;
    live.capabilities = row.capabilities;
    workers.push_back(std::move(live));
  }
  return workers;
}

absl::Status MemoryStore::SetLeaseExpiryForTesting(int64_t trial_id,
                                                   absl::Time expires_at) {
  absl::MutexLock lock(&mu_);
  TrialRow* trial = FindTrial(trial_id);
  if (trial == nullptr) return TrialNotFound(trial_id);
  if (trial->state != nas::v1::TRIAL_STATE_RUNNING) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", trial_id, " is ", TrialStateName(trial->state),
                     "; only a RUNNING trial holds a lease"));
  }
  trial->lease_expires_at = expires_at;
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> MemoryStore::LeaseExpiryForTesting(
    int64_t trial_id) {
  absl::MutexLock lock(&mu_);
  const TrialRow* trial = FindTrial(trial_id);
  if (trial == nullptr) return TrialNotFound(trial_id);
  if (trial->state != nas::v1::TRIAL_STATE_RUNNING ||
      !trial->lease_expires_at) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", trial_id, " is ", TrialStateName(trial->state),
                     "; only a RUNNING trial holds a lease"));
  }
  return *trial->lease_expires_at;
}

}  // namespace nas::controller
