#include "worker/train/evaluate.h"

#include <algorithm>
#include <vector>

namespace nas::train {
namespace {

constexpr int64_t kEvalBatch = 1000;

}  // namespace

torch::Tensor IndexTensor(const std::vector<int64_t>& indices,
                          const torch::Device& device) {
  return torch::tensor(indices, torch::kInt64).to(device);
}

Evaluation Evaluate(Network& model, const Dataset& data,
                    const torch::Tensor& images, const torch::Tensor& labels,
                    const torch::Tensor& indices) {
  torch::NoGradGuard no_grad;
  model->eval();
  const int64_t n = indices.defined() ? indices.size(0) : images.size(0);
  auto loss_sum = torch::zeros(
      {},
      torch::TensorOptions().dtype(torch::kFloat64).device(images.device()));
  auto correct = torch::zeros(
      {}, torch::TensorOptions().dtype(torch::kInt64).device(images.device()));
  for (int64_t start = 0; start < n; start += kEvalBatch) {
    const int64_t end = std::min(n, start + kEvalBatch);
    torch::Tensor x, y;
    if (indices.defined()) {
      const torch::Tensor idx = indices.slice(0, start, end);
      x = images.index_select(0, idx);
      y = labels.index_select(0, idx);
    } else {
      x = images.slice(0, start, end);
      y = labels.slice(0, start, end);
    }
    const torch::Tensor logits = model->forward(data.Normalize(x));
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, y,
                    torch::nn::functional::CrossEntropyFuncOptions().reduction(
                        torch::kSum))
                    .to(torch::kFloat64);
    correct += logits.argmax(1).eq(y).sum();
  }
  Evaluation result;
  result.loss = loss_sum.item<double>() / static_cast<double>(n);
  result.accuracy =
      static_cast<double>(correct.item<int64_t>()) / static_cast<double>(n);
  return result;
}

}  // namespace nas::train
