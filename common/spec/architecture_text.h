// Architectures given by people (nasctl enqueue, EnqueueTrials): the
// canonical text of a space, or raw choices, checked against that space.
//
// Errors are INVALID_ARGUMENT with a message that says what to fix (which
// edge or decision, and the options it has). Thread-safe: pure functions.
#ifndef NAS_COMMON_SPEC_ARCHITECTURE_TEXT_H_
#define NAS_COMMON_SPEC_ARCHITECTURE_TEXT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/space/space.h"
#include "nas/v1/space.pb.h"

namespace nas::spec {

// Parses the canonical text of `space` (what SearchSpace::Render writes):
// - the NAS-Bench-201 string for the cell space, each op one of the
//   search's ops;
// - "name=option" pairs separated by spaces or commas for other spaces. A
//   decision that the text's architecture does not use (a layer beyond its
//   stage's depth) may be left out and gets option 0; one it uses may not.
// Returns the choices, which SearchSpace::Validate accepts.
absl::StatusOr<std::vector<int>> ParseArchitectureText(
    const space::SearchSpace& space, absl::string_view text);

// The choices of `architecture` in `space`: its choices when given (checked
// with Validate), otherwise its text parsed as above. When both are given
// they must name the same architecture (equal Render).
absl::StatusOr<std::vector<int>> ArchitectureChoices(
    const space::SearchSpace& space, const nas::v1::Architecture& architecture);

}  // namespace nas::spec

#endif  // NAS_COMMON_SPEC_ARCHITECTURE_TEXT_H_
