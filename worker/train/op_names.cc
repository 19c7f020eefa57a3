#include "worker/train/op_names.h"

namespace nas::train {

ChainOp ParseChainOp(const std::string& op) {
  // Reads a positive decimal at `pos`, advancing it; 0 when none.
  auto number = [&op](size_t* pos) {
    int value = 0;
    size_t start = *pos;
    while (*pos < op.size() && op[*pos] >= '0' && op[*pos] <= '9' &&
           *pos - start < 3) {
      value = value * 10 + (op[*pos] - '0');
      ++*pos;
    }
    return *pos == start ? 0 : value;
  };
  auto odd_kernel = [](int k) { return k >= 1 && k <= 15 && k % 2 == 1; };
  ChainOp parsed;
  if (op == "skip") {
    parsed.kind = ChainOp::kSkip;
  } else if (op.rfind("conv", 0) == 0) {
    size_t pos = 4;
    const int k = number(&pos);
    if (pos < op.size() && op[pos] == 'x') {
      ++pos;
      if (number(&pos) == k && pos == op.size() && odd_kernel(k)) {
        parsed.kind = ChainOp::kConv;
        parsed.kernel = k;
      }
    }
  } else if (op.rfind("ir_k", 0) == 0) {
    size_t pos = 4;
    const int k = number(&pos);
    if (op.compare(pos, 2, "_e") == 0) {
      pos += 2;
      const int e = number(&pos);
      if (pos == op.size() && odd_kernel(k) && e >= 1 && e <= 16) {
        parsed.kind = ChainOp::kInvertedResidual;
        parsed.kernel = k;
        parsed.expansion = e;
      }
    }
  }
  return parsed;
}

}  // namespace nas::train
