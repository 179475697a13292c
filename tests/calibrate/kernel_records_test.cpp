// Device records grouped per timed run: busy time as the union of overlapping kernels, the span,
// per-name shares, records of no run left out, the mean over runs (a run without records counts
// as zero), names cut to the profile's limit and merged, incomplete records skipped, records
// that end before they start.
#include "calibrate/measure/kernel_records.h"

#include <gtest/gtest.h>

#include "traces/errors.h"

namespace spindle::calibrate {
namespace {

// Two runs: run 1 a GEMM on stream 7 overlapping a layer norm on stream 8, then a GEMM after a
// gap; run 2 one GEMM; and a flush memset launched outside any run.
KernelRecords sample() {
  KernelRecords r;
  r.kernels = {{"gemm", 1000, 3000, 11, 7},   {"layer_norm", 2500, 4000, 12, 8}, {"gemm", 5000, 6000, 13, 7},
               {"gemm", 10000, 10500, 21, 7}, {"[memset]", 100, 900, 5, 7}};
  r.run_of_call = {{11, 1}, {12, 1}, {13, 1}, {21, 2}};
  return r;
}

TEST(KernelRecords, BusyTimeCountsOverlappingKernelsOnce) {
  const RunsKernels all = kernels_by_run(sample());
  ASSERT_EQ(all.runs.size(), 2u);
  EXPECT_EQ(all.unattributed, 1);
  const RunKernels& one = all.runs.at(1);
  EXPECT_EQ(one.kernels, 3);
  EXPECT_DOUBLE_EQ(one.busy_ms, 4000e-6);  // [1000, 4000) and [5000, 6000)
  EXPECT_DOUBLE_EQ(one.sum_ms, 4500e-6);   // 2000 + 1500 + 1000
  EXPECT_DOUBLE_EQ(one.span_ms, 5000e-6);  // 1000 to 6000
  EXPECT_EQ(one.by_name.at("gemm").first, 2);
  EXPECT_DOUBLE_EQ(one.by_name.at("gemm").second, 3000e-6);
  EXPECT_DOUBLE_EQ(all.runs.at(2).busy_ms, 500e-6);
}

TEST(KernelRecords, AKernelInsideAnotherAddsNoBusyTime) {
  KernelRecords r;
  r.kernels = {{"outer", 100, 1100, 1, 1}, {"inner", 200, 300, 2, 2}, {"late", 1100, 1200, 3, 1}};
  r.run_of_call = {{1, 9}, {2, 9}, {3, 9}};
  const RunKernels k = kernels_by_run(r).runs.at(9);
  EXPECT_DOUBLE_EQ(k.busy_ms, 1100e-6);
  EXPECT_DOUBLE_EQ(k.span_ms, 1100e-6);
}

TEST(KernelRecords, MeanOverRunsCountsARunWithoutRecordsAsZero) {
  const RunsKernels all = kernels_by_run(sample());
  const KernelSummary s = mean_over_runs(all, {1, 2, 3});
  EXPECT_EQ(s.runs, 3);
  EXPECT_DOUBLE_EQ(s.kernels, 4.0 / 3);
  EXPECT_DOUBLE_EQ(s.busy_ms, 4500e-6 / 3);
  EXPECT_DOUBLE_EQ(s.by_name.at("gemm").first, 1.0);
  EXPECT_DOUBLE_EQ(s.by_name.at("layer_norm").second, 1500e-6 / 3);
  EXPECT_EQ(mean_over_runs(all, {}).runs, 0);
}

TEST(KernelRecords, StoredPerCallWithLongNamesCutAndMerged) {
  const std::string long_a = std::string(kMaxKernelNameBytes, 'k') + "_a", long_b = std::string(kMaxKernelNameBytes, 'k') + "_b";
  KernelSummary s;
  s.kernels = 4, s.busy_ms = 2.0, s.runs = 1;
  s.by_name = {{long_a, {1, 0.5}}, {long_b, {1, 0.25}}, {"adamw", {2, 1.0}}};
  OpMeasurement m;
  m.kernels = {{"fwd", "stale", 1, 1}};
  store_kernels(s, "fwd", 2, m);
  EXPECT_DOUBLE_EQ(m.fwd_kernel_ms, 1.0);
  EXPECT_DOUBLE_EQ(m.fwd_kernels, 2.0);
  EXPECT_EQ(m.bwd_kernel_ms, 0);
  ASSERT_EQ(m.kernels.size(), 2u);  // "stale" replaced; the two long names one once cut
  EXPECT_EQ(m.kernels[0].name, "adamw");
  EXPECT_DOUBLE_EQ(m.kernels[0].calls, 1.0);
  EXPECT_EQ(m.kernels[1].name, std::string(kMaxKernelNameBytes, 'k'));
  EXPECT_DOUBLE_EQ(m.kernels[1].calls, 1.0);
  EXPECT_DOUBLE_EQ(m.kernels[1].ms, 0.375);
  EXPECT_THROW(store_kernels(s, "both", 1, m), InternalError);
}

TEST(KernelRecords, ARecordEndingBeforeItStartsIsAnError) {
  KernelRecords r;
  r.kernels = {{"backwards", 500, 400, 1, 1}};
  r.run_of_call = {{1, 1}};
  EXPECT_THROW(kernels_by_run(r), InternalError);
}

// A forced flush hands over records of work not yet done: no start or no end. Skipped, counted.
TEST(KernelRecords, IncompleteRecordsAreSkipped) {
  KernelRecords r = sample();
  r.kernels.push_back({"gemm", 7000, 0, 13, 7});
  r.kernels.push_back({"gemm", 0, 0, 11, 7});
  const RunsKernels all = kernels_by_run(r);
  EXPECT_EQ(all.incomplete, 2);
  EXPECT_EQ(all.runs.at(1).kernels, 3);
  EXPECT_DOUBLE_EQ(all.runs.at(1).busy_ms, 4000e-6);
}

TEST(KernelRecords, AppendKeepsEveryRecordAndCorrelation) {
  KernelRecords a = sample(), b;
  b.kernels = {{"gemm", 20000, 21000, 31, 7}};
  b.run_of_call = {{31, 3}};
  b.dropped = 2;
  a.append(std::move(b));
  EXPECT_EQ(a.kernels.size(), 6u);
  EXPECT_EQ(a.run_of_call.at(31), 3u);
  EXPECT_EQ(a.dropped, 2u);
}

}  // namespace
}  // namespace spindle::calibrate
