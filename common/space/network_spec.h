// What the trainer builds: a concrete network, decoupled from how a search
// space encodes it. Plain data, no dependencies.
#ifndef NAS_COMMON_SPACE_NETWORK_SPEC_H_
#define NAS_COMMON_SPACE_NETWORK_SPEC_H_

#include <array>
#include <string>
#include <variant>
#include <vector>

namespace nas::space {

struct InputShape {
  int channels = 1;
  int height = 28;
  int width = 28;
  int num_classes = 10;
};

// NAS-Bench-201 macro network: stem conv3x3 (3x3, `channels`), then three
// stages of `cells_per_stage` cells with channels C, 2C, 4C, separated by
// residual reduction blocks (stride 2), then BN-ReLU, global average pooling
// and a linear classifier.
struct CellNetwork {
  int channels = 16;
  int cells_per_stage = 5;
  // Edge ops in the order 0->1, 0->2, 1->2, 0->3, 1->3, 2->3.
  std::array<std::string, 6> edge_ops;
};

// One layer of a chain network.
struct ChainLayer {
  std::string op;  // conv3x3, conv5x5, ir_kK_eE, skip
  int out_channels = 0;
  int stride = 1;
};

// Stem conv3x3 (stride 1) -> layers in order -> 1x1 conv to `head_channels`
// -> global average pooling -> linear classifier.
struct ChainNetwork {
  int stem_channels = 16;
  std::vector<ChainLayer> layers;
  int head_channels = 0;  // 0: no head conv
};

struct NetworkSpec {
  InputShape input;
  std::variant<CellNetwork, ChainNetwork> body;
};

}  // namespace nas::space

#endif  // NAS_COMMON_SPACE_NETWORK_SPEC_H_
