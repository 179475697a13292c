// Analytic per-operator figures: parameters, forward and backward FLOPs, and the activation
// bytes stored for backward. FLOPs count multiply-adds as 2; attention counts the full S x S
// score matrix even when causal (as Megatron-LM's formula does), so a GELU layer with ffn = 4h
// gives 24 B s h^2 + 4 B s^2 h forward. Activations follow Korthikanti et al. 2022 (bf16,
// no recomputation) with fused attention: 34 s b h + 4 a s b bytes for a GELU layer with
// ffn = 4h (FlashAttention keeps softmax statistics, not Korthikanti's 5 a s^2 b of scores).
#pragma once

#include "planner/graph/graph.h"

namespace spindle {

// The cost of `op` from its kind, shape and attributes. `params` are those of the weights
// the operator uses (a tied LM head reports its embedding table's); count_params() counts
// each weight group once.
OpCost op_cost(const Operator& op);

}  // namespace spindle
