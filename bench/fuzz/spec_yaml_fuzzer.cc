// Fuzzes the YAML search-spec parser (ParseSearchSpecYaml: YAML -> proto ->
// defaults -> validation) and what the controller does next with a spec it
// accepts: MakeSearchSpace and the decoding of the first and last
// architecture of that space. Contracts checked beyond "no crash":
//  * a rejected spec is INVALID_ARGUMENT with a message;
//  * an accepted spec is a fixed point of the defaults, passes validation
//    again (as it must when the controller re-validates it), and builds.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "bench/fuzz/space_invariants.h"
#include "common/spec/space_from_proto.h"
#include "common/spec/spec_validation.h"
#include "common/spec/spec_yaml.h"
#include "google/protobuf/util/message_differencer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nas::fuzz::Require;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<nas::v1::SearchSpec> spec =
      nas::spec::ParseSearchSpecYaml(text);
  if (!spec.ok()) {
    Require(spec.status().code() == absl::StatusCode::kInvalidArgument,
            "a rejected spec is INVALID_ARGUMENT");
    Require(!spec.status().message().empty(), "a rejected spec has a message");
    return 0;
  }
  // The controller receives the proto, applies the defaults and validates
  // again, without knowing which fields the YAML wrote explicitly.
  nas::v1::SearchSpec again = *spec;
  nas::spec::ApplySpecDefaults(&again);
  Require(google::protobuf::util::MessageDifferencer::Equals(again, *spec),
          "an accepted spec is a fixed point of the defaults");
  Require(nas::spec::ValidateSearchSpec(again).ok(),
          "an accepted spec validates again");

  auto space = nas::spec::MakeSearchSpace(spec->space());
  Require(space.ok(), "an accepted spec's space builds");
  const auto& decisions = (*space)->decisions();
  std::vector<int> first(decisions.size(), 0);
  std::vector<int> last;
  for (const auto& decision : decisions) {
    last.push_back(static_cast<int>(decision.options.size()) - 1);
  }
  nas::fuzz::CheckArchitecture(**space, first);
  nas::fuzz::CheckArchitecture(**space, last);
  return 0;
}
