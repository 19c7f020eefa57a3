// Search spaces in plain C++ (no protobuf, no abseil): this library is shared
// by the controller, which proposes architectures, and by the worker's Torch
// training code, which must also build on its own against any LibTorch.
//
// An architecture is encoded generically as one option index per decision
// point. Strategies only ever see that encoding (see Decision), so they work
// on every space; the space turns choices into a text form, a canonical key
// (equal keys <=> same computation) and a NetworkSpec the trainer builds.
#ifndef NAS_COMMON_SPACE_SPACE_H_
#define NAS_COMMON_SPACE_SPACE_H_

#include <memory>
#include <string>
#include <vector>

#include "common/space/network_spec.h"

namespace nas::space {

// One decision point: a name (e.g. "edge_1<-0", "stage2.depth") and its options.
struct Decision {
  std::string name;
  std::vector<std::string> options;
};

// The NAS-Bench-201 ops, in the benchmark's order.
const std::vector<std::string>& Nb201Ops();
// The chain space's block types: conv3x3, conv5x5, ir_k{3,5,7}_e{3,6}, skip.
const std::vector<std::string>& ChainOps();

struct Nb201Config {
  int channels = 16;
  int cells_per_stage = 5;
  std::vector<std::string> ops;  // a non-empty subset of Nb201Ops()
  int stem_stride = 1;  // 1 (as in NAS-Bench-201) or 2; see CellNetwork
};

struct ChainStageConfig {
  std::vector<int> depths;  // each >= 1
  std::vector<int> widths;  // each >= 1
  std::vector<std::string> ops;  // a non-empty subset of ChainOps()
  int stride = 1;               // 1 or 2
};

struct ChainConfig {
  int stem_channels = 16;
  std::vector<ChainStageConfig> stages;  // at least one
  int stem_stride = 2;                   // 1 or 2; see ChainNetwork
};

class SearchSpace {
 public:
  virtual ~SearchSpace() = default;

  // Ordered decision points; an architecture has one choice per entry.
  virtual const std::vector<Decision>& decisions() const = 0;

  // Empty when `choices` is a valid architecture of this space, otherwise a
  // message naming what is wrong (count, or which decision is out of range).
  virtual std::string Validate(const std::vector<int>& choices) const = 0;

  // REQUIRES: Validate(choices) is empty, for the three methods below.
  // The canonical text: the NAS-Bench-201 string for the cell space.
  virtual std::string Render(const std::vector<int>& choices) const = 0;
  // Equal for two architectures iff they compute the same function up to
  // weights (e.g. NB201 edges that feed a dead node, inactive chain layers).
  virtual std::string CanonicalKey(const std::vector<int>& choices) const = 0;
  // What the trainer builds, for inputs of the given shape.
  virtual NetworkSpec Network(const std::vector<int>& choices,
                              const InputShape& input) const = 0;
};

// Factories. On a bad config they return nullptr and set *error to a message
// that names the field (e.g. "ops[2]: unknown op \"conv9x9\"").
std::unique_ptr<SearchSpace> MakeNb201Space(const Nb201Config& config,
                                            std::string* error);
std::unique_ptr<SearchSpace> MakeChainSpace(const ChainConfig& config,
                                            std::string* error);

// Parses a NAS-Bench-201 string ("|op~0|+|op~0|op~1|+|op~0|op~1|op~2|") into
// the six edge ops in the order 0->1, 0->2, 1->2, 0->3, 1->3, 2->3. Returns
// false and sets *error on a malformed string.
bool ParseNb201String(const std::string& text, std::vector<std::string>* ops,
                      std::string* error);

}  // namespace nas::space

#endif  // NAS_COMMON_SPACE_SPACE_H_
