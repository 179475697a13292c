// The cluster spindle-run plans for: the scenario's cluster reshaped to N logical devices, so
// that the pipeline (planner/pipeline.h) plans and lowers for exactly the devices that run.
#pragma once

#include "planner/config/scenario.h"

namespace spindle::engine {

// Nodes of the scenario's gpus_per_node when that divides `devices`, else one node of them
// all. Throws InputError for devices < 1.
Scenario on_devices(const Scenario& s, int devices);

}  // namespace spindle::engine
