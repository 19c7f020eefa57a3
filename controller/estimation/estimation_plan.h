// What a weight-sharing or zero-cost search does next, decided from its
// stored trials and its latest merged supernet version alone, so that a
// restarted controller (or another replica) decides exactly as the one
// before. A zero-cost search has no supernet: it starts at phase 2 with
// ZERO_COST candidates ranked by their zero_cost_score, and retrains the
// zero_cost.train_top_k best.
//
// The phases (docs/estimators.md):
//  1. Supernet rounds. Round r adds shards_per_round SUPERNET_SHARD trials
//     that start from version r (0: a fresh supernet); once all of them
//     completed, their uploads are merged into version r + 1.
//  2. Candidates. With version `rounds` stored, the strategy proposes
//     architectures as usual; each becomes a SCORE_INHERITED trial that
//     inherits that version. The strategy sees only these trials.
//  3. Retraining. When budget.max_trials candidates have finished (or the
//     strategy has nothing left to propose), the retrain_top_k best feasible
//     candidates by the first objective become RETRAIN trials under the
//     search's training budget. When they have finished, the search is
//     done.
// Pure: no store, no gRPC.
#ifndef NAS_CONTROLLER_ESTIMATION_ESTIMATION_PLAN_H_
#define NAS_CONTROLLER_ESTIMATION_ESTIMATION_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nas/v1/search.pb.h"

namespace nas::controller {

struct EstimationStep {
  enum class Action {
    kWait,            // trials are in flight; nothing to add
    kAddShards,       // add the shards of `round`
    kMerge,           // merge `merge_trial_ids` into version round + 1
    kProposeCandidates,  // ask the strategy for `free_slots` candidates
    kAddRetrains,     // add RETRAIN trials for `retrain_trial_ids`
    kComplete,        // end the search COMPLETED with `reason` (may be "")
    kFail,            // end the search FAILED with `reason`
  };
  Action action = Action::kWait;
  int round = 0;
  std::vector<int64_t> merge_trial_ids;
  int free_slots = 0;
  // Candidates (SCORE_INHERITED trial ids) to retrain, best first.
  std::vector<int64_t> retrain_trial_ids;
  std::string reason;
};

// The next step of a RUNNING weight-sharing search. `trials` are all its
// trials in number order; `latest_version` is its latest merged supernet
// version; `strategy_exhausted` is true when the strategy has just proposed
// nothing for free candidate slots. REQUIRES: spec defaults applied and
// spec.estimation() is weight_sharing or zero_cost.
EstimationStep NextEstimationStep(const nas::v1::SearchSpec& spec,
                                        const std::vector<nas::v1::Trial>& trials,
                                        int64_t latest_version,
                                        bool strategy_exhausted);

// The task of shard `shard_index` of `round`: it starts from version
// `round` and covers the round's part [round/R, (round+1)/R] of one cosine
// learning-rate schedule from supernet.learning_rate down to 0 over all R
// rounds.
nas::v1::SupernetTask ShardTask(const nas::v1::SearchSpec& spec, int round,
                                int shard_index);

// The task of a candidate scored with inherited weights of `version`.
nas::v1::SupernetTask ScoreTask(const nas::v1::SearchSpec& spec,
                                int64_t version);

// The candidate trials (TRAIN, SCORE_INHERITED or ZERO_COST) of `trials`:
// what the strategy sees.
std::vector<const nas::v1::Trial*> CandidateTrials(
    const std::vector<nas::v1::Trial>& trials);

// What ranks a candidate for retraining and what the strategy learns from:
// a ZERO_COST trial's zero_cost_score, any other's first objective
// (oriented, OrientedScore); nullopt when unmeasured or infeasible.
std::optional<double> CandidateScore(const nas::v1::SearchSpec& spec,
                                     const nas::v1::Trial& trial);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_ESTIMATION_ESTIMATION_PLAN_H_
