// The chain scenario -> placed, lowered programs (see pipeline.h).
#include "planner/pipeline.h"

#include <algorithm>

#include "planner/graph/graph_builder.h"
#include "planner/program/instr_time.h"
#include "planner/schedule/bounds.h"
#include "traces/errors.h"

namespace spindle {
namespace {

void set_estimate(const ScenarioModel& m, PlannedSystem& ps) {
  const IterationEstimate e = estimate(m, lower_checked(m, ps.plan));
  ps.estimated_s = e.iteration_s;
  ps.estimated_sync_s = e.sync_s;
}

}  // namespace

ScenarioModel::ScenarioModel(Scenario scenario, const Profile* profile)
    : s(std::move(scenario)), g(build_graph(s)), mg(contract(g)), cost(s, g, mg, profile) {}

std::vector<PlannedSystem> plan_systems(const ScenarioModel& m, const std::vector<std::string>& systems,
                                        bool placement_ablation) {
  for (const std::string& name : systems) check_system_name(name);
  std::vector<std::string> unique;
  for (const std::string& name : systems)
    if (std::find(unique.begin(), unique.end(), name) == unique.end()) unique.push_back(name);
  SystemPlanner planner(m.s, m.mg, m.cost);
  std::vector<PlannedSystem> out, ablated;
  for (const std::string& name : unique) {
    Plan p = planner.plan(name);
    p.peak_slice_GiB = peak_slice_GiB(p, m.s, m.g, m.mg);
    if (placement_ablation && name == "spindle") {
      Plan in_order = p;
      PlacementReport rep = place(in_order, m.s, m.g, m.mg, PlacementPolicy::kSequential);
      ablated.push_back({std::move(in_order), rep, 0.0, "", "sequential-placement"});
    }
    PlacementReport rep = place(p, m.s, m.g, m.mg, PlacementPolicy::kSpindle);
    out.push_back({std::move(p), rep, planner.seconds(name), "", ""});
  }
  for (PlannedSystem& a : ablated) out.push_back(std::move(a));
  for (PlannedSystem& ps : out) set_estimate(m, ps);
  return out;
}

PlannedSystem plan_from_file(const ScenarioModel& m, const std::string& file) {
  Plan p = read_plan(file, m.s, m.mg, m.cost);
  set_bounds(p, m.mg, m.cost);
  p.peak_slice_GiB = peak_slice_GiB(p, m.s, m.g, m.mg);
  PlacementReport rep = is_placed(p) ? measure_placement(p, m.s, m.g, m.mg)
                                     : place(p, m.s, m.g, m.mg, PlacementPolicy::kSpindle);
  PlannedSystem out{std::move(p), rep, 0.0, file, ""};
  set_estimate(m, out);
  return out;
}

IterationEstimate estimate(const ScenarioModel& m, const Programs& programs) {
  return estimate_iteration(programs, compute_seconds(programs, m.s, m.mg, m.cost), m.s.cluster);
}

Programs lower_checked(const ScenarioModel& m, const Plan& plan) {
  Programs programs = lower(plan, m.s, m.g, m.mg);
  const std::string problem = replay(programs);
  if (!problem.empty()) throw InternalError(plan.system + " programs do not complete: " + problem);
  return programs;
}

LoweredPlan lowered_plan(const ScenarioModel& m, const std::string& system, const std::string& plan_file) {
  LoweredPlan out;
  out.plan = plan_file.empty() ? plan_systems(m, {system}).front().plan : plan_from_file(m, plan_file).plan;
  out.programs = lower_checked(m, out.plan);
  return out;
}

}  // namespace spindle
