// Defaults, validation and rung arithmetic of a search's early_stopping
// (EarlyStoppingSpec, search.proto), shared by spec validation and the
// controller's pruners. Pure functions; thread-safe.
#ifndef NAS_COMMON_SPEC_EARLY_STOPPING_H_
#define NAS_COMMON_SPEC_EARLY_STOPPING_H_

#include <vector>

#include "absl/status/status.h"
#include "common/spec/space_from_proto.h"
#include "nas/v1/search.pb.h"

namespace nas::spec {

inline constexpr int kMaxReductionFactor = 100;

// True when the spec has an early-stopping rule.
inline bool UsesEarlyStopping(const nas::v1::SearchSpec& spec) {
  return spec.early_stopping().kind_case() !=
         nas::v1::EarlyStoppingSpec::KIND_NOT_SET;
}

// True when the rule is ASHA or Hyperband with promote: trials pause at
// rungs and are resumed when promoted.
inline bool PromotesTrials(const nas::v1::SearchSpec& spec) {
  const nas::v1::EarlyStoppingSpec& rule = spec.early_stopping();
  return (rule.has_asha() && rule.asha().promote()) ||
         (rule.has_hyperband() && rule.hyperband().promote());
}

// Fills the rule's unset options: min_epochs 1, max_epochs the candidates'
// epochs (CandidateEpochs: training.epochs, or the fine-tuning's),
// reduction_factor 3, warmup_epochs 1, min_trials 3; fields in
// `explicitly_set` keep their value (see ApplySpecDefaults).
void ApplyEarlyStoppingDefaults(nas::v1::SearchSpec* spec,
                                const FieldPathSet& explicitly_set);

// INVALID_ARGUMENT naming the field: ranges, max_epochs equal to the
// candidates' epochs, and a rule only where candidates train in epochs
// (from scratch, or fine-tuned under weight sharing; never zero cost).
absl::Status ValidateEarlyStopping(const nas::v1::SearchSpec& spec);

// The rung epochs of one ASHA bracket: min_epochs * eta^k for k = 0, 1, ...
// while below max_epochs (max_epochs itself is the full budget, not a rung).
std::vector<int> RungEpochs(int min_epochs, int max_epochs, int eta);

// Hyperband's brackets: s = 0 .. floor(log_eta(max / min)); bracket s starts
// at min_epochs * eta^s, so the last has no rung below max_epochs.
int HyperbandBrackets(int min_epochs, int max_epochs, int eta);

// The rung epochs that apply to trial `number` of a search with `spec`
// (ASHA: all of them; Hyperband: its bracket's, number mod brackets; median:
// none, it decides every epoch). REQUIRES: defaults applied.
std::vector<int> TrialRungEpochs(const nas::v1::SearchSpec& spec, int number);

}  // namespace nas::spec

#endif  // NAS_COMMON_SPEC_EARLY_STOPPING_H_
