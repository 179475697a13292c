// Device placement: every slice gets n distinct devices that run nothing else meanwhile, the
// devices' rows partition the batch, placed plans round-trip through the plan file, and
// placement cuts cross-node traffic against the sequential-placement ablation, every zoo
// plan fits in GPU memory, and backtracking rescues a plan that greedy placement overflows.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "planner/cost/memory_model.h"
#include "planner/graph/graph_builder.h"
#include "planner/place/placement.h"
#include "planner/schedule/systems.h"
#include "test_scenarios.h"
#include "traces/atomic_file.h"

namespace spindle::testing {
namespace {

// Four GPUs; two encoders of equal, large layers shared by two tasks. Hand plan: the
// embeddings first, then a[0,1) and a[1,2) one after the other on one device each while
// b/ab (3 layers) runs long on another, then b/ab2 on 3 devices. Greedy placement puts
// a[1,2) where a[0,1) ran (its rows are there), so that device cannot also take b's three
// layers; backtracking moves a[1,2) to another device and everything fits.
TEST(Placement, BacktrackingRescuesAPlanGreedyPlacementOverflows) {
  // small_scenario() on one node of 4 GPUs, both encoders widened to 4096, task ab2 batch 6.
  const std::string text = small_scenario();
  std::vector<std::string> overrides = {"cluster.nodes=1", "tasks.1.batch=6", "planner.max_tp=1"};  // data parallel
  for (const char* c : {"a", "b"})
    for (const char* kv : {"hidden=4096", "heads=32", "ffn=16384"})
      overrides.push_back(std::string("model.components.") + c + "." + kv);
  // Room for four layers' weight state and a half, not five (plus the small rest).
  ScenarioModel probe(load_text(text, overrides));
  const Operator& layer = probe.g.op(probe.mg.metaops[4].ops.front());
  const double state_GiB = weight_state_bytes(static_cast<double>(layer.cost.params), 3, false, true) / kGiB;
  const double workspace = probe.s.cluster.gpu.memory_GiB() - 4.5 * state_GiB;
  overrides.push_back("planner.workspace_GiB=" + std::to_string(workspace));
  ScenarioModel pipe(load_text(text, overrides));
  // Named, not bound: clang 14 lets no lambda capture a structured binding.
  [[maybe_unused]] Scenario& s = pipe.s;
  [[maybe_unused]] Graph& g = pipe.g;
  [[maybe_unused]] MetaGraph& mg = pipe.mg;
  [[maybe_unused]] CostModel& cost = pipe.cost;
  ASSERT_EQ(mg.metaops.size(), 14u);
  ASSERT_EQ(mg.metaops[4].L, 2);  // a/ab
  ASSERT_EQ(mg.metaops[5].L, 3);  // b/ab
  ASSERT_EQ(mg.metaops[7].L, 3);  // b/ab2

  Plan plan;
  plan.system = "hand";
  plan.gpus = 4;
  Wave w;
  auto add = [&](int metaop, int first, int last, int n, double start) {
    Slice sl{metaop, first, last, n, start, start + (last - first) * cost.metaop(metaop).curve.time_s(n), {}};
    w.slices.push_back(sl);
    return sl.end_s;
  };
  double t = 0;
  for (int m = 0; m < 4; ++m) t = std::max(t, add(m, 0, 1, 1, 0.0));  // embeddings
  const double a0_end = add(4, 0, 1, 1, t);                          // a/ab [0,1)
  const double b_end = add(5, 0, 3, 1, t);                           // b/ab, long
  const double a1_end = add(4, 1, 2, 1, a0_end);                     // a/ab [1,2)
  ASSERT_LT(a1_end, b_end);
  t = add(7, 0, 3, 3, a1_end);  // b/ab2 on the 3 devices b/ab leaves free
  t = std::max(t, b_end);
  t = add(6, 0, 1, 1, t);  // a/ab2, one layer at a time: no device has room for both
  t = add(6, 1, 2, 1, t);
  for (int m = 8; m < 12; ++m) t = add(m, 0, 1, 1, t);  // heads
  t = add(12, 0, 1, 1, t);                               // losses
  t = add(13, 0, 1, 1, t);
  w.end_s = t;
  plan.waves.push_back(w);
  plan.finish();
  ASSERT_EQ(check_plan(plan, mg, cost), "");

  Plan greedy = plan;
  PlacementReport g_rep = place(greedy, s, g, mg, PlacementPolicy::kSpindle, /*backtrack=*/false);
  EXPECT_GT(g_rep.over_memory_devices, 0) << "greedy placement should overflow this plan";
  PlacementReport b_rep = place(plan, s, g, mg, PlacementPolicy::kSpindle);
  EXPECT_GT(b_rep.backtracks, 0);
  EXPECT_EQ(b_rep.over_memory_devices, 0) << "peak " << b_rep.peak_mem_GiB << " GiB";
  check_placed(plan, mg, "backtracked");
  EXPECT_EQ(check_plan(plan, mg, cost), "");
}

// Multitask-CLIP with 4 tasks on 2 nodes: without level barriers, small slices start before
// the vision encoder's 8-GPU slices and took a device of the node it needed, so its gradient
// sync crossed the network (simulated 55 ms instead of 30). The topology repair keeps every
// slice that fits in one node inside one node.
TEST(Placement, TopologyRepairKeepsNodeSizedSlicesInOneNode) {
  LoadOptions o;
  o.overrides = {"cluster.nodes=2"};
  ScenarioModel pipe(load_scenario(default_data_dir() / "multitask-clip-4.toml", o));
  // Named, not bound: clang 14 lets no lambda capture a structured binding.
  [[maybe_unused]] Scenario& s = pipe.s;
  [[maybe_unused]] Graph& g = pipe.g;
  [[maybe_unused]] MetaGraph& mg = pipe.mg;
  [[maybe_unused]] CostModel& cost = pipe.cost;
  Plan p = plan_system("spindle", s, mg, cost);
  const PlacementReport r = place(p, s, g, mg, PlacementPolicy::kSpindle);
  EXPECT_GE(r.topology_repairs, 1);
  const int gpn = s.cluster.gpus_per_node;
  for (const Wave& w : p.waves)
    for (const Slice& sl : w.slices) {
      if (sl.n > gpn || mg.metaops[static_cast<size_t>(sl.metaop)].component != s.model.index_of("vision")) continue;
      std::set<int> nodes;
      for (int d : sl.devices) nodes.insert(d / gpn);
      EXPECT_EQ(nodes.size(), 1u) << "vision layers [" << sl.first_layer << "," << sl.last_layer << ") x" << sl.n;
    }
}

TEST(Placement, PlacedPlansRoundTrip) {
  ScenarioModel pipe(load_scenario(default_data_dir() / "multitask-clip-4.toml"));
  // Named, not bound: clang 14 lets no lambda capture a structured binding.
  [[maybe_unused]] Scenario& s = pipe.s;
  [[maybe_unused]] Graph& g = pipe.g;
  [[maybe_unused]] MetaGraph& mg = pipe.mg;
  [[maybe_unused]] CostModel& cost = pipe.cost;
  Plan p = plan_system("spindle", s, mg, cost);
  PlacementReport r = place(p, s, g, mg, PlacementPolicy::kSpindle);
  const std::string file = unique_temp_path("spindle-placed.json").string();
  write_file_atomically(file, plan_json(p, s, mg));
  Plan q = read_plan(file, s, mg, cost);
  PlacementReport again = measure_placement(q, s, g, mg);
  EXPECT_DOUBLE_EQ(again.transfer_inter_bytes, r.transfer_inter_bytes);
  EXPECT_DOUBLE_EQ(again.sync_inter_bytes, r.sync_inter_bytes);
  EXPECT_DOUBLE_EQ(again.peak_mem_GiB, r.peak_mem_GiB);
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace spindle::testing
