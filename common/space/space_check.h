// Validation helpers shared by the search-space implementations (internal to
// nas_space). Each returns an empty string when the value is fine, otherwise
// a message that starts with the field's path, e.g.
// `stages[1].ops[2]: unknown op "conv9x9"`.
#ifndef NAS_COMMON_SPACE_SPACE_CHECK_H_
#define NAS_COMMON_SPACE_SPACE_CHECK_H_

#include <string>
#include <vector>

#include "common/space/space.h"

namespace nas::space::internal {

// Upper bounds that catch absurd configs (typos, unit mix-ups) early.
inline constexpr int kMaxChannels = 4096;
inline constexpr int kMaxDepth = 64;
inline constexpr int kMaxCellsPerStage = 64;
inline constexpr int kMaxStages = 64;

// `field` in [min, max].
std::string CheckRange(const std::string& field, int value, int min, int max);

// A non-empty list of distinct ops, each in `known`.
std::string CheckOps(const std::string& field,
                     const std::vector<std::string>& ops,
                     const std::vector<std::string>& known);

// A non-empty list of distinct ints, each in [min, max].
std::string CheckIntOptions(const std::string& field,
                            const std::vector<int>& values, int min, int max);

// One in-range option index per decision.
std::string CheckChoices(const std::vector<Decision>& decisions,
                         const std::vector<int>& choices);

}  // namespace nas::space::internal

#endif  // NAS_COMMON_SPACE_SPACE_CHECK_H_
