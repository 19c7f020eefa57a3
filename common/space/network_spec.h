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

// NAS-Bench-201 macro network: stem conv3x3 (3x3, `channels`) + BN, then
// three stages of `cells_per_stage` cells with channels C, 2C, 4C, separated
// by residual reduction blocks (stride 2: ReLU-conv3x3/2-BN, ReLU-conv3x3-BN,
// shortcut 2x2 average pooling + 1x1 conv), then BN-ReLU, global average
// pooling and a linear classifier. Cell ops: nor_conv_kxk = ReLU-conv-BN,
// avg_pool_3x3 (stride 1, padding not counted), skip_connect = identity,
// none = zero; a node with no non-zero input is zero.
struct CellNetwork {
  int channels = 16;
  int cells_per_stage = 5;
  // Edge ops in the order 0->1, 0->2, 1->2, 0->3, 1->3, 2->3. The NB201
  // space passes edges that cannot affect the output as "none"
  // (Nb201ReducedEdges in nb201_cell.h).
  std::array<std::string, 6> edge_ops;
  // 1 as in NAS-Bench-201; 2 halves every feature map (about 3x cheaper on
  // 28x28 inputs).
  int stem_stride = 1;
};

// One layer of a chain network, from the previous layer's channels:
//  * convKxK: conv KxK (stride) -> BN -> ReLU;
//  * ir_kK_eE: MobileNetV2 inverted residual: 1x1 conv to in*E, BN, ReLU6,
//    depthwise KxK (stride), BN, ReLU6, 1x1 conv to out, BN; plus the input
//    when stride is 1 and in == out;
//  * skip: the identity when stride is 1 and in == out, otherwise (e.g. the
//    first layer of a stage that changes width or strides) a 1x1 conv
//    (stride) -> BN projection.
// Convolutions have no bias and "same" padding (K / 2).
struct ChainLayer {
  std::string op;  // conv3x3, conv5x5, ir_kK_eE, skip
  int out_channels = 0;
  int stride = 1;
};

// Stem conv3x3 (`stem_stride`) -> BN -> ReLU -> layers in order -> 1x1
// conv-BN-ReLU to `head_channels` -> global average pooling -> linear
// classifier.
struct ChainNetwork {
  int stem_channels = 16;
  std::vector<ChainLayer> layers;
  int head_channels = 0;  // 0: no head conv
  // 2 by default: on 28x28 inputs a full-resolution stem made a typical
  // inverted-residual chain ~5x slower to train on a CPU for about half a
  // point of accuracy after 2 epochs (measurements in docs/data.md).
  int stem_stride = 2;
};

struct NetworkSpec {
  InputShape input;
  std::variant<CellNetwork, ChainNetwork> body;
};

}  // namespace nas::space

#endif  // NAS_COMMON_SPACE_NETWORK_SPEC_H_
