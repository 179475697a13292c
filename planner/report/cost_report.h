// `spindle-sim --explain-cost`: per MetaOp, T(1), T at each valid n, the scalability ratio
// T(1)/T(n), the configuration, the FLOPs-only estimate, the fit and memory per device; and
// with a profile (any spindle-sim summary) which times came from it and which from the model.
#pragma once

#include <string>

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/graph.h"
#include "planner/graph/metagraph.h"

namespace spindle {

std::string cost_text(const Scenario& s, const Graph& g, const MetaGraph& mg, const CostModel& cost,
                      const std::string& profile_file);

// "Cost model: profile FILE (backend, device, dtype; timer; date)" then per operator kind the
// samples of the layout's curves measured, interpolated, extrapolated and analytic, and the
// optimizer's source.
std::string cost_sources_text(const CostModel& cost, const Profile& profile);
// Where the optimizer step's and gradient norm's times come from: the profile (how many tensor
// sizes) or the analytic model.
std::string optimizer_source(const CostModel& cost);

}  // namespace spindle
