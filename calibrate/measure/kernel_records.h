// The device work of timed runs as a GPU's activity records report it (CUPTI's Activity API:
// kernels, memsets and copies, each with its start and end on the GPU's clock and the
// correlation id of the API call that launched it; and the external ids the timer pushed around
// each run, tied to those calls), reduced per run to what a profile keeps: how many kernels,
// how long the GPU was busy with them (concurrent kernels counted once), and each kernel name's
// share. Plain C++: the CUPTI side (calibrate/cuda/cupti_recorder.cpp) only fills these records.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "traces/profile.h"

namespace spindle::calibrate {

// One piece of device work: a kernel (its name as CUPTI gives it, mangled), or a memset or copy
// ("[memset]", "[memcpy HtoD]", ...). Times in ns on the device's clock, end >= start.
struct KernelRecord {
  std::string name;
  std::uint64_t start_ns = 0, end_ns = 0;
  std::uint32_t correlation_id = 0;  // the launching API call's
  std::uint32_t stream_id = 0;
};

// What a recorder collected: the work, and the external id (a timed run) of each API call made
// while one was pushed, by the call's correlation id.
struct KernelRecords {
  std::vector<KernelRecord> kernels;
  std::map<std::uint32_t, std::uint64_t> run_of_call;
  std::uint64_t dropped = 0;  // records CUPTI could not keep (its buffers were full)

  void append(KernelRecords&& more);
};

// One run's device work.
struct RunKernels {
  int kernels = 0;        // records of the run
  double busy_ms = 0;     // the union of their [start, end) intervals
  double sum_ms = 0;      // their durations added (> busy_ms where kernels overlapped)
  double span_ms = 0;     // first start to last end (busy plus the gaps between kernels)
  std::map<std::string, std::pair<int, double>> by_name;  // name -> (records, ms added)
};

struct RunsKernels {
  std::map<std::uint64_t, RunKernels> runs;  // by the external id pushed around the run
  int unattributed = 0;  // records whose call had no run pushed (a flush, a warm-up)
  int incomplete = 0;    // records without a start or an end (a forced flush hands such out): skipped
};

// Groups `r` by run; throws InternalError on a record that ends before it starts.
RunsKernels kernels_by_run(const KernelRecords& r);

// The mean over `runs` (a run with no record counts as zero kernels): what the profile stores
// for a key's forward or backward pass. Per name: mean records and milliseconds per run.
struct KernelSummary {
  double kernels = 0, busy_ms = 0;
  std::map<std::string, std::pair<double, double>> by_name;
  int runs = 0;
};
KernelSummary mean_over_runs(const RunsKernels& all, const std::vector<std::uint64_t>& runs);

// Writes `s`, divided by `per_run` (the calls a run made: 1 for an operator's pass, the tensors
// an optimizer run stepped), into `m` as the pass `pass` ("fwd" or "bwd"): the busy time, the
// records and the kernels by name (cut to kMaxKernelNameBytes; names equal once cut are added).
void store_kernels(const KernelSummary& s, const std::string& pass, double per_run, OpMeasurement& m);

}  // namespace spindle::calibrate
