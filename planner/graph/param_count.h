// Parameter counts of a scenario's model: every weight tensor group counted once, however
// many tasks use it (a shared encoder is one set of weights), per component and in total.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/graph/graph.h"

namespace spindle {

struct ParamCount {
  std::vector<std::pair<std::string, std::int64_t>> per_component;  // model declaration order
  std::int64_t total = 0;
};

// Counts the weights the graph's operators use. Lists every component a task uses (a tied
// component shows 0: its weights count with the owner) and owners reached only through ties.
ParamCount count_params(const Scenario& scenario, const Graph& graph);

}  // namespace spindle
