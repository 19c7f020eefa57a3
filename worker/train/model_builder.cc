#include "worker/train/model_builder.h"

#include <cstdlib>
#include <stdexcept>
#include <utility>
#include <variant>

#include "common/space/nb201_cell.h"
#include "worker/train/op_names.h"

namespace nas::train {
namespace {

namespace nn = torch::nn;

nn::Conv2d MakeConv(int in, int out, int kernel, int stride, int groups = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel)
                        .stride(stride)
                        .padding(kernel / 2)
                        .groups(groups)
                        .bias(false));
}

void CheckPositive(const char* what, int value) {
  if (value < 1) {
    throw std::invalid_argument(std::string(what) +
                                " must be at least 1, got " +
                                std::to_string(value));
  }
}

void CheckStride(int stride) {
  if (stride != 1 && stride != 2) {
    throw std::invalid_argument("stride must be 1 or 2, got " +
                                std::to_string(stride));
  }
}

}  // namespace

ReluConvBnImpl::ReluConvBnImpl(int in, int out, int kernel, int stride)
    : conv_(register_module("conv", MakeConv(in, out, kernel, stride))),
      bn_(register_module("bn", nn::BatchNorm2d(out))) {}

torch::Tensor ReluConvBnImpl::forward(const torch::Tensor& x) {
  return bn_(conv_(torch::relu(x)));
}

ResidualReductionImpl::ResidualReductionImpl(int in, int out)
    : conv_a_(register_module("conv_a", ReluConvBn(in, out, 3, 2))),
      conv_b_(register_module("conv_b", ReluConvBn(out, out, 3, 1))),
      pool_(register_module(
          "pool",
          nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(2).ceil_mode(true)))),
      shortcut_(register_module("shortcut", MakeConv(in, out, 1, 1))) {}

torch::Tensor ResidualReductionImpl::forward(const torch::Tensor& x) {
  return conv_b_(conv_a_(x)) + shortcut_(pool_(x));
}

CellImpl::CellImpl(int channels, const std::array<std::string, 6>& edge_ops) {
  for (size_t e = 0; e < edge_ops.size(); ++e) {
    const std::string& op = edge_ops[e];
    nn::AnyModule edge;
    if (op == "none") continue;
    if (op == "skip_connect") {
      edge = nn::AnyModule(nn::Identity());
    } else if (op == "nor_conv_1x1") {
      edge = nn::AnyModule(ReluConvBn(channels, channels, 1, 1));
    } else if (op == "nor_conv_3x3") {
      edge = nn::AnyModule(ReluConvBn(channels, channels, 3, 1));
    } else if (op == "avg_pool_3x3") {
      edge = nn::AnyModule(nn::AvgPool2d(
          nn::AvgPool2dOptions(3).stride(1).padding(1).count_include_pad(
              false)));
    } else {
      throw std::invalid_argument("unknown NAS-Bench-201 op \"" + op + "\"");
    }
    register_module("edge" + std::to_string(space::kNb201EdgeTo[e]) + "_" +
                        std::to_string(space::kNb201EdgeFrom[e]),
                    edge.ptr());
    edges_[e] = std::move(edge);
  }
}

torch::Tensor CellImpl::forward(const torch::Tensor& x) {
  std::array<torch::Tensor, 4> nodes;  // undefined = zero
  nodes[0] = x;
  for (size_t e = 0; e < edges_.size(); ++e) {
    const torch::Tensor& source = nodes[space::kNb201EdgeFrom[e]];
    if (edges_[e].is_empty() || !source.defined()) continue;
    torch::Tensor out = edges_[e].forward(source);
    torch::Tensor& target = nodes[space::kNb201EdgeTo[e]];
    target = target.defined() ? target + out : out;
  }
  return nodes[3].defined() ? nodes[3] : torch::zeros_like(x);
}

ConvBnReluImpl::ConvBnReluImpl(int in, int out, int kernel, int stride)
    : conv_(register_module("conv", MakeConv(in, out, kernel, stride))),
      bn_(register_module("bn", nn::BatchNorm2d(out))) {}

torch::Tensor ConvBnReluImpl::forward(const torch::Tensor& x) {
  return torch::relu(bn_(conv_(x)));
}

InvertedResidualImpl::InvertedResidualImpl(int in, int out, int kernel,
                                           int expansion, int stride)
    : residual_(stride == 1 && in == out) {
  const int hidden = in * expansion;
  body_ = register_module(
      "body", nn::Sequential(
                  MakeConv(in, hidden, 1, 1), nn::BatchNorm2d(hidden),
                  nn::ReLU6(), MakeConv(hidden, hidden, kernel, stride, hidden),
                  nn::BatchNorm2d(hidden), nn::ReLU6(),
                  MakeConv(hidden, out, 1, 1), nn::BatchNorm2d(out)));
}

torch::Tensor InvertedResidualImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = body_->forward(x);
  return residual_ ? y + x : y;
}

SkipImpl::SkipImpl(int in, int out, int stride) {
  if (stride != 1 || in != out) {
    conv_ = register_module("conv", MakeConv(in, out, 1, stride));
    bn_ = register_module("bn", nn::BatchNorm2d(out));
  }
}

torch::Tensor SkipImpl::forward(const torch::Tensor& x) {
  return conv_ ? bn_(conv_(x)) : x;
}

NetworkImpl::NetworkImpl(nn::Sequential body, int features, int num_classes)
    : body_(register_module("body", std::move(body))),
      classifier_(
          register_module("classifier", nn::Linear(features, num_classes))) {}

torch::Tensor NetworkImpl::forward(const torch::Tensor& x) {
  // Global average pooling.
  return classifier_(body_->forward(x).mean({2, 3}));
}

nn::AnyModule MakeChainLayer(const std::string& op, int in, int out,
                             int stride) {
  const ChainOp parsed = ParseChainOp(op);
  switch (parsed.kind) {
    case ChainOp::kConv:
      return nn::AnyModule(ConvBnRelu(in, out, parsed.kernel, stride));
    case ChainOp::kInvertedResidual:
      return nn::AnyModule(
          InvertedResidual(in, out, parsed.kernel, parsed.expansion, stride));
    case ChainOp::kSkip:
      return nn::AnyModule(Skip(in, out, stride));
    case ChainOp::kUnknown:
      break;
  }
  throw std::invalid_argument("unknown chain op \"" + op + "\"");
}

namespace {

Network BuildCellNetwork(const space::InputShape& input,
                         const space::CellNetwork& net) {
  CheckPositive("channels", net.channels);
  CheckPositive("cells_per_stage", net.cells_per_stage);
  nn::Sequential body;
  CheckStride(net.stem_stride);
  body->push_back("stem",
                  MakeConv(input.channels, net.channels, 3, net.stem_stride));
  body->push_back("stem_bn", nn::BatchNorm2d(net.channels));
  int channels = net.channels;
  for (int stage = 0; stage < 3; ++stage) {
    if (stage > 0) {
      body->push_back("reduce" + std::to_string(stage),
                      ResidualReduction(channels, channels * 2));
      channels *= 2;
    }
    for (int c = 0; c < net.cells_per_stage; ++c) {
      body->push_back("cell" + std::to_string(stage) + "_" + std::to_string(c),
                      Cell(channels, net.edge_ops));
    }
  }
  body->push_back("last_bn", nn::BatchNorm2d(channels));
  body->push_back("last_relu", nn::ReLU());
  return Network(std::move(body), channels, input.num_classes);
}

Network BuildChainNetwork(const space::InputShape& input,
                          const space::ChainNetwork& net) {
  CheckPositive("stem_channels", net.stem_channels);
  nn::Sequential body;
  CheckStride(net.stem_stride);
  body->push_back("stem", ConvBnRelu(input.channels, net.stem_channels, 3,
                                     net.stem_stride));
  int channels = net.stem_channels;
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const space::ChainLayer& layer = net.layers[i];
    CheckPositive("out_channels", layer.out_channels);
    CheckStride(layer.stride);
    body->push_back(
        "layer" + std::to_string(i + 1),
        MakeChainLayer(layer.op, channels, layer.out_channels, layer.stride));
    channels = layer.out_channels;
  }
  if (net.head_channels > 0) {
    body->push_back("head", ConvBnRelu(channels, net.head_channels, 1, 1));
    channels = net.head_channels;
  }
  return Network(std::move(body), channels, input.num_classes);
}

}  // namespace

Network BuildNetwork(const space::NetworkSpec& spec) {
  CheckPositive("input channels", spec.input.channels);
  CheckPositive("input height", spec.input.height);
  CheckPositive("input width", spec.input.width);
  CheckPositive("num_classes", spec.input.num_classes);
  if (const auto* cell = std::get_if<space::CellNetwork>(&spec.body)) {
    return BuildCellNetwork(spec.input, *cell);
  }
  return BuildChainNetwork(spec.input,
                           std::get<space::ChainNetwork>(spec.body));
}

}  // namespace nas::train
