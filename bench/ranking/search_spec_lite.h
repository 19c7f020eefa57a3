// The parts of a search spec file (docs/search_spec.md) that the ranking
// bench needs: a chain space, the data set and the training budget. A small
// reader for the YAML subset the examples use (block maps, "- " lists, flow
// maps and sequences on one line, "#" comments), so the bench builds with
// Torch alone (no yaml-cpp).
#ifndef NAS_BENCH_RANKING_SEARCH_SPEC_LITE_H_
#define NAS_BENCH_RANKING_SEARCH_SPEC_LITE_H_

#include <cstdint>
#include <string>

#include "common/space/space.h"

namespace nas::bench {

struct SpecLite {
  std::string name;
  uint64_t seed = 0;
  std::string dataset = "fashion_mnist";
  double validation_fraction = 0.1;
  space::ChainConfig chain;
  int epochs = 2;
  double data_fraction = 1.0;
  int batch_size = 128;
  double learning_rate = 0.1;
};

// Reads `path`. Returns false and sets *error (naming the line or key) when
// the file cannot be read, has no `space.chain` or a value does not parse.
// Keys the bench does not use are ignored.
bool ReadSpecLite(const std::string& path, SpecLite* spec, std::string* error);

}  // namespace nas::bench

#endif  // NAS_BENCH_RANKING_SEARCH_SPEC_LITE_H_
