// Plans and programs for spindle-run (see run_plan.h).
#include "engine/run_plan.h"

#include "planner/cost_model.h"
#include "planner/graph_builder.h"
#include "planner/systems.h"
#include "traces/errors.h"

namespace spindle::engine {

Scenario on_devices(const Scenario& s, int devices) {
  if (devices < 1) throw InputError("--devices " + std::to_string(devices) + ": allowed: 1 or more");
  Scenario out = s;
  if (s.cluster.gpus_per_node > 0 && devices % s.cluster.gpus_per_node == 0) {
    out.cluster.nodes = devices / s.cluster.gpus_per_node;
  } else {
    out.cluster.nodes = 1;
    out.cluster.gpus_per_node = devices;
  }
  return out;
}

RunPlan make_run_plan(const Scenario& s, const std::string& system, const std::string& plan_file) {
  const Graph g = build_graph(s);
  const MetaGraph mg = contract(g);
  const CostModel cost(s, g, mg);
  RunPlan r{plan_file.empty() ? placed_plan(system, s, g, mg, cost) : placed_plan_file(plan_file, s, g, mg, cost), {}};
  r.programs = lower(r.plan, s, g, mg);
  const std::string problem = replay(r.programs);
  if (!problem.empty()) throw InternalError(r.plan.system + " programs do not complete: " + problem);
  return r;
}

}  // namespace spindle::engine
