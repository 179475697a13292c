// Timing one operator key with the engine's OpRunner (see op_timer.h).
#include "calibrate/measure/op_timer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "calibrate/measure/device_info.h"
#include "calibrate/measure/kernel_records.h"
#include "engine/memory_parts.h"
#include "engine/model/layers/layer_shards.h"
#include "engine/model/op_runner.h"
#include "engine/model/weight_store.h"
#include "planner/cost/profile_points.h"
#include "planner/cost/tensor_parallel.h"
#include "traces/errors.h"

namespace spindle::calibrate {
namespace {

using engine::Backend;
using engine::Dims;
using engine::Tensor;

// Deterministic inputs: small uniform values from a 64-bit LCG (the values do not change
// the work of any kernel; they keep the softmax and losses finite).
class Values {
 public:
  explicit Values(std::uint64_t seed) : x_(seed * 6364136223846793005ULL + 1442695040888963407ULL) {}
  std::uint64_t next() {
    x_ = x_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return x_ >> 33;
  }
  float uniform() { return static_cast<float>(next() % 2001) / 1000.0f - 1.0f; }  // [-1, 1]
  std::vector<float> floats(std::int64_t n, float scale) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& f : v) f = scale * uniform();
    return v;
  }
  std::vector<std::int32_t> ids(std::int64_t n, std::int64_t below) {
    std::vector<std::int32_t> v(static_cast<size_t>(n));
    for (std::int32_t& i : v) i = static_cast<std::int32_t>(next() % static_cast<std::uint64_t>(below));
    return v;
  }

 private:
  std::uint64_t x_;
};

std::int64_t numel(const Dims& d) {
  std::int64_t n = 1;
  for (std::int64_t v : d) n *= v;
  return n;
}

Tensor filled(Backend& be, const Dims& shape, Values& values, float scale) {
  Tensor t = be.alloc(shape);
  const std::vector<float> v = values.floats(numel(shape), scale);
  be.upload(t, v);
  return t;
}

// The concatenated output of `sources` for `rows` batch rows: [rows, sum of their tokens, width].
Dims concat_dims(const Graph& g, const std::vector<int>& sources, std::int64_t rows) {
  if (sources.empty()) return {};
  std::int64_t seq = 0;
  for (int s : sources) seq += g.op(s).out_seq;
  return {rows, seq, g.op(sources.front()).out_hidden};
}

struct Stats {
  double mean_ms = 0, spread_ms = 0;
};
Stats stats(const std::vector<double>& ms) {
  Stats st;
  for (double v : ms) st.mean_ms += v;
  st.mean_ms /= static_cast<double>(ms.size());
  double var = 0;
  for (double v : ms) var += (v - st.mean_ms) * (v - st.mean_ms);
  st.spread_ms = ms.size() > 1 ? std::sqrt(var / static_cast<double>(ms.size() - 1)) : 0.0;
  return st;
}

// The recorded runs of one measurement (where a recorder is given): passes run after the timed
// ones, untimed, each tagged as a run of its own, and their mean device work stored into the
// measurement. Run ids are unique in the process, so that a record CUPTI hands over late never
// joins another key's run.
class PassRecords {
 public:
  explicit PassRecords(KernelRecorder* recorder) : recorder_(recorder) {}
  bool on() const { return recorder_ != nullptr; }
  // Recording on for the recorded runs, and off again (store() turns it off too).
  void start() {
    if (recorder_ != nullptr) recorder_->enable(true);
  }
  void stop() {
    if (recorder_ != nullptr) recorder_->enable(false);
  }
  // The device work the calling thread queues while it lives belongs to one run of the pass.
  class Run {
   public:
    Run(PassRecords& p, bool forward) : p_(p) {
      if (p_.recorder_ == nullptr) return;
      const std::uint64_t run = next_run_.fetch_add(1);
      (forward ? p_.fwd_ : p_.bwd_).push_back(run);
      p_.recorder_->begin_run(run);
    }
    ~Run() {
      if (p_.recorder_ == nullptr) return;
      try {
        p_.recorder_->end_run();
      } catch (...) {  // a failed pop must not hide the exception in flight; store() checks again
        p_.failed_ = true;
      }
    }
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;

   private:
    PassRecords& p_;
  };
  // After the device finished: every record of the measurement into `m`, each pass's divided by
  // the calls its runs made.
  void store(OpMeasurement& m, double fwd_calls = 1, double bwd_calls = 1) {
    if (recorder_ == nullptr) return;
    stop();
    if (failed_) throw InternalError(recorder_->name() + ": a run's id could not be popped while timing " + m.key.str());
    const KernelRecords records = recorder_->collect();
    if (records.dropped > 0)
      throw IoError(recorder_->name() + " dropped " + std::to_string(records.dropped) + " records while timing " +
                    m.key.str() + " (its buffers were full)");
    const RunsKernels runs = kernels_by_run(records);
    // Every pass launches device work: a recorded pass without records, while records went to
    // no pass, means the correlation failed; a record without a start or end after the device
    // finished, that CUPTI lost a time. Either would lower the figures without a sign.
    int empty = 0;
    for (const std::vector<std::uint64_t>* ids : {&fwd_, &bwd_})
      for (std::uint64_t id : *ids) empty += runs.runs.count(id) == 0;
    if (runs.incomplete > 0 || (empty > 0 && runs.unattributed > 0))
      throw IoError(recorder_->name() + " while timing " + m.key.str() + ": " + std::to_string(runs.incomplete) +
                    " records without a start or an end, " + std::to_string(empty) +
                    " recorded passes without records while " + std::to_string(runs.unattributed) +
                    " records were tied to no pass: the device's work could not be attributed");
    store_kernels(mean_over_runs(runs, fwd_), "fwd", fwd_calls, m);
    store_kernels(mean_over_runs(runs, bwd_), "bwd", bwd_calls, m);
  }

 private:
  static inline std::atomic<std::uint64_t> next_run_{1};
  KernelRecorder* recorder_;
  std::vector<std::uint64_t> fwd_, bwd_;
  bool failed_ = false;
};

// Recorded runs per measurement, after the timed ones (CUPTI's records vary little run to run).
constexpr int kRecordedRuns = 3;

// The optimizer's kernels on weight tensors of key.batch fp32 elements, as the engine's step and
// gradient norm run them: one multi-tensor AdamW call and one sum of squares over every tensor
// of a run (one device sync), per-tensor times their share. The calls go round `sets` tensors (views of four flat
// buffers) of flush_bytes in all, so that each finds its tensor out of the nearest caches, as
// a step over a model's weights does. A timed run covers enough tensors to last 50 us (a
// clock tick is coarse against a small call); fwd_ms is one tensor's share of the step, bwd_ms
// its share of the sum.
// With a recorder, the AdamW runs are its fwd pass and the sums its bwd pass, per tensor.
OpMeasurement measure_optimizer(Backend& be, const OpShapeKey& key, const TimingOptions& options, std::uint64_t seed,
                                std::int64_t flush_bytes, KernelRecorder* recorder) {
  const std::int64_t n = key.batch;
  // Each tensor starts on a 4 KiB boundary of its own, as a model's weights are allocations of
  // their own: small tensors share no cache line or prefetch stream with the next (on this host
  // that doubles the time of a 64-element tensor, as the engine's step pays it).
  const std::int64_t stride = (n + 1023) / 1024 * 1024;
  const std::int64_t sets = std::max<std::int64_t>(1, flush_bytes / (16 * stride));
  Values values(seed ^ static_cast<std::uint64_t>(n));
  engine::MemPartScope part(engine::MemPart::kWeights);
  Tensor W = filled(be, {sets * stride}, values, 0.02f), G = filled(be, {sets * stride}, values, 0.01f),
         M = be.alloc({sets * stride}), V = be.alloc({sets * stride});
  be.zero(M);
  be.zero(V);
  // Each run goes on where the last one stopped (a run that restarted would find its tensors in
  // the cache), and never takes a tensor twice (two list entries writing one tensor would race).
  std::int64_t cursor = 0;
  auto view = [&](Tensor& t, std::int64_t c) { return t.flat_view(((cursor + c) % sets) * stride, n); };
  std::int64_t step = 0;
  double sum = 0;
  PassRecords passes(recorder);
  auto run = [&](bool adamw, int calls, bool record = false) {
    be.synchronize();  // the host's enqueueing counts (a launch-bound step pays it)
    std::optional<PassRecords::Run> recorded;
    if (record) recorded.emplace(passes, adamw);
    const auto t0 = be.time_mark();
    if (adamw) {
      std::vector<engine::AdamWSlice> slices;
      for (int c = 0; c < calls; ++c) slices.push_back({view(W, c), view(G, c), view(M, c), view(V, c), 0.1f});
      be.adamw_step(slices, engine::AdamWParams{}, ++step);
    } else {
      std::vector<Tensor> views;
      for (int c = 0; c < calls; ++c) views.push_back(view(G, c));
      sum += be.sum_squares(views);
    }
    const auto t1 = be.time_mark();
    recorded.reset();
    const double ms = be.elapsed_ms(*t0, *t1);
    cursor = (cursor + calls) % sets;
    be.synchronize();
    return ms;
  };
  OpMeasurement out;
  out.key = key;
  out.samples = options.repeats;
  int calls_of[2] = {1, 1};  // per run: [adamw, sum]
  for (bool adamw : {true, false}) {
    run(adamw, 1);  // untimed: a kernel's first launch loads it (CUDA's lazy loading)
    int calls = 1;
    while (calls < 65536 && calls < sets && run(adamw, calls) < 0.05) calls = static_cast<int>(std::min<std::int64_t>(2 * calls, sets));
    for (int r = 0; r < options.warmup; ++r) run(adamw, calls);
    std::vector<double> per_call;
    for (int r = 0; r < options.repeats; ++r) per_call.push_back(run(adamw, calls) / calls);
    calls_of[adamw ? 0 : 1] = calls;
    if (passes.on()) {  // recorded runs after the timed ones
      passes.start();
      for (int r = 0; r < kRecordedRuns; ++r) run(adamw, calls, true);
      passes.stop();
    }
    const Stats st = stats(per_call);
    (adamw ? out.fwd_ms : out.bwd_ms) = std::max(st.mean_ms, 1e-6);
    (adamw ? out.fwd_spread_ms : out.bwd_spread_ms) = st.spread_ms;
  }
  if (!std::isfinite(sum)) throw InternalError("the optimizer's sum of squares is not finite");
  be.synchronize();
  passes.store(out, calls_of[0], calls_of[1]);
  return out;
}

}  // namespace

OpTimer::OpTimer(const Scenario& s, const Graph& g, Backend& be, std::uint64_t seed, KernelRecorder* recorder,
                 std::string unrecorded)
    : s_(s), g_(g), be_(be), seed_(seed), recorder_(recorder), unrecorded_(std::move(unrecorded)) {}

// Bytes written before each timed run so that it starts with cold caches, as a layer of a
// training step does (its inputs and weights were last touched many layers ago, and other
// tenants of a shared last-level cache run between): twice the host's last-level cache on the
// CPU (at least 8 MiB; here 2 x 32 MiB of L3: with 8 MiB, past the core's L2 only, the
// operators ran 7-12% faster than the same operators in spindle-run, with 64 MiB 1-3%), 256 MiB
// on a GPU (past its L2, as Triton's do_bench flushes).
std::int64_t OpTimer::flush_bytes() const {
  if (!be_.host_memory()) return std::int64_t{256} << 20;
  return std::max(std::int64_t{8} << 20, 2 * host_last_level_cache_bytes());
}

std::string OpTimer::timer() const {
  const std::string records = recorder_ != nullptr ? " and " + recorder_->name()
                              : unrecorded_.empty() ? ""
                                                    : " (no kernel records: " + unrecorded_ + ")";
  return be_.timer_name() + records + ", caches flushed (" +
         std::to_string(flush_bytes() >> 20) + " MiB written) before each run";
}

OpMeasurement OpTimer::measure(const MeasureItem& item, const TimingOptions& options) {
  if (options.warmup < 0 || options.repeats < 1)
    throw InternalError("timing with " + std::to_string(options.warmup) + " warm-up runs and " +
                        std::to_string(options.repeats) + " repetitions");
  if (item.key.kind == kOptimizerKind) return measure_optimizer(be_, item.key, options, seed_, flush_bytes(), recorder_);
  const Operator& op = g_.op(item.op);
  const OpShapeKey& key = item.key;
  const std::int64_t rows = key.batch;
  // A contrastive loss scores its rows against the whole gathered batch (the key's out_seq).
  const std::int64_t batch = op.kind == OpKind::kContrastiveLoss ? key.out_seq : rows;
  const engine::RowBlock block{0, rows, batch};

  // The weights: the whole group, or shard 0 of the key's degree where the layer splits.
  const bool shard = key.tp > 1 && tp_splittable(op);
  const std::string group = shard ? tp_shard_group(op.weights, 0, key.tp) : op.weights;
  std::set<std::string> only;
  if (!op.weights.empty()) only.insert(group);
  std::optional<engine::WeightStore> ws;
  {
    engine::MemPartScope part(engine::MemPart::kWeights);
    ws.emplace(s_, g_, be_, seed_, &only, /*moments=*/false);
  }
  engine::LayerShards shards = engine::LayerShards::whole(op.weights);
  if (shard) {
    shards.groups = {group};
    shards.of = key.tp;
    shards.all_reduce = [](Tensor&) {};  // the TP group's all-reduce: costed apart by the model
  }

  // Inputs as the engine's producers give them, for this block of rows.
  Values values(seed_ ^ (static_cast<std::uint64_t>(item.op) << 20) ^ static_cast<std::uint64_t>(rows));
  const engine::OpInputs inputs = engine::op_inputs(g_, op.id);
  engine::TaskBatch data;
  Tensor in, mem;
  {
    engine::MemPartScope part(engine::MemPart::kActivations);
    if (op.kind == OpKind::kPatchEmbed) {
      engine::HostInput& h = data.inputs[op.component];
      h.dims = {rows, op.shape.seq, op.in_features};
      h.features = values.floats(numel(h.dims), 1.0f);
    } else if (op.kind == OpKind::kTokenEmbed) {
      engine::HostInput& h = data.inputs[op.component];
      h.dims = {rows, op.shape.seq};
      h.ids = values.ids(numel(h.dims), op.in_features);
    } else {
      in = filled(be_, concat_dims(g_, inputs.sources, op.kind == OpKind::kContrastiveLoss ? batch : rows), values, 0.5f);
      if (!inputs.memory.empty()) mem = filled(be_, concat_dims(g_, inputs.memory, rows), values, 0.5f);
    }
    if (op.kind == OpKind::kLmHead) {
      data.label_dims = {rows, op.shape.seq};
      data.labels = values.ids(numel(data.label_dims), op.in_features);
    }
  }

  engine::OpRunner runner(be_, *ws);
  std::vector<double> fwd, bwd;
  Tensor dout, din, dmem, flush;
  {
    engine::MemPartScope buffers(engine::MemPart::kBuffers);
    flush = be_.alloc({flush_bytes() / 4}, engine::DType::kF32);
  }
  PassRecords passes(recorder_);
  const int recorded_runs = passes.on() ? kRecordedRuns : 0;
  for (int r = 0; r < options.warmup + options.repeats + recorded_runs; ++r) {
    const bool timed = r >= options.warmup && r < options.warmup + options.repeats;
    const bool recorded = r >= options.warmup + options.repeats;  // after the timed runs, untimed
    if (recorded && r == options.warmup + options.repeats) passes.start();
    engine::OpState st;
    engine::MemPartScope part(engine::MemPart::kActivations);
    be_.zero(flush);
    be_.synchronize();  // the flush done: the host's enqueueing of the operator is inside the interval
    std::optional<PassRecords::Run> fwd_run;
    if (recorded) fwd_run.emplace(passes, true);
    const auto t0 = be_.time_mark();
    Tensor out = runner.forward(op, block, data, in, mem, st, &shards);
    const auto t1 = be_.time_mark();
    fwd_run.reset();
    const double forward_ms = be_.elapsed_ms(*t0, *t1);
    if (r == 0) {  // gradients of the output and buffers for the input gradients, once
      engine::MemPartScope buffers(engine::MemPart::kBuffers);
      if (!out.empty()) dout = filled(be_, out.shape(), values, 0.01f);
      if (!in.empty()) din = be_.alloc(in.shape());
      if (!mem.empty()) dmem = be_.alloc(mem.shape());
    }
    be_.zero(flush);
    be_.synchronize();
    std::optional<PassRecords::Run> bwd_run;
    if (recorded) bwd_run.emplace(passes, false);
    const auto t2 = be_.time_mark();
    runner.backward(op, block, st, dout, din, dmem, &shards);
    const auto t3 = be_.time_mark();
    bwd_run.reset();
    const double backward_ms = be_.elapsed_ms(*t2, *t3);
    if (!timed) continue;
    fwd.push_back(forward_ms);
    bwd.push_back(backward_ms);
  }
  OpMeasurement m;
  m.key = key;
  m.samples = options.repeats;
  const Stats f = stats(fwd), b = stats(bwd);
  // The profile's floor: 1 ns (a clock that did not tick would read 0).
  m.fwd_ms = std::max(f.mean_ms, 1e-6);
  m.bwd_ms = std::max(b.mean_ms, 1e-6);
  m.fwd_spread_ms = f.spread_ms;
  m.bwd_spread_ms = b.spread_ms;
  be_.synchronize();
  passes.store(m);
  return m;
}

}  // namespace spindle::calibrate
