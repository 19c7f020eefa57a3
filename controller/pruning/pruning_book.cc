#include "controller/pruning/pruning_book.h"

#include <utility>
#include <vector>

namespace nas::controller {

absl::StatusOr<std::unique_ptr<PruningBook::Entry>> PruningBook::Build(
    int64_t search_id) {
  absl::StatusOr<nas::v1::Search> search = store_->GetSearch(search_id);
  if (!search.ok()) return search.status();
  auto entry = std::make_unique<Entry>();
  entry->spec = search->spec();
  entry->pruner = MakePruner(entry->spec);
  if (entry->pruner == nullptr) return entry;
  // The state is a set of values, so the order of the replay does not
  // matter; the decisions it makes were made before and are dropped.
  absl::StatusOr<std::vector<EpochReport>> reports =
      store_->ListEpochReports(search_id);
  if (!reports.ok()) return reports.status();
  for (const EpochReport& r : *reports) {
    if (!IsEarlyStoppableKind(r.kind)) continue;
    std::optional<double> value = DecisionValue(entry->spec, r.metrics);
    if (!value) continue;
    entry->pruner->OnReport(
        {r.trial_id, r.trial_number, r.metrics.epoch(), *value});
  }
  return entry;
}

absl::StatusOr<PruningBook::Entry*> PruningBook::EntryFor(int64_t search_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(search_id);
    if (it != entries_.end()) return it->second.get();
  }
  // Built without the book's lock: replaying a long search's reports must
  // not hold up the decisions of every other search. Two first reports of
  // one search may both build; the entry stored first is kept, and the
  // other report still reaches it, since each Decide adds its own report
  // (the state is a set, so one seen twice counts once).
  absl::StatusOr<std::unique_ptr<Entry>> built = Build(search_id);
  if (!built.ok()) return built.status();
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.emplace(search_id, *std::move(built)).first->second.get();
}

absl::StatusOr<std::optional<PruneDecision>> PruningBook::Decide(
    int64_t search_id, int64_t trial_id, int trial_number,
    const nas::v1::EpochMetrics& metrics) {
  absl::StatusOr<Entry*> entry = EntryFor(search_id);
  if (!entry.ok()) return entry.status();
  if ((*entry)->pruner == nullptr) return std::optional<PruneDecision>();
  std::optional<double> value = DecisionValue((*entry)->spec, metrics);
  if (!value) return std::optional<PruneDecision>();
  std::lock_guard<std::mutex> lock((*entry)->mu);
  return std::optional<PruneDecision>((*entry)->pruner->OnReport(
      {trial_id, trial_number, metrics.epoch(), *value}));
}

absl::StatusOr<std::vector<PromotableTrial>> PruningBook::Promotable(
    int64_t search_id) {
  absl::StatusOr<Entry*> entry = EntryFor(search_id);
  if (!entry.ok()) return entry.status();
  if ((*entry)->pruner == nullptr) return std::vector<PromotableTrial>();
  std::lock_guard<std::mutex> lock((*entry)->mu);
  return (*entry)->pruner->Promotable();
}

}  // namespace nas::controller
