// Analytic parameter and multiply-accumulate counts of the networks that
// model_builder.cc builds. No Torch: the tests check these numbers against
// the built modules, so any change to one side must be mirrored here.
#include <cstdint>
#include <variant>

#include "common/space/nb201_cell.h"
#include "worker/train/op_names.h"
#include "worker/train/trainer.h"

namespace nas::train {

namespace {

struct Counts {
  int64_t params = 0;
  int64_t macs = 0;
};

// A bias-free convolution producing an out_h x out_w map.
void AddConv(Counts* c, int64_t in, int64_t out, int64_t kernel, int64_t out_h,
             int64_t out_w, int64_t groups = 1) {
  const int64_t weights = kernel * kernel * (in / groups) * out;
  c->params += weights;
  c->macs += weights * out_h * out_w;
}

void AddBatchNorm(Counts* c, int64_t channels) { c->params += 2 * channels; }

void AddClassifier(Counts* c, int64_t features, int64_t classes) {
  c->params += features * classes + classes;
  c->macs += features * classes;
}

bool CountCell(const space::InputShape& input, const space::CellNetwork& net,
               Counts* c) {
  int h = StridedSize(input.height, net.stem_stride);
  int w = StridedSize(input.width, net.stem_stride);
  int64_t channels = net.channels;
  AddConv(c, input.channels, channels, 3, h, w);
  AddBatchNorm(c, channels);
  for (int stage = 0; stage < 3; ++stage) {
    if (stage > 0) {
      h = StridedSize(h, 2);
      w = StridedSize(w, 2);
      AddConv(c, channels, 2 * channels, 3, h, w);  // conv_a, stride 2
      AddBatchNorm(c, 2 * channels);
      AddConv(c, 2 * channels, 2 * channels, 3, h, w);  // conv_b
      AddBatchNorm(c, 2 * channels);
      AddConv(c, channels, 2 * channels, 1, h, w);  // shortcut after pooling
      channels *= 2;
    }
    for (int cell = 0; cell < net.cells_per_stage; ++cell) {
      // Mirrors CellImpl::forward: an edge out of a zero node still has
      // weights but is never run.
      std::array<bool, 4> nonzero = {true, false, false, false};
      for (size_t e = 0; e < net.edge_ops.size(); ++e) {
        const std::string& op = net.edge_ops[e];
        const bool runs = op != "none" && nonzero[space::kNb201EdgeFrom[e]];
        if (runs) nonzero[space::kNb201EdgeTo[e]] = true;
        int kernel = 0;
        if (op == "nor_conv_1x1") {
          kernel = 1;
        } else if (op == "nor_conv_3x3") {
          kernel = 3;
        } else if (op != "none" && op != "skip_connect" &&
                   op != "avg_pool_3x3") {
          return false;
        }
        if (kernel == 0) continue;
        Counts edge;
        AddConv(&edge, channels, channels, kernel, h, w);
        AddBatchNorm(&edge, channels);
        c->params += edge.params;
        if (runs) c->macs += edge.macs;
      }
    }
  }
  AddBatchNorm(c, channels);
  AddClassifier(c, channels, input.num_classes);
  return true;
}

bool CountChain(const space::InputShape& input, const space::ChainNetwork& net,
                Counts* c) {
  int h = StridedSize(input.height, net.stem_stride);
  int w = StridedSize(input.width, net.stem_stride);
  int64_t channels = net.stem_channels;
  AddConv(c, input.channels, channels, 3, h, w);
  AddBatchNorm(c, channels);
  for (const space::ChainLayer& layer : net.layers) {
    const ChainOp op = ParseChainOp(layer.op);
    const int64_t out = layer.out_channels;
    const int out_h = StridedSize(h, layer.stride);
    const int out_w = StridedSize(w, layer.stride);
    switch (op.kind) {
      case ChainOp::kConv:
        AddConv(c, channels, out, op.kernel, out_h, out_w);
        AddBatchNorm(c, out);
        break;
      case ChainOp::kInvertedResidual: {
        const int64_t hidden = channels * op.expansion;
        AddConv(c, channels, hidden, 1, h, w);
        AddBatchNorm(c, hidden);
        AddConv(c, hidden, hidden, op.kernel, out_h, out_w, hidden);
        AddBatchNorm(c, hidden);
        AddConv(c, hidden, out, 1, out_h, out_w);
        AddBatchNorm(c, out);
        break;
      }
      case ChainOp::kSkip:
        if (layer.stride != 1 || channels != out) {
          AddConv(c, channels, out, 1, out_h, out_w);
          AddBatchNorm(c, out);
        }
        break;
      case ChainOp::kUnknown:
        return false;
    }
    channels = out;
    h = out_h;
    w = out_w;
  }
  if (net.head_channels > 0) {
    AddConv(c, channels, net.head_channels, 1, h, w);
    AddBatchNorm(c, net.head_channels);
    channels = net.head_channels;
  }
  AddClassifier(c, channels, input.num_classes);
  return true;
}

bool Count(const space::NetworkSpec& spec, Counts* counts) {
  if (const auto* cell = std::get_if<space::CellNetwork>(&spec.body)) {
    return CountCell(spec.input, *cell, counts);
  }
  return CountChain(spec.input, std::get<space::ChainNetwork>(spec.body),
                    counts);
}

}  // namespace

int64_t CountParameters(const space::NetworkSpec& spec) {
  Counts counts;
  return Count(spec, &counts) ? counts.params : -1;
}

int64_t CountFlops(const space::NetworkSpec& spec) {
  Counts counts;
  return Count(spec, &counts) ? counts.macs : -1;
}

}  // namespace nas::train
