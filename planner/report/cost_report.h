// `spindle-sim --explain-cost`: per MetaOp, T(1), T at each valid n, the scalability ratio
// T(1)/T(n), the configuration, the FLOPs-only estimate, the fit and memory per device.
#pragma once

#include <string>

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/graph.h"
#include "planner/graph/metagraph.h"

namespace spindle {

std::string cost_text(const Scenario& s, const Graph& g, const MetaGraph& mg, const CostModel& cost,
                      const std::string& profile_file);

}  // namespace spindle
