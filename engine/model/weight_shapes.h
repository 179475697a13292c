// The weight tensors of each operator kind of the planner's graph, named
// "<Operator::weights>/<tensor>" ("vision/layer3/attn.wq", "text/embed/table"), with shapes
// from the operator's dims and their initialisation. Their element counts add up to the
// planner's parameter count of the operator (op_costs.cpp); tests/engine checks it.
#pragma once

#include <string>
#include <vector>

#include "engine/tensor.h"
#include "planner/graph/graph.h"

namespace spindle::engine {

// kNormal: N(0, 0.02); kNormalResidual: N(0, 0.02 / sqrt(2 layers)) (GPT-2's output projections).
enum class Init { kOnes, kZeros, kNormal, kNormalResidual };

struct WeightShape {
  std::string name;  // tensor name inside the operator's weight group, e.g. "attn.wq"
  Dims dims;
  Init init = Init::kNormal;
};

std::vector<WeightShape> weight_shapes(const Operator& op);

}  // namespace spindle::engine
