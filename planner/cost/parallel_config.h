// How one MetaOp's operator uses its devices: dp data-parallel groups (the local batch is the
// global batch / dp) of tp GPUs each (tensor parallelism inside a node, tensor_parallel.h),
// with optional ZeRO-1 sharding of optimizer state across the weight-sync group.
#pragma once

#include <string>

namespace spindle {

struct ParallelConfig {
  int dp = 1;
  int tp = 1;
  bool zero1 = false;

  int devices() const { return dp * tp; }
  std::string str() const {
    return "dp" + std::to_string(dp) + (tp > 1 ? " tp" + std::to_string(tp) : "") + (zero1 ? " zero1" : "");
  }
};

}  // namespace spindle
