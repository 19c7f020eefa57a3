// Defaults and validation of a SearchSpec, on the proto alone: the controller
// runs both on every CreateSearch, whatever language the client is written
// in, and the YAML parser (spec_yaml.h) runs the same code so that a spec
// gets the same answer by either route.
//
// Errors are INVALID_ARGUMENT with a message of the form "<path>: <reason>",
// the path in the style "space.chain.stages[1].ops[2]" or
// "budget.max_trials"; only the first problem found is reported. The
// accepted keys, defaults and limits are documented in docs/search_spec.md.
// Thread-safe: pure functions of their arguments.
#ifndef NAS_COMMON_SPEC_SPEC_VALIDATION_H_
#define NAS_COMMON_SPEC_SPEC_VALIDATION_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/spec/space_from_proto.h"
#include "nas/v1/search.pb.h"

namespace nas::spec {

inline constexpr int kMaxNameChars = 200;
inline constexpr int kMaxObjectives = 4;
inline constexpr int kMaxConstraints = 8;
inline constexpr int kMaxTrials = 100000;
inline constexpr int kMaxParallelism = 1024;
inline constexpr int kMaxAttempts = 100;
inline constexpr int kMaxEpochs = 1000;
inline constexpr int kMaxBatchSize = 65536;
inline constexpr double kMaxValidationFraction = 0.5;
inline constexpr double kMaxLearningRate = 10.0;
inline constexpr int kMaxSupernetRounds = 1000;
inline constexpr int kMaxShardsPerRound = 1024;
inline constexpr int kMaxStepsPerShard = 1000000;
inline constexpr int kMaxRecalibrationBatches = 10000;
inline constexpr int kMaxZeroCostBatch = 1024;

// The proxies estimation.zero_cost.score may name.
const std::vector<absl::string_view>& ZeroCostScores();

// Fills the fields that have defaults and are unset (zero or empty in
// proto3): dataset.validation_fraction 0.1, the space defaults
// (ApplySearchSpaceDefaults), budget.parallelism 1, budget.max_attempts 3,
// training.batch_size 128, training.data_fraction 1.0,
// training.learning_rate 0.05, and for weight sharing the defaults its
// messages document (search.proto). Required fields (dataset.name, space,
// strategy, objectives, budget.max_trials, training.epochs) are left as they
// are. Idempotent. Fields whose paths are in `explicitly_set` keep their
// value even when it is zero, so that validation reports them.
void ApplySpecDefaults(nas::v1::SearchSpec* spec);
void ApplySpecDefaults(nas::v1::SearchSpec* spec,
                       const FieldPathSet& explicitly_set);

// OK, or INVALID_ARGUMENT naming the first offending field. REQUIRES:
// ApplySpecDefaults was applied, otherwise unset defaulted fields are
// reported as out of range. A spec that passes also builds with
// MakeSearchSpace(spec.space()). Of the strategy it checks only that one is
// chosen: the ranges of a strategy's options belong to its factory
// (controller/strategy). Every floating-point field, strategy options
// included, must be finite. `explicitly_set` (see FieldPathSet) only
// changes the wording for required numbers written as 0 ("got 0" instead of
// "required").
absl::Status ValidateSearchSpec(const nas::v1::SearchSpec& spec);
absl::Status ValidateSearchSpec(const nas::v1::SearchSpec& spec,
                                const FieldPathSet& explicitly_set);

}  // namespace nas::spec

#endif  // NAS_COMMON_SPEC_SPEC_VALIDATION_H_
