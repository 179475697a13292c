// A launcher's last iteration in the simulator's terms: the ranks' measured wall-clock
// timelines (against one clock: the iteration's start, after a barrier under MPI) as a
// ReplayResult (compute, time in receives, gathers and waiting for weight sync; transfers from
// send to receive; collectives from their last member's arrival to their end, a bucket's as it
// ran on the sync threads), written with the simulator's Chrome trace writer so both open side
// by side in Perfetto.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/runner/rank_runner.h"
#include "planner/program/replay_result.h"

namespace spindle::engine {

// One rank's iteration as it ran, seconds from the common start.
struct RankTimeline {
  std::vector<ExecutedInstr> instrs;
  std::map<int, std::pair<double, double>> sync_spans;  // bucket -> its collective on the sync thread
};

RankTimeline timeline_of(const RankRunner& rank);
// As text and back (one rank's part, sent to rank 0 under MPI); exact to the bit.
std::string timeline_text(const RankTimeline& t);
RankTimeline parse_timeline(const std::string& text);

// `ranks[d]` ran `programs.devices[d]`; `iteration_s`: the iteration's wall time. Blocked time
// counts as the simulator counts it: a receive from when its data was sent, a collective (and
// a sync-wait) from its last member's arrival; the wait before is idle.
ReplayResult measured_iteration(const Programs& programs, const std::vector<RankTimeline>& ranks, double iteration_s);

// `label`: the system or plan file, recorded in the trace.
std::string execution_trace_json(const Scenario& s, const MetaGraph& mg, const Programs& programs,
                                 const std::vector<RankTimeline>& ranks, double iteration_s, const std::string& label);

}  // namespace spindle::engine
