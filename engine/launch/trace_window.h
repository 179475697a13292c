// The iterations a run's --trace chooses from: the last kTraceWindow iterations' timelines (this
// process's ranks) with the iteration's wall time over every rank. The trace shows the one of
// median time, not the last: one iteration's noise (a preempted core, a late page fault) stays
// out of what compare-run sets against the simulator.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "engine/launch/execution_trace.h"

namespace spindle::engine {

inline constexpr int kTraceWindow = 21;

struct TracedIteration {
  std::int64_t step = 0;
  double iteration_s = 0;              // the slowest rank's, from the common start
  std::vector<RankTimeline> timelines;  // this process's ranks, by device
};

class TraceWindow {
 public:
  void add(TracedIteration it);
  // The iteration of median time among those kept (of an even count, the faster middle one;
  // ties: the later step); InternalError when none ran. The same on every MPI rank, whose
  // windows hold the same steps and times.
  const TracedIteration& median() const;
  int size() const { return static_cast<int>(kept_.size()); }

 private:
  std::deque<TracedIteration> kept_;
};

}  // namespace spindle::engine
