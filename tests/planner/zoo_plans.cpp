// The zoo, planned once per test process (see zoo_plans.h).
#include "zoo_plans.h"

#include <tuple>
#include <utility>

namespace spindle::testing {

ZooCase::ZooCase(const std::string& file, int nodes, const std::vector<std::string>& extra)
    : what_(file + (nodes > 0 ? " nodes=" + std::to_string(nodes) : std::string())) {
  LoadOptions o;
  if (nodes > 0) o.overrides = {"cluster.nodes=" + std::to_string(nodes)};
  for (const std::string& e : extra) {
    o.overrides.push_back(e);
    what_ += " " + e;
  }
  model_ = std::make_unique<ScenarioModel>(load_scenario(file, o));
  planner_ = std::make_unique<SystemPlanner>(model_->s, model_->mg, model_->cost);
}

const Plan& ZooCase::plan(const std::string& system) { return planner_->plan(system); }

const PlannedSystem& ZooCase::placed(const std::string& system) {
  auto it = placed_.find(system);
  if (it == placed_.end()) {
    const ScenarioModel& m = *model_;
    PlannedSystem ps{plan(system), {}, 0.0, "", ""};
    ps.placement = place(ps.plan, m.s, m.g, m.mg, PlacementPolicy::kSpindle);
    it = placed_.emplace(system, std::move(ps)).first;
  }
  return it->second;
}

ZooCase& zoo_case(const std::string& file, int nodes, const std::vector<std::string>& extra) {
  static std::map<std::tuple<std::string, int, std::vector<std::string>>, std::unique_ptr<ZooCase>> cache;
  std::unique_ptr<ZooCase>& c = cache[{file, nodes, extra}];
  if (!c) c = std::make_unique<ZooCase>(file, nodes, extra);
  return *c;
}

}  // namespace spindle::testing
