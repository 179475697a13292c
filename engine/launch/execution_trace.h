// The launcher's last iteration in the simulator's terms: its measured wall-clock timeline as
// a ReplayResult (compute, time in receives, gathers and waiting for weight sync; transfers
// from send to receive; collectives from their last member's arrival to their end, a bucket's
// as it ran on the sync threads), written with the simulator's Chrome trace writer so both
// open side by side in Perfetto.
#pragma once

#include <string>

#include "engine/launch/thread_launcher.h"
#include "planner/program/replay_result.h"

namespace spindle::engine {

ReplayResult measured_iteration(const ThreadLauncher& ex);

// `label`: the system or plan file, recorded in the trace.
std::string execution_trace_json(const ThreadLauncher& ex, const std::string& label);

}  // namespace spindle::engine
