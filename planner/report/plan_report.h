// What `spindle-sim --plan-only` prints: one row per system (planned iteration time, ratios
// to C* and to the lower bound, waves, planning time) and Spindle's wave table.
#pragma once

#include <string>
#include <vector>

#include "planner/place/placement.h"
#include "planner/schedule/plan.h"

namespace spindle {

// `gpu_GiB` is one GPU's memory: slices needing more are flagged.
std::string plans_text(const Scenario& s, const MetaGraph& mg, const std::vector<PlannedSystem>& systems, double gpu_GiB);

// The wave table of one plan: start, span, slices as MetaOp[first..last)@n, devices in use.
std::string waves_text(const Scenario& s, const MetaGraph& mg, const Plan& plan);

}  // namespace spindle
