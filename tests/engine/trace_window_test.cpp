// The trace's iteration: the one of median time among the last kTraceWindow.
#include <gtest/gtest.h>

#include "engine/launch/trace_window.h"
#include "traces/errors.h"

namespace spindle::engine::test {
namespace {

TracedIteration iteration(std::int64_t step, double seconds) { return {step, seconds, {}}; }

TEST(TraceWindow, ShowsTheIterationOfMedianTimeNotTheLast) {
  TraceWindow w;
  EXPECT_THROW(w.median(), InternalError);
  w.add(iteration(1, 0.009));  // the first: slow (allocations, caches)
  EXPECT_EQ(w.median().step, 1);
  w.add(iteration(2, 0.005));
  w.add(iteration(3, 0.006));
  w.add(iteration(4, 0.020));  // a preempted one, and the last
  EXPECT_EQ(w.median().step, 3);  // of four, the faster middle one: 5, [6], 9, 20 ms
  w.add(iteration(5, 0.007));
  EXPECT_EQ(w.median().step, 5);  // 5, 6, [7], 9, 20 ms
  EXPECT_EQ(w.size(), 5);
}

TEST(TraceWindow, KeepsOnlyTheLastIterations) {
  TraceWindow w;
  for (int s = 1; s <= 100; ++s) w.add(iteration(s, 0.001 * s));  // ever slower
  EXPECT_EQ(w.size(), kTraceWindow);
  // Steps 80..100 are kept: their median is step 90.
  EXPECT_EQ(w.median().step, 100 - kTraceWindow / 2);
}

}  // namespace
}  // namespace spindle::engine::test
