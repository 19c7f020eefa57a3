// Internal to worker/train (no Torch): parsing of chain op names, shared by
// the model builder and the analytic parameter/FLOP counts so that both read
// an op the same way.
#ifndef NAS_WORKER_TRAIN_OP_NAMES_H_
#define NAS_WORKER_TRAIN_OP_NAMES_H_

#include <string>

#include "common/space/network_spec.h"

namespace nas::train {

struct ChainOp {
  enum Kind { kUnknown, kConv, kInvertedResidual, kSkip };
  Kind kind = kUnknown;
  int kernel = 0;     // odd, for kConv and kInvertedResidual
  int expansion = 0;  // for kInvertedResidual
};

// "convKxK" (K odd, 1..15), "ir_kK_eE" (K odd, 1..15; E 1..16) or "skip";
// anything else is kUnknown.
ChainOp ParseChainOp(const std::string& op);

// Spatial size after a layer with "same" padding (kernel / 2) and `stride`.
inline int StridedSize(int size, int stride) { return (size - 1) / stride + 1; }

}  // namespace nas::train

#endif  // NAS_WORKER_TRAIN_OP_NAMES_H_
