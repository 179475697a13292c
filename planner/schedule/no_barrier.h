// `spindle`: the project's improvement on the paper. A wavefront schedule without the
// MetaLevel barrier: before every wave, the MetaOps whose predecessors are done are
// allocated together (MPSP on their remaining layers, then water-filled onto valid counts),
// so a MetaOp starts as soon as its own predecessors finish and devices are free, filling the
// time the level barrier of spindle-paper leaves idle.
#pragma once

#include <vector>

#include "planner/cost/cost_model.h"
#include "planner/graph/metagraph.h"
#include "planner/schedule/plan.h"

namespace spindle {

enum class SpanChoice {
  kFirstCompletion,  // end the wave when its first MetaOp finishes (successors can start)
  kBestSpan,         // the operator boundary wasting the fewest device-seconds per second
};

// Removes barriers from a finished plan: slices, taken in order of their planned start, move
// to the earliest time at which their MetaOp's earlier layers and its predecessors are done
// and enough devices are free. No slice ends later than before (every slice still fits where
// it was), so the makespan never grows. Wave membership is kept; waves may then overlap.
void compact_plan(Plan& plan, const MetaGraph& mg, const CostModel& cost);

// Schedules every MetaOp of `mg` on `gpus` devices from time 0; appends waves to `out` and
// returns the makespan.
double schedule_without_barriers(const MetaGraph& mg, const CostModel& cost, int gpus, SpanChoice span,
                                 std::vector<Wave>& out);

}  // namespace spindle
