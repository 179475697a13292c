// Builds the computation graph G of a scenario: for every task, the operator chains of the
// components it flows through (embedding, one operator per layer, heads) joined by data
// edges, cross-attention memory as side edges, and the task's loss.
#pragma once

#include "planner/config/scenario.h"
#include "planner/graph/graph.h"

namespace spindle {

// Throws InputError when a task's shapes are impossible (a projection pooling to more tokens
// than it reads).
Graph build_graph(const Scenario& scenario);

}  // namespace spindle
