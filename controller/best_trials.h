// Which trials a search reports as its best (GetBestTrials, WatchSearch).
// Only feasible TRAIN and RETRAIN trials count (IsRankedKind). With one objective: best first by it. With
// several: the Pareto front of the feasible completed trials (pareto.h, the
// same rule evolution selects parents by), ordered by the first objective.
#ifndef NAS_CONTROLLER_BEST_TRIALS_H_
#define NAS_CONTROLLER_BEST_TRIALS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/store/trial_store.h"
#include "nas/v1/search.pb.h"

namespace nas::controller {

struct BestTrials {
  std::vector<nas::v1::Trial> trials;  // at most k
  bool pareto_front = false;           // the search has several objectives
};

// `spec` is the search's. Ties go to the lower trial number. A search with
// one objective and no constraints is ranked by the store (one query);
// otherwise every completed trial is read and ranked here. Errors are the
// store's. REQUIRES: k >= 0.
absl::StatusOr<BestTrials> FindBestTrials(TrialStore& store,
                                          const nas::v1::SearchSpec& spec,
                                          int64_t search_id, int k);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_BEST_TRIALS_H_
