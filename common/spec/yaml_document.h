// Loading the one YAML document of a spec (internal to nas_spec; only
// spec_yaml.cc uses it).
#ifndef NAS_COMMON_SPEC_YAML_DOCUMENT_H_
#define NAS_COMMON_SPEC_YAML_DOCUMENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "yaml-cpp/yaml.h"

namespace nas::spec::internal {

// The single document in `text` (a null node when there is none), or
// INVALID_ARGUMENT for a syntax error ("YAML syntax error at line L,
// column C: ..."), nesting deeper than yaml-cpp allows, or more than one
// document ("the text holds N YAML documents ...").
//
// Why not YAML::LoadAll: in yaml-cpp 0.7 it never returns on some malformed
// texts (a lone ",", found by bench/fuzz/spec_yaml_fuzzer): the parser
// reports the same empty document at the same place forever and LoadAll
// collects them until memory runs out. This counts documents with a
// handler that refuses a document that does not start past the previous
// one, so it always ends, then loads the first document with YAML::Load.
absl::StatusOr<YAML::Node> LoadSingleDocument(const std::string& text);

}  // namespace nas::spec::internal

#endif  // NAS_COMMON_SPEC_YAML_DOCUMENT_H_
