// The fields that identify a MetaOp in every JSON output (summary, plan files), written in one
// place so the outputs cannot drift apart; and its component's display name.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "planner/config/scenario.h"
#include "planner/graph/metagraph.h"

namespace spindle {

// The component whose weights the MetaOp uses, or "(loss)".
std::string component_name(const Scenario& s, const MetaOp& m);

// {id, component, tasks, kind, shape, L, level}; callers append what their output adds.
nlohmann::ordered_json metaop_json(const Scenario& s, const MetaOp& m);

}  // namespace spindle
