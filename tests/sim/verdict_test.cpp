// The verdict line under the simulation table: who wins against spindle, by how much, and the
// category of time where the two differ most; plans over the GPUs' memory do not win.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sim/report/sim_report.h"

namespace spindle::testing {
namespace {

SimSummary sim(double total_ms, double sync_ms, double idle_ms) {
  SimSummary s;
  s.simulated_s = total_ms * 1e-3;
  s.compute_s = (total_ms - sync_ms - idle_ms) * 1e-3;
  s.sync_s = sync_ms * 1e-3;
  s.idle_s = idle_ms * 1e-3;
  return s;
}

TEST(Verdict, NamesTheWinnerAndTheCause) {
  EXPECT_EQ(verdict_line({{"spindle", sim(60, 30, 5), true, ""}, {"uniform", sim(40, 9, 6), true, ""}}),
            "uniform is 1.50x faster than spindle: weight sync 9.0 vs 30.0 ms per GPU");
  EXPECT_EQ(verdict_line({{"spindle", sim(40, 9, 6), true, ""}, {"uniform", sim(60, 30, 5), true, ""},
                          {"optimus", sim(50, 10, 20), true, ""}}),
            "spindle is the fastest: 1.25x over optimus, the next (idle 6.0 vs 20.0 ms per GPU)");
}

TEST(Verdict, PlansOverMemoryDoNotWin) {
  EXPECT_EQ(verdict_line({{"spindle", sim(60, 30, 5), true, ""}, {"sequential", sim(40, 9, 6), false, ""},
                          {"uniform", sim(70, 30, 15), true, ""}}),
            "spindle is the fastest: 1.17x over uniform, the next (idle 5.0 vs 15.0 ms per GPU); faster but over "
            "the GPUs' memory: sequential");
  EXPECT_EQ(verdict_line({{"spindle", sim(60, 30, 5), true, ""}}), "");
  EXPECT_EQ(verdict_line({{"spindle", sim(40, 9, 6), true, "optimus"}, {"optimus", sim(40, 9, 6), true, ""}}),
            "spindle and optimus tie (40.000 vs 40.000 ms); spindle runs optimus's plan (its estimate was the "
            "fastest)");
}

}  // namespace
}  // namespace spindle::testing
