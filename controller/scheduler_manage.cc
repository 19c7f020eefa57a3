// Scheduler: the calls that change a search's trials or budget from outside
// a strategy step (EnqueueTrials, ExtendSearch, CancelSearch, DeleteSearch).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/spec/architecture_text.h"
#include "common/spec/estimation.h"
#include "common/spec/space_from_proto.h"
#include "common/spec/spec_validation.h"
#include "controller/scheduler.h"

namespace nas::controller {
namespace {

// One request's architectures, as many as a page of trials.
constexpr int kMaxEnqueued = 1000;
// A concurrent strategy step (another replica) makes AddTrials abort; each
// retry re-reads the count. Steps are short, so a few tries suffice.
constexpr int kMaxEnqueueTries = 10;

// How an error names an architecture: as the caller wrote it.
std::string Label(const nas::v1::Architecture& a) {
  if (!a.text().empty()) return absl::StrCat("\"", a.text(), "\"");
  return absl::StrCat("choices [", absl::StrJoin(a.choices(), ","), "]");
}

// Its phases (supernet, candidates, retraining) follow from the budget the
// search was created with; changing it midway has no defined meaning yet.
absl::Status PlannedEstimationRefusal(int64_t search_id, absl::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat(
      "search ", search_id,
      " estimates its candidates in planned phases (weight sharing or zero "
      "cost); cannot ", what,
      " it: its phases are planned from the budget it was created with. "
      "Submit a new search instead"));
}

}  // namespace

absl::StatusOr<std::vector<nas::v1::Trial>> Scheduler::EnqueueTrials(
    int64_t search_id,
    const std::vector<nas::v1::Architecture>& architectures) {
  const int n = static_cast<int>(architectures.size());
  if (n == 0 || n > kMaxEnqueued) {
    return absl::InvalidArgumentError(absl::StrCat(
        "architectures: give between 1 and ", kMaxEnqueued, ", not ", n));
  }
  absl::StatusOr<nas::v1::Search> search = store_->GetSearch(search_id);
  if (!search.ok()) return search.status();
  if (spec::UsesEstimationPlan(search->spec())) {
    return PlannedEstimationRefusal(search_id, "enqueue trials into");
  }
  absl::StatusOr<std::unique_ptr<space::SearchSpace>> space =
      spec::MakeSearchSpace(search->spec().space());
  if (!space.ok()) return space.status();

  // Checked up front, so that one bad architecture adds none.
  std::vector<std::vector<int>> all_choices;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<std::vector<int>> choices =
        spec::ArchitectureChoices(**space, architectures[i]);
    if (!choices.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("architectures[", i, "] ", Label(architectures[i]), ": ",
                       choices.status().message()));
    }
    all_choices.push_back(*std::move(choices));
  }

  // Serialized with this replica's strategy steps; AddTrials' expected count
  // serializes with other replicas'.
  std::lock_guard<std::mutex> lock(replenish_mu_);
  for (int attempt = 0; attempt < kMaxEnqueueTries; ++attempt) {
    if (attempt > 0) {
      search = store_->GetSearch(search_id);
      if (!search.ok()) return search.status();
    }
    if (search->state() != nas::v1::SEARCH_STATE_RUNNING) {
      return absl::FailedPreconditionError(absl::StrCat(
          "search ", search_id, " is ",
          absl::StripPrefix(nas::v1::SearchState_Name(search->state()),
                            "SEARCH_STATE_"),
          "; only a RUNNING search takes new trials (extend it first: "
          "nasctl extend ",
          search_id, " --max_trials N)"));
    }
    const int count = TotalTrials(search->counts());
    const int max_trials = search->spec().budget().max_trials();
    if (count + n > max_trials) {
      return absl::FailedPreconditionError(absl::StrCat(
          "search ", search_id, " has ", count, " trials of its max_trials ",
          max_trials, ", no room for ", n, " more; extend it to at least ",
          count + n, " first"));
    }
    // Numbered next, with the training seed a proposed trial of that
    // number would get, so results do not depend on who chose it.
    std::vector<NewTrial> trials;
    for (int j = 0; j < n; ++j) {
      trials.push_back(
          MakeTrial(**space, search->spec(), all_choices[j], count + j));
    }
    absl::Status added = store_->AddTrials(search_id, count, trials);
    if (absl::IsAborted(added)) continue;
    if (!added.ok()) return added;
    Notify();
    return store_->ListTrials(search_id, {}, count - 1, n);
  }
  return absl::AbortedError(absl::StrCat(
      "search ", search_id,
      " kept gaining trials while enqueueing; nothing was added, retry"));
}

absl::StatusOr<nas::v1::Search> Scheduler::ExtendSearch(int64_t search_id,
                                                        int32_t max_trials) {
  // The bound CreateSearch enforces through the spec.
  if (max_trials > spec::kMaxTrials) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_trials: must be at most ", spec::kMaxTrials, ", got ",
                     max_trials));
  }
  absl::StatusOr<nas::v1::Search> current = store_->GetSearch(search_id);
  if (!current.ok()) return current.status();
  if (spec::UsesEstimationPlan(current->spec())) {
    return PlannedEstimationRefusal(search_id, "extend");
  }
  absl::StatusOr<nas::v1::Search> search =
      store_->ExtendSearch(search_id, max_trials);
  if (!search.ok()) return search;
  {
    // A search that ended and runs again starts from a fresh strategy, the
    // path a restarted controller takes: whatever was cached at its end
    // (e.g. "space exhausted") is not carried over.
    std::lock_guard<std::mutex> lock(replenish_mu_);
    contexts_.erase(search_id);
  }
  Notify();
  return search;
}

absl::StatusOr<nas::v1::Search> Scheduler::CancelSearch(int64_t search_id) {
  absl::StatusOr<nas::v1::Search> search = store_->CancelSearch(search_id);
  if (!search.ok()) return search;
  {
    std::lock_guard<std::mutex> lock(replenish_mu_);
    contexts_.erase(search_id);
  }
  Notify();
  return search;
}

absl::StatusOr<TrialStore::DeletedSearch> Scheduler::DeleteSearch(
    int64_t search_id, bool force) {
  absl::StatusOr<TrialStore::DeletedSearch> deleted =
      store_->DeleteSearch(search_id, force);
  if (!deleted.ok()) return deleted;
  std::lock_guard<std::mutex> lock(replenish_mu_);
  contexts_.erase(search_id);
  return deleted;
}

}  // namespace nas::controller
