// Fuzzes the bridge from nas.v1 space messages to search spaces
// (MakeSearchSpace) and the decoding of choice vectors
// (ValidateArchitecture, Render, CanonicalKey, Network) on NB201 and chain
// spaces. The input bytes pick the space and then the choices: mostly in
// range, sometimes one past either end, so both the rejection path and the
// decoders are exercised.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/fuzz/space_invariants.h"
#include "common/space/space.h"
#include "common/spec/space_from_proto.h"
#include "nas/v1/space.pb.h"

namespace {

using nas::fuzz::Require;

// An op name: usually a known one, sometimes an unknown or empty string.
std::string PickOp(FuzzedDataProvider& in,
                   const std::vector<std::string>& known) {
  const int pick = in.ConsumeIntegralInRange<int>(0, known.size() + 1);
  if (pick < static_cast<int>(known.size())) return known[pick];
  return pick == static_cast<int>(known.size())
             ? ""
             : in.ConsumeRandomLengthString(12);
}

// Small numbers mostly, occasionally anything (limits, 0, negatives).
int32_t PickNumber(FuzzedDataProvider& in, int32_t usual_max) {
  if (in.ConsumeIntegralInRange<int>(0, 15) == 0)
    return in.ConsumeIntegral<int32_t>();
  return in.ConsumeIntegralInRange<int32_t>(0, usual_max);
}

nas::v1::SearchSpace MakeSpaceProto(FuzzedDataProvider& in) {
  nas::v1::SearchSpace proto;
  const int kind = in.ConsumeIntegralInRange<int>(0, 9);
  if (kind == 0) return proto;  // unset: must be rejected
  if (kind <= 4) {
    auto* nb201 = proto.mutable_nb201();
    nb201->set_channels(PickNumber(in, 64));
    nb201->set_cells_per_stage(PickNumber(in, 6));
    nb201->set_stem_stride(PickNumber(in, 3));
    const int ops = in.ConsumeIntegralInRange<int>(0, 6);
    for (int i = 0; i < ops; ++i)
      nb201->add_ops(PickOp(in, nas::space::Nb201Ops()));
    return proto;
  }
  auto* chain = proto.mutable_chain();
  chain->set_stem_channels(PickNumber(in, 64));
  chain->set_stem_stride(PickNumber(in, 3));
  const int stages = in.ConsumeIntegralInRange<int>(0, 5);
  for (int s = 0; s < stages; ++s) {
    auto* stage = chain->add_stages();
    const int depths = in.ConsumeIntegralInRange<int>(0, 4);
    for (int i = 0; i < depths; ++i) stage->add_depths(PickNumber(in, 6));
    const int widths = in.ConsumeIntegralInRange<int>(0, 4);
    for (int i = 0; i < widths; ++i) stage->add_widths(PickNumber(in, 64));
    const int ops = in.ConsumeIntegralInRange<int>(0, 5);
    for (int i = 0; i < ops; ++i)
      stage->add_ops(PickOp(in, nas::space::ChainOps()));
    stage->set_stride(PickNumber(in, 3));
  }
  return proto;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const nas::v1::SearchSpace proto = MakeSpaceProto(in);

  nas::v1::SearchSpace filled = proto;
  nas::spec::ApplySearchSpaceDefaults(&filled);
  const bool valid = nas::spec::ValidateSearchSpace(filled).ok();
  auto space = nas::spec::MakeSearchSpace(proto);
  // The proto validator and the space factories must agree.
  Require(space.ok() == valid, "MakeSearchSpace succeeds iff validation does");
  if (!space.ok()) {
    Require(space.status().code() == absl::StatusCode::kInvalidArgument,
            "a bad space is INVALID_ARGUMENT");
    Require(space.status().message().substr(0, 5) == "space",
            "a bad space's message names the field");
    return 0;
  }
  const auto& decisions = (*space)->decisions();
  Require(!decisions.empty(), "a space has decisions");

  nas::v1::Architecture architecture;
  size_t count = decisions.size();
  if (in.ConsumeIntegralInRange<int>(0, 15) == 0) {
    count = in.ConsumeIntegralInRange<size_t>(0, decisions.size() + 1);
  }
  bool in_range = count == decisions.size();
  for (size_t i = 0; i < count; ++i) {
    const int options = i < decisions.size()
                            ? static_cast<int>(decisions[i].options.size())
                            : 1;
    const int choice = in.ConsumeIntegralInRange<int>(-1, options);
    in_range = in_range && choice >= 0 && choice < options;
    architecture.add_choices(choice);
  }
  const absl::Status checked =
      nas::spec::ValidateArchitecture(**space, architecture);
  Require(checked.ok() == in_range, "ValidateArchitecture matches the ranges");
  if (!checked.ok()) {
    Require(checked.code() == absl::StatusCode::kInvalidArgument,
            "a bad architecture is INVALID_ARGUMENT");
    return 0;
  }
  nas::fuzz::CheckArchitecture(**space,
                               std::vector<int>(architecture.choices().begin(),
                                                architecture.choices().end()));
  return 0;
}
