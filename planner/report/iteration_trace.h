// An iteration, simulated (spindle-sim) or measured (spindle-run), as a Chrome/Perfetto trace
// (traces/chrome_trace.h): one process per node, one thread per GPU with its compute slices
// (named task / MetaOp component / layers / fwd|bwd) and the time it was blocked on transfers
// or weight sync, flow arrows from each send to its receiver, and the communication itself
// (transfers and collectives) as async slices per node. Same inputs, same bytes.
#pragma once

#include <string>

#include "planner/config/scenario.h"
#include "planner/graph/metagraph.h"
#include "planner/program/lowering.h"
#include "planner/program/replay_result.h"

namespace spindle {

// `clock`: "simulated" or "measured" (names the iteration-time field of otherData).
std::string iteration_trace_json(const Scenario& s, const MetaGraph& mg, const Programs& programs,
                                 const ReplayResult& r, const std::string& system,
                                 const std::string& clock = "simulated");

}  // namespace spindle
