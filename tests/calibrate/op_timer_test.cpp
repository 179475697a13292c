// One key timed with the engine's OpRunner on the CPU backend: every operator kind of the
// host scenario (a TP shard included) runs forward and backward at a small batch, with positive
// times, the samples asked for and a finite spread.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>

#include "calibrate/measure/device_info.h"
#include "calibrate/measure/op_timer.h"
#include "engine/backend_registry.h"
#include "planner/graph/graph_builder.h"
#include "planner/cost/profile_points.h"
#include "planner/graph/metagraph.h"

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
// up to the scenario's largest weight tensor; a bigger tensor takes longer.
TEST(OpTimer, TimesTheOptimizerPerTensor) {
  Host h;
  OpTimer& timer = h.timer;
  const std::vector<MeasureItem> sizes = measure_plan(h.s, h.g, h.mg, Grid{}, "fp32").optimizer;
  ASSERT_GE(sizes.size(), 5u);
  EXPECT_EQ(sizes.front().key.batch, 64);
  double last_step = 0;
  for (const MeasureItem& item : {sizes.front(), sizes.back()}) {
    EXPECT_EQ(item.key.kind, kOptimizerKind);
    const OpMeasurement m = timer.measure(item, TimingOptions{1, 3});
    EXPECT_EQ(m.samples, 3);
    EXPECT_GT(m.fwd_ms, m.bwd_ms) << item.key.str();
    EXPECT_GT(m.bwd_ms, 0) << item.key.str();
    EXPECT_GT(m.fwd_ms, last_step) << item.key.str();
    last_step = m.fwd_ms;
  }
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
