// How one MetaOp's operator uses its devices. This version has data parallelism (the local
// batch is the global batch / dp) with optional ZeRO-1 sharding of optimizer state across
// the weight-sync group. Tensor parallelism (tp > 1, inside a node) arrives with its own
// issue; until then tp is always 1 and nothing reads it as anything else.
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
