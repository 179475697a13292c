// One key timed with the engine's OpRunner on the CPU backend: every operator kind of the
// host scenario (a TP shard included) runs forward and backward at a small batch, with positive
// times, the samples asked for and a finite spread; a kernel recorder (a fake one standing in
// for CUPTI) sees each timed pass as a run of its own, and its records land in the measurement.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>

#include "calibrate/cuda_registry.h"
#include "calibrate/measure/device_info.h"
#include "calibrate/measure/op_timer.h"
#include "engine/backend_registry.h"
#include "planner/graph/graph_builder.h"
#include "planner/cost/profile_points.h"
#include "planner/graph/metagraph.h"
#include "traces/errors.h"

namespace spindle::calibrate {
namespace {

// The host scenario, its graphs and a timer on the CPU backend.
struct Host {
  Scenario s = load_scenario(default_data_dir() / "clusters" / "cpu-host-2core.toml");
  Graph g = build_graph(s);
  MetaGraph mg = contract(g);
  std::unique_ptr<engine::Backend> be = engine::make_backend("cpu");
  OpTimer timer{s, g, *be, 1};
};

TEST(OpTimer, TimesEveryKindOnTheCpu) {
  Host h;
  const Scenario& s = h.s;
  const Graph& g = h.g;
  const MetaGraph& mg = h.mg;
  OpTimer& timer = h.timer;
  // Past the host's last-level cache (twice it), at least 8 MiB.
  const std::int64_t flush = std::max(std::int64_t{8} << 20, 2 * host_last_level_cache_bytes());
  EXPECT_EQ(timer.flush_bytes(), flush);
  EXPECT_EQ(timer.timer(),
            "steady_clock, caches flushed (" + std::to_string(flush >> 20) + " MiB written) before each run");
  std::set<std::string> kinds;
  int shards = 0;
  for (const MeasureItem& item : measure_plan(s, g, mg, Grid::parse("2"), "fp32").items) {
    const bool shard = item.key.tp > 1 && item.key.kind == "encoder_layer";
    if (kinds.count(item.key.kind) && !(shard && shards == 0)) continue;
    kinds.insert(item.key.kind);
    shards += shard;
    const OpMeasurement m = timer.measure(item, TimingOptions{1, 3});
    EXPECT_EQ(m.key, item.key);
    EXPECT_EQ(m.samples, 3);
    EXPECT_GT(m.fwd_ms, 0) << item.key.str();
    EXPECT_GT(m.bwd_ms, 0) << item.key.str();
    EXPECT_GE(m.fwd_spread_ms, 0);
    EXPECT_LT(m.fwd_ms, 1000) << item.key.str();
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"patch_embed", "token_embed", "encoder_layer", "projection_head",
                                          "contrastive_loss"}));
  EXPECT_EQ(shards, 1) << "a tensor-parallel shard of an encoder layer";
}

// The optimizer's rows: one AdamW call and one tensor's share of the gradient norm per size,
// up to the scenario's largest weight tensor; a much bigger tensor takes longer.
TEST(OpTimer, TimesTheOptimizerPerTensor) {
  Host h;
  OpTimer& timer = h.timer;
  const std::vector<MeasureItem> sizes = measure_plan(h.s, h.g, h.mg, Grid{}, "fp32").optimizer;
  ASSERT_GE(sizes.size(), 5u);
  EXPECT_EQ(sizes.front().key.batch, 64);
  // The largest tensor is 256x the smallest's work (about 17 us against 1 us here). A measurement
  // is a mean over its runs, so one pause of a loaded machine counts in full: the step's time is
  // the least of three measurements. (The step against the norm at 64 elements, about a
  // microsecond each, is inside the noise and not compared.)
  double last_step = 0;
  for (const MeasureItem& item : {sizes.front(), sizes.back()}) {
    EXPECT_EQ(item.key.kind, kOptimizerKind);
    double step = 0;
    for (int i = 0; i < 3; ++i) {
      const OpMeasurement m = timer.measure(item, TimingOptions{1, 3});
      EXPECT_EQ(m.samples, 3);
      EXPECT_GT(m.bwd_ms, 0) << item.key.str();
      step = i == 0 ? m.fwd_ms : std::min(step, m.fwd_ms);
    }
    EXPECT_GT(step, last_step) << item.key.str();
    last_step = step;
  }
}

// Stands in for CUPTI: each run gets one "kernel" of 1 us and a second, overlapping one on the
// forward runs, and a record outside every run; runs may only begin while recording is on.
class FakeRecorder final : public KernelRecorder {
 public:
  void enable(bool on) override {
    enabled_ = on;
    ++toggles;
  }
  void begin_run(std::uint64_t run) override {
    ASSERT_TRUE(enabled_) << "a run begun while recording is off";
    ASSERT_EQ(open_, 0u) << "a run begun inside run " << open_;
    open_ = run;
    runs.push_back(run);
    const std::uint64_t at = 1000000 * run;
    const auto call = static_cast<std::uint32_t>(records_.kernels.size() + 1);
    records_.kernels.push_back({"kernel_a", at, at + 1000, call, 7});
    records_.run_of_call[call] = run;
    if (forward_next) {
      records_.kernels.push_back({"kernel_b", at + 500, at + 2000, call + 1, 8});
      records_.run_of_call[call + 1] = run;
    }
    forward_next = !forward_next;
  }
  void end_run() override {
    ASSERT_NE(open_, 0u) << "a run ended that was not begun";
    open_ = 0;
  }
  KernelRecords collect() override {
    records_.kernels.push_back({"flush", 10, 20, 999999, 7});  // outside every pass: normal
    if (lose_correlation) records_.run_of_call.clear();
    if (lose_a_time) records_.kernels.push_back({"incomplete", 30, 0, 999998, 7});
    ++collects;
    KernelRecords out = std::move(records_);
    records_ = {};
    return out;
  }
  std::string name() const override { return "fake kernel records"; }
  std::vector<std::uint64_t> runs;
  int collects = 0, toggles = 0;
  bool lose_correlation = false, lose_a_time = false;  // CUPTI failing the two ways store() checks
  bool forward_next = true;  // an operator's passes alternate forward, backward

 private:
  bool enabled_ = false;
  std::uint64_t open_ = 0;
  KernelRecords records_;
};

TEST(OpTimer, KeepsTheKernelRecordsOfRecordedPasses) {
  Host h;
  FakeRecorder rec;
  OpTimer timer{h.s, h.g, *h.be, 1, &rec};
  EXPECT_EQ(timer.timer().rfind("steady_clock and fake kernel records, caches flushed (", 0), 0u) << timer.timer();
  const MeasureItem item = measure_plan(h.s, h.g, h.mg, Grid::parse("2"), "fp32").items.front();
  const OpMeasurement m = timer.measure(item, TimingOptions{2, 5});
  // 3 recorded forward and backward passes after the 5 timed ones (not recorded), ids unique.
  ASSERT_EQ(rec.runs.size(), 6u);
  for (size_t i = 1; i < rec.runs.size(); ++i) EXPECT_EQ(rec.runs[i], rec.runs[i - 1] + 1);
  EXPECT_EQ(rec.collects, 1);
  EXPECT_EQ(m.samples, 5);
  EXPECT_DOUBLE_EQ(m.fwd_kernels, 2);
  EXPECT_DOUBLE_EQ(m.bwd_kernels, 1);
  EXPECT_DOUBLE_EQ(m.fwd_kernel_ms, 2e-3);  // [0, 1 us) and [0.5, 2 us): 2 us busy
  EXPECT_DOUBLE_EQ(m.bwd_kernel_ms, 1e-3);
  ASSERT_EQ(m.kernels.size(), 3u);
  EXPECT_EQ(m.kernels[0].pass, "bwd");
  EXPECT_EQ(m.kernels[0].name, "kernel_a");
  EXPECT_EQ(m.kernels[2].name, "kernel_b");
  EXPECT_DOUBLE_EQ(m.kernels[2].ms, 1.5e-3);
  EXPECT_GT(m.fwd_ms, 0);

  // The optimizer: AdamW runs then sums, each 3 recorded; a run steps many tensors, its
  // records are per tensor.
  const std::uint64_t last = rec.runs.back();
  rec.runs.clear();
  rec.forward_next = true;
  const MeasureItem opt = measure_plan(h.s, h.g, h.mg, Grid{}, "fp32").optimizer.front();
  const OpMeasurement o = timer.measure(opt, TimingOptions{0, 2});
  ASSERT_EQ(rec.runs.size(), 6u);
  EXPECT_EQ(rec.runs.front(), last + 1);
  EXPECT_GT(o.fwd_kernels, 0);
  EXPECT_LE(o.fwd_kernels, 2.0);  // records per run over one tensor or more
}

// Records that cannot be tied to the passes (no correlation, a lost time) stop the measurement
// with one line instead of lowering the figures without a sign.
TEST(OpTimer, KernelRecordsThatCannotBeAttributedAreAnError) {
  Host h;
  const MeasureItem item = measure_plan(h.s, h.g, h.mg, Grid::parse("2"), "fp32").items.front();
  for (bool correlation : {true, false}) {
    FakeRecorder rec;
    (correlation ? rec.lose_correlation : rec.lose_a_time) = true;
    OpTimer timer{h.s, h.g, *h.be, 1, &rec};
    try {
      timer.measure(item, TimingOptions{0, 1});
      ADD_FAILURE() << "no error";
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find(correlation ? "6 recorded passes without records while 10 records"
                                                       : "1 records without a start or an end"),
                std::string::npos)
          << e.what();
    }
  }
}

// Nothing records on the CPU backend; on CUDA where CUPTI refuses, the reason is CUPTI's.
TEST(OpTimer, NoKernelRecorderOnTheCpu) {
  std::string why;
  EXPECT_EQ(open_kernel_recorder("cpu", why), nullptr);
  EXPECT_EQ(why, "no kernel records on the cpu backend");
  why.clear();
  const std::unique_ptr<KernelRecorder> cuda = open_kernel_recorder("cuda", why);
  if (cuda == nullptr) EXPECT_TRUE(why.rfind("CUPTI unavailable: ", 0) == 0 || why == "built without CUDA") << why;
  else EXPECT_NE(cuda->name().find("CUPTI"), std::string::npos);
  Host h;
  OpTimer refused{h.s, h.g, *h.be, 1, nullptr, "CUPTI unavailable: no device"};
  EXPECT_EQ(refused.timer().rfind("steady_clock (no kernel records: CUPTI unavailable: no device), caches", 0), 0u);
}

TEST(OpTimer, SaysWhatMeasured) {
  const DeviceInfo d = device_info("cpu");
  EXPECT_FALSE(d.device.empty());
  EXPECT_NE(d.libraries.find("OpenBLAS"), std::string::npos) << d.libraries;
  EXPECT_NE(d.libraries.find("; 1 thread"), std::string::npos) << d.libraries;
  EXPECT_EQ(utc_now().size(), 20u);
}

}  // namespace
}  // namespace spindle::calibrate
