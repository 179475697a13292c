// What `spindle-sim --plan-only` prints: one row per system (planned iteration time, ratios
// to C* and to the lower bound, waves, planning time) and Spindle's wave table.
#pragma once

#include <string>
#include <vector>

#include "planner/placement.h"
#include "planner/plan.h"

namespace spindle {

struct PlannedSystem {
  Plan plan;
  PlacementReport placement;  // after place()
  double planning_s = 0;   // wall clock: printed, never written to files (< 0: not shown)
  std::string from_file;   // set for a plan read back with --plan
  std::string placement_label;  // set for the placement ablation row
};

// `gpu_GiB` is one GPU's memory: slices needing more are flagged.
std::string plans_text(const Scenario& s, const MetaGraph& mg, const std::vector<PlannedSystem>& systems, double gpu_GiB);

// The wave table of one plan: start, span, slices as MetaOp[first..last)@n, devices in use.
std::string waves_text(const Scenario& s, const MetaGraph& mg, const Plan& plan);

}  // namespace spindle
