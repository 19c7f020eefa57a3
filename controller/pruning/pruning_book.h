// Each search's pruner (pruner.h), held in memory and built on first use
// from the search's spec and its stored epoch reports, so that a restarted
// controller decides as the one before it, without re-reading every trial
// on every report.
//
// Several controller replicas each keep their own book; a replica's state
// includes the reports it stored itself and those stored before it first
// decided for the search. An entry lives as long as the process: a few
// values per trial, and search ids are never reused.
//
// Thread-safe: one lock for the map (never held while reading the store),
// one per search for its pruner.
#ifndef NAS_CONTROLLER_PRUNING_PRUNING_BOOK_H_
#define NAS_CONTROLLER_PRUNING_PRUNING_BOOK_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/pruning/pruner.h"
#include "controller/store/trial_store.h"

namespace nas::controller {

class PruningBook {
 public:
  // `store` must outlive the book.
  explicit PruningBook(TrialStore* store) : store_(store) {}

  // Decides on epoch `metrics` of trial `trial_id` (number `trial_number`),
  // already stored by RecordEpoch. nullopt when the search has no early
  // stopping or the epoch did not measure the decision metric.
  absl::StatusOr<std::optional<PruneDecision>> Decide(
      int64_t search_id, int64_t trial_id, int trial_number,
      const nas::v1::EpochMetrics& metrics);

  // Pruner::Promotable of the search (empty without promotion), its state
  // built from the store on first use like Decide's.
  absl::StatusOr<std::vector<PromotableTrial>> Promotable(int64_t search_id);

 private:
  struct Entry {
    std::mutex mu;
    nas::v1::SearchSpec spec;
    std::unique_ptr<Pruner> pruner;  // nullptr: no early stopping
  };

  // The search's entry, built from the store on first use.
  absl::StatusOr<Entry*> EntryFor(int64_t search_id);
  // A new entry for the search from its spec and stored reports.
  absl::StatusOr<std::unique_ptr<Entry>> Build(int64_t search_id);

  TrialStore* const store_;
  std::mutex mu_;
  std::map<int64_t, std::unique_ptr<Entry>> entries_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_PRUNING_PRUNING_BOOK_H_
