// Device placement: every slice gets n distinct devices that run nothing else meanwhile, the
// devices' rows partition the batch, placed plans round-trip through the plan file, and
// placement cuts cross-node traffic against the sequential-placement ablation.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "planner/graph_builder.h"
#include "planner/placement.h"
#include "planner/systems.h"
#include "test_scenarios.h"
#include "traces/atomic_file.h"

namespace spindle::testing {
namespace {

void check_placed(const Plan& p, const MetaGraph& mg, const std::string& what) {
  std::vector<std::vector<std::pair<double, double>>> busy(static_cast<size_t>(p.gpus));
  for (const Wave& w : p.waves)
    for (const Slice& sl : w.slices) {
      ASSERT_EQ(static_cast<int>(sl.devices.size()), sl.n) << what;
      std::set<int> distinct(sl.devices.begin(), sl.devices.end());
      EXPECT_EQ(static_cast<int>(distinct.size()), sl.n) << what;
      for (int d : sl.devices) {
        ASSERT_GE(d, 0);
        ASSERT_LT(d, p.gpus);
        for (auto [s0, s1] : busy[static_cast<size_t>(d)])
          EXPECT_TRUE(sl.end_s <= s0 + 1e-12 || sl.start_s >= s1 - 1e-12) << what << ": device " << d << " runs two slices";
        busy[static_cast<size_t>(d)].push_back({sl.start_s, sl.end_s});
      }
      // The devices' rows partition the batch.
      const int batch = static_cast<int>(mg.metaops[static_cast<size_t>(sl.metaop)].shape.batch);
      int next = 0;
      for (int k = 0; k < sl.n; ++k) {
        auto [r0, r1] = slice_rows(batch, sl.n, k);
        EXPECT_EQ(r0, next);
        EXPECT_GT(r1, r0);
        next = r1;
      }
      EXPECT_EQ(next, batch) << what;
    }
}

TEST(Placement, EverySystemOnEveryZooScenario) {
  for (const std::string& file : zoo_files())
    for (int nodes : {1, 4}) {
      LoadOptions o;
      o.overrides = {"cluster.nodes=" + std::to_string(nodes)};
      Pipeline pipe(load_scenario(file, o));
      auto& [s, g, mg, cost] = pipe;
      for (const std::string& name : system_names())
        for (PlacementPolicy policy : {PlacementPolicy::kSpindle, PlacementPolicy::kSequential}) {
          Plan p = plan_system(name, s, mg, cost);
          PlacementReport r = place(p, s, g, mg, policy);
          const std::string what = file + " " + name + " " + placement_name(policy);
          check_placed(p, mg, what);
          EXPECT_GT(r.peak_mem_GiB, 0) << what;
          EXPECT_EQ(r.mem_GiB.size(), static_cast<size_t>(s.cluster.gpus()));
          if (nodes == 1) {
            EXPECT_EQ(r.transfer_inter_bytes, 0) << what;
            EXPECT_EQ(r.sync_inter_bytes, 0) << what;
          }
        }
    }
}

TEST(Placement, CutsCrossNodeTrafficAgainstSequentialPlacement) {
  Pipeline pipe(load_scenario(default_data_dir() / "multitask-clip-10.toml"));
  auto& [s, g, mg, cost] = pipe;
  Plan a = plan_system("spindle", s, mg, cost), b = a;
  PlacementReport placed = place(a, s, g, mg, PlacementPolicy::kSpindle);
  PlacementReport in_order = place(b, s, g, mg, PlacementPolicy::kSequential);
  EXPECT_LT(placed.transfer_inter_bytes, in_order.transfer_inter_bytes);
}

TEST(Placement, PlacedPlansRoundTrip) {
  Pipeline pipe(load_scenario(default_data_dir() / "multitask-clip-4.toml"));
  auto& [s, g, mg, cost] = pipe;
  Plan p = plan_system("spindle", s, mg, cost);
  PlacementReport r = place(p, s, g, mg, PlacementPolicy::kSpindle);
  const std::string file = (std::filesystem::temp_directory_path() / "spindle-placed.json").string();
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
