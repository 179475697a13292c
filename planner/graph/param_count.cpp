// Unique-weights parameter count (see param_count.h).
#include "planner/graph/param_count.h"

#include <map>

namespace spindle {

ParamCount count_params(const Scenario& scenario, const Graph& graph) {
  std::map<std::string, std::int64_t> by_weights;  // weight group -> params
  std::map<std::string, std::string> owner;        // weight group -> component
  for (const Operator& op : graph.ops()) {
    if (op.weights.empty()) continue;
    by_weights[op.weights] = op.cost.params;
    owner[op.weights] = op.weight_set;
  }
  std::map<std::string, std::int64_t> per;
  for (const auto& [w, p] : by_weights) per[owner[w]] += p;
  ParamCount out;
  for (size_t i = 0; i < scenario.model.components.size(); ++i) {
    const Component& c = scenario.model.components[i];
    bool used = false;
    for (const Task& t : scenario.tasks) used = used || scenario.task_uses(t, static_cast<int>(i));
    auto it = per.find(c.name);
    std::int64_t p = it == per.end() ? 0 : it->second;  // 0: tied to another's weights
    if (!used && p == 0) continue;
    out.per_component.emplace_back(c.name, p);
    out.total += p;
  }
  return out;
}

}  // namespace spindle
