// The planners a user compares, by name: `spindle` (spindle.h), `spindle-paper`
// (spindle_paper.h) and the baselines `sequential`, `uniform` and `optimus` (baselines.h).
// All produce the same Plan, finished, with C* and the lower bound filled in. A SystemPlanner
// does each piece of work once per scenario: spindle and spindle-paper share the level plans,
// and both take a baseline's schedule where it is faster (and say so), planned once.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/metagraph.h"
#include "planner/schedule/plan.h"
#include "planner/schedule/spindle_paper.h"

namespace spindle {

// spindle (no level barrier), spindle-paper, sequential, uniform, optimus.
const std::vector<std::string>& system_names();
// Throws InputError "--system NAME: unknown system; allowed: ..." unless NAME is one of them.
void check_system_name(const std::string& name);

// Plans systems of one scenario (which it must outlive), each once, in any order.
class SystemPlanner {
 public:
  SystemPlanner(const Scenario& s, const MetaGraph& mg, const CostModel& cost);

  // The finished plan of `name`, planned on first request. Throws InputError for an unknown name.
  const Plan& plan(const std::string& name);
  // Wall-clock seconds planning `name` took, the shared work it needed included (level plans,
  // the baselines it compared itself with), as if planned alone. For terminals and timing.json.
  double seconds(const std::string& name) const;

 private:
  const LevelPlans& levels();
  double own_seconds(const std::string& name) const;

  const Scenario& s_;
  const MetaGraph& mg_;
  const CostModel& cost_;
  std::optional<LevelPlans> levels_;
  double levels_s_ = 0;
  std::map<std::string, Plan> plans_;
  std::map<std::string, double> own_s_;  // each plan's own work, shared work left out
};

// One system's plan, planned alone.
Plan plan_system(const std::string& name, const Scenario& s, const MetaGraph& mg, const CostModel& cost);

}  // namespace spindle
