// Times one operator key the way the engine runs it: the engine's own OpRunner forward and
// backward of an operator of the scenario's graph on a block of `batch` rows (one TP shard
// where the key's tp > 1, without the TP all-reduce, which the cost model adds), its weights
// built by the engine's WeightStore, inputs of the shapes its producers give, on the calling
// thread alone. Warm-up runs first; each repetition's forward and backward are timed apart
// between the backend's time marks (the steady clock on the CPU, CUDA events on a GPU), each
// starting with cold caches (flush_bytes() written first). Where a KernelRecorder is given (CUPTI
// on a GPU), a few more passes run after the timed ones, recorded and untimed (recording slows
// the host's launches), each a run of its own, and the device's records of them are kept beside
// the times: the busy time, the number of kernels and each kernel's share.
#pragma once

#include <cstdint>
#include <string>

#include "calibrate/measure/kernel_recorder.h"
#include "calibrate/plan/measure_plan.h"
#include "engine/backend.h"
#include "planner/config/scenario.h"
#include "planner/graph/graph.h"
#include "traces/profile.h"

namespace spindle::calibrate {

struct TimingOptions {
  int warmup = 2;   // untimed runs first (caches, allocator, BLAS buffers)
  int repeats = 5;  // timed runs: the mean and standard deviation are stored
};

class OpTimer {
 public:
  // `s` and `g`: the (scaled) scenario and its graph, which the items' operators belong to.
  // `recorder` (may be null: times only) records the device work of each timed pass; without
  // one, `unrecorded` (when not empty) says in timer() why not.
  OpTimer(const Scenario& s, const Graph& g, engine::Backend& be, std::uint64_t seed,
          KernelRecorder* recorder = nullptr, std::string unrecorded = {});
  OpMeasurement measure(const MeasureItem& item, const TimingOptions& options);
  // How times are taken on this backend, as the profile records it.
  std::string timer() const;
  // What is written before each timed run to flush the caches.
  std::int64_t flush_bytes() const;

 private:
  const Scenario& s_;
  const Graph& g_;
  engine::Backend& be_;
  std::uint64_t seed_;
  KernelRecorder* recorder_;
  std::string unrecorded_;
};

}  // namespace spindle::calibrate
