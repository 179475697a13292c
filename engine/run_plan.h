// What spindle-run executes on N logical devices: the scenario on a cluster of N GPUs, the
// placed plan of a system (or of a plan file) for it, and that plan's per-device programs,
// made the way spindle-sim makes them (planner/systems.h placed_plan, lowering).
#pragma once

#include <string>

#include "planner/lowering.h"
#include "planner/plan.h"
#include "planner/scenario.h"

namespace spindle::engine {

// The scenario's cluster reshaped to `devices` GPUs: nodes of its gpus_per_node when that
// divides, else one node of them all. Throws InputError for devices < 1.
Scenario on_devices(const Scenario& s, int devices);

struct RunPlan {
  Plan plan;
  Programs programs;
};

// `plan_file` empty: the plan of `system`. Throws InputError for an unknown system or a plan
// file that does not match the scenario (other MetaOps, another GPU count, ...).
RunPlan make_run_plan(const Scenario& s, const std::string& system, const std::string& plan_file);

}  // namespace spindle::engine
