// Search specs written as YAML (the format nasctl submits; documented key by
// key in docs/search_spec.md, examples in examples/*.yaml).
//
// The parser is strict: unknown keys, duplicate keys, wrong types, several
// YAML documents and values of the wrong shape are errors. After reading, it
// applies ApplySpecDefaults and ValidateSearchSpec (spec_validation.h), so a
// returned spec is complete and valid. Every error is INVALID_ARGUMENT whose
// message starts with the field's path, then the line in the text when the
// field is there, e.g.
//   budget.max_trials (line 12): expected an integer, got "ten"
//   space.chain.stages[0].widht (line 7): unknown key; expected one of ...
// YAML syntax errors carry the line and column instead of a path.
// Thread-safe: no shared state.
#ifndef NAS_COMMON_SPEC_SPEC_YAML_H_
#define NAS_COMMON_SPEC_SPEC_YAML_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nas/v1/search.pb.h"

namespace nas::spec {

// The largest spec accepted, as text or as a file: 1 MiB, far above any real
// spec, low enough that a wrong path (a data set, a log) fails at once.
inline constexpr size_t kMaxSpecBytes = size_t{1} << 20;

// Parses, fills defaults and validates. Text over kMaxSpecBytes is refused.
absl::StatusOr<nas::v1::SearchSpec> ParseSearchSpecYaml(std::string_view text);

// Reads the file at `path` and parses it as ParseSearchSpecYaml does. A file
// over kMaxSpecBytes is refused (INVALID_ARGUMENT) without being read whole,
// even when its size cannot be known in advance (a pipe). NOT_FOUND when it
// does not exist, PERMISSION_DENIED when it cannot be opened, otherwise
// FAILED_PRECONDITION for what is not a readable file (a directory).
// Every message starts with `path`: "spec.yaml: budget.max_trials (line 12):
// ...".
absl::StatusOr<nas::v1::SearchSpec> ParseSearchSpecFile(
    const std::string& path);

}  // namespace nas::spec

#endif  // NAS_COMMON_SPEC_SPEC_YAML_H_
