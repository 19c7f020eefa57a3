// Fuzzes the NAS-Bench-201 string decoder (ParseNb201String), which reads
// the benchmark table and user-supplied architecture strings. A string that
// parses must render back to itself exactly (the format has one spelling)
// and decode into an architecture that keeps every space invariant.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/fuzz/space_invariants.h"
#include "common/space/space.h"

namespace {

const nas::space::SearchSpace& FullNb201Space() {
  static const nas::space::SearchSpace* const space = [] {
    nas::space::Nb201Config config;
    config.ops = nas::space::Nb201Ops();
    return nas::space::MakeNb201Space(config, nullptr).release();
  }();
  return *space;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nas::fuzz::Require;
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> ops;
  std::string error;
  if (!nas::space::ParseNb201String(text, &ops, &error)) {
    Require(error.rfind("bad NAS-Bench-201 string: ", 0) == 0,
            "a rejected string gets a message");
    Require(ops.empty(), "a rejected string leaves the output alone");
    return 0;
  }
  Require(ops.size() == 6, "a parsed string has six edges");
  const nas::space::SearchSpace& space = FullNb201Space();
  std::vector<int> choices;
  for (const std::string& op : ops) {
    const auto& all = nas::space::Nb201Ops();
    int index = 0;
    while (index < static_cast<int>(all.size()) && all[index] != op) ++index;
    Require(index < static_cast<int>(all.size()), "a parsed op is known");
    choices.push_back(index);
  }
  Require(space.Validate(choices).empty(), "parsed choices are valid");
  Require(space.Render(choices) == text, "render(parse(text)) == text");
  nas::fuzz::CheckArchitecture(space, choices);
  return 0;
}
