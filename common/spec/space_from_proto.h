// The bridge between the nas.v1 search-space messages and the plain C++
// search spaces of common/space: defaults, validation and construction.
//
// Errors are INVALID_ARGUMENT whose message starts with the field's path as
// seen from a SearchSpec, e.g.
//   space.chain.stages[1].ops[2]: unknown op "conv9x9"; expected one of ...
// Thread-safe: these are pure functions of their arguments.
#ifndef NAS_COMMON_SPEC_SPACE_FROM_PROTO_H_
#define NAS_COMMON_SPEC_SPACE_FROM_PROTO_H_

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/space/space.h"
#include "nas/v1/space.pb.h"

namespace nas::spec {

// Paths of fields ("budget.parallelism", "space.chain.stages[0].stride") that
// a parser saw written explicitly. Proto3 cannot tell "unset" from 0 or an
// empty list, so defaults fill every zero; a parser that knows a zero was
// written on purpose passes its path so that it is reported, not replaced.
using FieldPathSet = std::set<std::string, std::less<>>;

// Limits of a search space, shared with the documentation
// (docs/search_spec.md).
inline constexpr int kMaxChannels =
    1024;  // nb201.channels, chain.stem_channels
inline constexpr int kMaxCellsPerStage = 32;  // nb201.cells_per_stage
inline constexpr int kMaxStages = 16;         // chain.stages
inline constexpr int kMaxDepth = 32;          // chain.stages[i].depths[j]
inline constexpr int kMaxWidth = 4096;        // chain.stages[i].widths[j]

// Fills unset fields of the space that has a default: nb201 channels (16),
// cells_per_stage (5) and ops (all five); chain stem_channels (16) and each
// stage's stride (1). Leaves fields in `explicitly_set` alone. Idempotent.
void ApplySearchSpaceDefaults(nas::v1::SearchSpace* proto,
                              const FieldPathSet& explicitly_set = {});

// Checks a space after ApplySearchSpaceDefaults against the limits above:
// exactly one kind set, ops known and without duplicates, numbers in range.
// OK or INVALID_ARGUMENT with a "space." path.
absl::Status ValidateSearchSpace(const nas::v1::SearchSpace& proto);

// The plain config of a space message: what MakeSearchSpace builds from,
// and what a supernet is laid out by (worker/train/supernet.h).
using SpaceConfig =
    std::variant<nas::space::Nb201Config, nas::space::ChainConfig>;

// Applies the defaults to a copy of `proto`, validates it and converts it.
// Errors as ValidateSearchSpace.
absl::StatusOr<SpaceConfig> SearchSpaceConfig(
    const nas::v1::SearchSpace& proto);

// Applies the defaults to a copy of `proto`, validates it and builds the
// space with nas::space::MakeNb201Space / MakeChainSpace. Errors from the
// factories get the prefix "space.nb201." or "space.chain.". The caller owns
// the result.
absl::StatusOr<std::unique_ptr<nas::space::SearchSpace>> MakeSearchSpace(
    const nas::v1::SearchSpace& proto);

// OK when `architecture.choices` is a valid point of `search_space`,
// otherwise INVALID_ARGUMENT starting with "architecture.choices". The text
// field is output only and is not checked.
absl::Status ValidateArchitecture(const nas::space::SearchSpace& search_space,
                                  const nas::v1::Architecture& architecture);

}  // namespace nas::spec

#endif  // NAS_COMMON_SPEC_SPACE_FROM_PROTO_H_
