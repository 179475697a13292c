// The one chain from a scenario to what runs (README "How it works"): scenario -> graph G ->
// MetaGraph (contraction) -> cost model -> plans (per system, or a plan file read back) ->
// placement -> per-device programs, checked to complete. spindle-sim, spindle-run and the
// tests all call these; nothing else strings the steps together.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/estimate/iteration_estimate.h"
#include "planner/graph/graph.h"
#include "planner/graph/metagraph.h"
#include "planner/place/placement.h"
#include "planner/program/lowering.h"
#include "planner/schedule/plan.h"
#include "planner/schedule/systems.h"
#include "traces/profile.h"

namespace spindle {

// The front half, what every plan of a scenario is made from: G, its contraction G_M and the
// cost model (measured points from `profile` where given).
struct ScenarioModel {
  explicit ScenarioModel(Scenario scenario, const Profile* profile = nullptr);
  Scenario s;
  Graph g;
  MetaGraph mg;
  CostModel cost;
  // The same with ZeRO-1 on, when the scenario has it off: what a baseline's user turns on
  // where memory needs it (the baselines' sweep, plan files that did).
  std::optional<CostModel> zero1_cost;
};

// Each named system (repeats dropped, order kept) planned once and placed by Spindle's
// placement, with its planning time; with `placement_ablation`, spindle's plan is also placed
// on device ids in order (labelled "sequential-placement") and listed after the others.
std::vector<PlannedSystem> plan_systems(const ScenarioModel& m, const std::vector<std::string>& systems,
                                        bool placement_ablation = false);

// A plan file read back and checked against the scenario (throws InputError naming the file),
// its bounds set, placed by Spindle's placement unless it names its devices.
PlannedSystem plan_from_file(const ScenarioModel& m, const std::string& file);

// The planner's estimate of one iteration of lowered programs (compute from the cost model,
// transfers and collectives over the cluster's links).
IterationEstimate estimate(const ScenarioModel& m, const Programs& programs);

// A placed plan lowered to per-device programs, replayed in program order to check that every
// device finishes. Throws InternalError naming the system when they do not.
Programs lower_checked(const ScenarioModel& m, const Plan& plan);

// The whole chain for one system (`plan_file` empty) or one plan file: what spindle-run runs.
struct LoweredPlan {
  Plan plan;
  Programs programs;
};
LoweredPlan lowered_plan(const ScenarioModel& m, const std::string& system, const std::string& plan_file);

}  // namespace spindle
