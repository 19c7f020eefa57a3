// Promotion (AshaConfig.promote): paused trials resumed by the scheduler
// when the pruner says they earned it, before any new trial is started.
#include <algorithm>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/spec/early_stopping.h"
#include "controller/pruning/pruning_book.h"
#include "controller/scheduler.h"
#include "spdlog/spdlog.h"

namespace nas::controller {

absl::StatusOr<bool> Scheduler::Promotes(int64_t search_id) {
  {
    std::lock_guard<std::mutex> lock(promotes_mu_);
    auto it = promotes_.find(search_id);
    if (it != promotes_.end()) return it->second;
  }
  absl::StatusOr<nas::v1::Search> search =
      store_->GetSearchWithoutCounts(search_id);
  if (!search.ok()) return search.status();
  const bool promotes = spec::PromotesTrials(search->spec());
  std::lock_guard<std::mutex> lock(promotes_mu_);
  promotes_[search_id] = promotes;
  return promotes;
}

absl::StatusOr<int> Scheduler::ResumePromoted(int64_t search_id,
                                              SearchContext* context,
                                              int slots) {
  if (options_.pruning == nullptr || slots <= 0) return 0;
  absl::StatusOr<std::vector<PromotableTrial>> promotable =
      options_.pruning->Promotable(search_id);
  if (!promotable.ok()) return promotable.status();
  std::vector<TrialView>& views = context->snapshot.trials;
  int resumed = 0;
  for (const PromotableTrial& p : *promotable) {
    if (resumed == slots) break;
    const size_t number = static_cast<size_t>(p.trial_number);
    // The others are on their way to the next rung (the trial that went on
    // at once, or one resumed already).
    if (number >= views.size() ||
        views[number].state != nas::v1::TRIAL_STATE_STOPPED ||
        context->unresumable.count(p.trial_id) > 0) {
      continue;
    }
    absl::StatusOr<bool> moved = store_->ResumePausedTrial(
        p.trial_id,
        absl::StrCat("promoted past rung ", p.rung,
                     ": now in the top of the trials that reached it; "
                     "resumes from its saved state"));
    if (!moved.ok()) return moved.status();
    if (!*moved) {
      // Stopped for good (its state is gone), or its search ended.
      context->unresumable.insert(p.trial_id);
      continue;
    }
    spdlog::info("search {}: trial #{} promoted past rung {}", search_id,
                 p.trial_number, p.rung);
    // What a fresh read of it shows now: in flight, without a score.
    TrialView& view = views[number];
    view.state = nas::v1::TRIAL_STATE_PENDING;
    view.score.reset();
    view.objectives.clear();
    context->reread_from =
        std::min(context->reread_from, static_cast<int32_t>(number));
    ++resumed;
  }
  return resumed;
}

absl::StatusOr<bool> Scheduler::CompletePromotingSearchIfDone(
    int64_t search_id) {
  std::lock_guard<std::mutex> lock(replenish_mu_);
  absl::StatusOr<int> added = ReplenishSearch(search_id);
  // Another replica's step won the race: it may have added trials.
  if (absl::IsAborted(added.status())) return false;
  if (!added.ok()) return added.status();
  if (*added > 0) {
    WakeSome(*added);
    return false;
  }
  return store_->CompleteSearchIfDone(search_id);
}

}  // namespace nas::controller
