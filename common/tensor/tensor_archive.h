// Named float tensors as plain C++ data, and the one file format in which
// supernet weights and trained models travel between workers and the
// controller. No Torch here: the controller and nasctl read, check and
// average archives without it; the worker converts to and from Torch tensors
// in worker/train.
//
// Format (all integers little-endian):
//   "NASTNSR1"                       8-byte magic
//   u32 count                        number of tensors, in name order
//   count x { u32 name_bytes, name,  UTF-8, unique, 1..1024 bytes
//             u32 rank,              0..8
//             i64 dims[rank],        each >= 0
//             f32 values[prod(dims)] }
// Nothing may follow the last tensor. Integrity (sha256) is checked by the
// transport, not here.
#ifndef NAS_COMMON_TENSOR_TENSOR_ARCHIVE_H_
#define NAS_COMMON_TENSOR_TENSOR_ARCHIVE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace nas::tensor {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major; size == product of shape
};

// Ordered by name, so that serializing is deterministic.
using TensorMap = std::map<std::string, Tensor>;

// Product of the dims; 1 for a scalar (rank 0).
int64_t NumElements(const std::vector<int64_t>& shape);

// "[16, 3, 3, 3]".
std::string ShapeText(const std::vector<int64_t>& shape);

// REQUIRES: every tensor's values match its shape (CheckTensors).
std::string Serialize(const TensorMap& tensors);

// Parses `bytes`; on a malformed archive returns false and sets *error to
// what is wrong and where (byte offset), leaving *out unspecified.
bool Parse(std::string_view bytes, TensorMap* out, std::string* error);

// Empty when every tensor's value count matches its shape, else a message
// naming the first bad tensor.
std::string CheckTensors(const TensorMap& tensors);

// The weighted average sum_i w_i * a_i / sum_i w_i, tensor by tensor.
// REQUIRES nothing: every archive must hold the same names with the same
// shapes and weights must be positive and finite, otherwise returns false and
// sets *error naming the first mismatch. Used to merge a round of supernet
// shards (weights: images each shard trained on); batch-norm running
// statistics are averaged like any other tensor.
bool WeightedAverage(const std::vector<const TensorMap*>& archives,
                     const std::vector<double>& weights, TensorMap* out,
                     std::string* error);

}  // namespace nas::tensor

#endif  // NAS_COMMON_TENSOR_TENSOR_ARCHIVE_H_
