// Invariants every search space must keep, checked by the fuzz targets with
// __builtin_trap() so that a violated contract is reported like a crash:
// libFuzzer saves the input and the run fails.
#ifndef NAS_BENCH_FUZZ_SPACE_INVARIANTS_H_
#define NAS_BENCH_FUZZ_SPACE_INVARIANTS_H_

#include <vector>

#include "common/space/space.h"

namespace nas::fuzz {

// Traps unless `condition`; `what` names the invariant in the crash report.
void Require(bool condition, const char* what);

// REQUIRES: space.Validate(choices) is empty. Checks that
//  * Render, CanonicalKey and Network are deterministic;
//  * decoding the rendered text gives back every choice it names, and the
//    choices it leaves out are inactive (changing them changes neither the
//    text, the key nor the network);
//  * the key is the key of the network that is built: for NB201 the key of
//    the reduced cell, which is a fixed point of the reduction; for the
//    chain space one entry per layer that is not an identity skip.
void CheckArchitecture(const nas::space::SearchSpace& space,
                       const std::vector<int>& choices);

}  // namespace nas::fuzz

#endif  // NAS_BENCH_FUZZ_SPACE_INVARIANTS_H_
