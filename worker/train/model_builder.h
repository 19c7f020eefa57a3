// Internal to worker/train (includes Torch): turns a NetworkSpec into Torch
// modules. Only worker/train's .cc files and tests include this header.
//
// Each op is a module (XxxImpl + TORCH_MODULE). Every one maps a float
// tensor [N, C, H, W] to [N, C', H', W'], with H' = (H - 1) / stride + 1.
#ifndef NAS_WORKER_TRAIN_MODEL_BUILDER_H_
#define NAS_WORKER_TRAIN_MODEL_BUILDER_H_

#include <torch/torch.h>

#include <array>
#include <string>

#include "common/space/network_spec.h"

namespace nas::train {

// NAS-Bench-201 nor_conv_kxk: ReLU -> Conv(k x k, no bias) -> BatchNorm.
class ReluConvBnImpl : public torch::nn::Module {
 public:
  ReluConvBnImpl(int in, int out, int kernel, int stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(ReluConvBn);

// NAS-Bench-201 reduction: a ResNet basic block with stride 2,
// ReluConvBn(3x3, /2) -> ReluConvBn(3x3) plus a shortcut of 2x2 average
// pooling (ceil mode, so odd sizes line up) and a 1x1 conv.
class ResidualReductionImpl : public torch::nn::Module {
 public:
  ResidualReductionImpl(int in, int out);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ReluConvBn conv_a_{nullptr}, conv_b_{nullptr};
  torch::nn::AvgPool2d pool_{nullptr};
  torch::nn::Conv2d shortcut_{nullptr};
};
TORCH_MODULE(ResidualReduction);

// One NAS-Bench-201 cell with `channels` in and out. "none" edges are not
// built; a node that receives nothing is zero, and so are edges leaving it.
class CellImpl : public torch::nn::Module {
 public:
  // Throws std::invalid_argument on an unknown op.
  CellImpl(int channels, const std::array<std::string, 6>& edge_ops);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::array<torch::nn::AnyModule, 6> edges_;  // empty for "none"
};
TORCH_MODULE(Cell);

// Chain conv: Conv(k x k) -> BatchNorm -> ReLU.
class ConvBnReluImpl : public torch::nn::Module {
 public:
  ConvBnReluImpl(int in, int out, int kernel, int stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(ConvBnRelu);

// MobileNetV2 inverted residual: 1x1 expand to in*expansion, BN, ReLU6,
// depthwise k x k (stride), BN, ReLU6, 1x1 project, BN; adds the input when
// stride is 1 and in == out.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(int in, int out, int kernel, int expansion, int stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential body_{nullptr};
  bool residual_;
};
TORCH_MODULE(InvertedResidual);

// Chain skip: the identity, or a 1x1 conv (stride) -> BN projection when the
// shape changes.
class SkipImpl : public torch::nn::Module {
 public:
  SkipImpl(int in, int out, int stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};  // null for the identity
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(Skip);

// The whole network: body layers, global average pooling, linear classifier.
class NetworkImpl : public torch::nn::Module {
 public:
  NetworkImpl(torch::nn::Sequential body, int features, int num_classes);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential body_;
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(Network);

// Builds a chain layer (conv3x3, conv5x5, ir_kK_eE, skip) from `in` channels.
// Throws std::invalid_argument on an unknown op.
torch::nn::AnyModule MakeChainLayer(const std::string& op, int in, int out,
                                    int stride);

// Builds the network for `spec`, with freshly initialised weights (Torch's
// global RNG). Throws std::invalid_argument on an unknown op or a
// non-positive size.
Network BuildNetwork(const space::NetworkSpec& spec);

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_MODEL_BUILDER_H_
