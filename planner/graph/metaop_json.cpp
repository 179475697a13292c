// Shared MetaOp identity fields (see metaop_json.h).
#include "planner/graph/metaop_json.h"

namespace spindle {

std::string component_name(const Scenario& s, const MetaOp& m) {
  return m.component < 0 ? "(loss)" : s.model.components[static_cast<size_t>(m.component)].name;
}

nlohmann::ordered_json metaop_json(const Scenario& s, const MetaOp& m) {
  nlohmann::ordered_json tasks = nlohmann::ordered_json::array();
  for (int t : m.tasks) tasks.push_back(s.tasks[static_cast<size_t>(t)].name);
  return {{"id", m.id},
          {"component", component_name(s, m)},
          {"tasks", tasks},
          {"kind", op_kind_name(m.kind)},
          {"shape", {m.shape.batch, m.shape.seq, m.shape.hidden}},
          {"L", m.L},
          {"level", m.level}};
}

}  // namespace spindle
