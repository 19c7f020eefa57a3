// What a search's estimation spec implies, shared by the controller's
// scheduler and store and by nasctl: how many trials beyond the candidates
// a weight-sharing search runs, and the per-round learning rate.
#ifndef NAS_COMMON_SPEC_ESTIMATION_H_
#define NAS_COMMON_SPEC_ESTIMATION_H_

#include "nas/v1/search.pb.h"

namespace nas::spec {

// True when the spec asks for weight sharing.
inline bool UsesWeightSharing(const nas::v1::SearchSpec& spec) {
  return spec.estimation().has_weight_sharing();
}

// True when the spec asks for zero-cost scoring.
inline bool UsesZeroCost(const nas::v1::SearchSpec& spec) {
  return spec.estimation().has_zero_cost();
}

// True when weight-sharing candidates are fine-tuned from their inherited
// weights before they are scored (candidates.fine_tune).
inline bool FineTunesCandidates(const nas::v1::SearchSpec& spec) {
  return UsesWeightSharing(spec) &&
         spec.estimation().weight_sharing().candidates().has_fine_tune();
}

// The epochs a candidate trains for within the search, the ones early
// stopping judges: fine_tune.epochs for fine-tuned weight-sharing
// candidates, training.epochs for candidates trained from scratch.
inline int CandidateEpochs(const nas::v1::SearchSpec& spec) {
  if (FineTunesCandidates(spec)) {
    return spec.estimation().weight_sharing().candidates().fine_tune().epochs();
  }
  return spec.training().epochs();
}

// True when candidates are estimated, not trained, and the search runs in
// planned phases (controller/estimation): weight sharing or zero cost.
inline bool UsesEstimationPlan(const nas::v1::SearchSpec& spec) {
  return UsesWeightSharing(spec) || UsesZeroCost(spec);
}

// How many of the best-estimated candidates are retrained (RETRAIN trials);
// 0 when candidates are trained from scratch.
inline int RetrainTopK(const nas::v1::SearchSpec& spec) {
  if (UsesWeightSharing(spec)) {
    return spec.estimation().weight_sharing().retrain_top_k();
  }
  if (UsesZeroCost(spec)) return spec.estimation().zero_cost().train_top_k();
  return 0;
}

// Trials a search runs besides its budget.max_trials candidates: for weight
// sharing, rounds x shards_per_round shards and retrain_top_k retrains; for
// zero cost, train_top_k retrains; otherwise 0. REQUIRES: ApplySpecDefaults
// was applied.
inline int ExtraTrials(const nas::v1::SearchSpec& spec) {
  if (UsesZeroCost(spec)) return RetrainTopK(spec);
  if (!UsesWeightSharing(spec)) return 0;
  const nas::v1::WeightSharingConfig& ws = spec.estimation().weight_sharing();
  return ws.supernet().rounds() * ws.supernet().shards_per_round() +
         ws.retrain_top_k();
}

}  // namespace nas::spec

#endif  // NAS_COMMON_SPEC_ESTIMATION_H_
