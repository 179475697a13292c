// Properties over the whole zoo (and seeded random scenarios), on plans made once per process
// (zoo_plans.h): every system's plans are sound and never faster than the lower bound,
// spindle stays within 1.07x of C* on Multitask-CLIP, spindle-paper is the published steps, spindle beats the level barrier
// where levels are unbalanced, placement keeps every plan in memory and cuts cross-node
// traffic, and every placed plan lowers to programs that replay to the end.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <tuple>

#include "planner/cost/memory_model.h"
#include "planner/pipeline.h"
#include "planner/schedule/allocator.h"
#include "planner/schedule/bounds.h"
#include "planner/schedule/wavefront.h"
#include "test_scenarios.h"
#include "zoo_plans.h"

namespace spindle::testing {
namespace {

// Soundness of one system's plan.
void check_sound(const Plan& p, const ScenarioModel& m, const std::string& what) {
  EXPECT_EQ(check_plan(p, m.mg, m.cost), "") << what;
  EXPECT_GE(p.planned_s, p.lower_bound_s * (1 - 1e-9)) << what;
  EXPECT_GT(p.cstar_s, 0) << what;
  EXPECT_GE(p.cstar_valid_s, p.cstar_s * (1 - 1e-6)) << what;
  // C*valid bounds schedules with level barriers (spindle-paper; sequential is one too).
  if (p.system == "spindle-paper" || p.system == "sequential") {
    EXPECT_GE(p.planned_s, p.cstar_valid_s * (1 - 1e-6)) << what << ": faster than a bound";
  }
}

TEST(Systems, SoundPlansOnEveryZooScenario) {
  for (const std::string& file : zoo_files())
    for (int nodes : {1, 2, 4, 8}) {
      ZooCase& z = zoo_case(file, nodes);
      for (const std::string& name : system_names()) check_sound(z.plan(name), z.model(), z.what() + " " + name);
    }
}

// Random multi-task contrastive scenarios: 2-6 encoders, 2-9 tasks over random pairs,
// batches with many or few divisors, 1-16 GPUs.
std::string random_scenario(std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint32_t>(n)); };
  const int enc = 2 + pick(5);
  const int gpn[] = {1, 2, 4, 8};
  std::string t = "[scenario]\nname = \"random\"\n[cluster]\nnodes = " + std::to_string(1 + pick(2)) +
                  "\ngpus_per_node = " + std::to_string(gpn[pick(4)]) +
                  "\ngpu = \"a800-80gb\"\nintra_node = { bw_GBps = 200.0, latency_us = 2.0 }\n"
                  "inter_node = { bw_GBps = 50.0, latency_us = 5.0 }\n";
  for (int e = 0; e < enc; ++e) {
    const int h = 64 << pick(3);
    t += "[model.components.e" + std::to_string(e) + "]\nkind = \"encoder\"\nembedding = \"patch\"\npatch_dim = 32\n"
         "tokens = " + std::to_string(8 + pick(120)) + "\nlayers = " + std::to_string(1 + pick(12)) +
         "\nhidden = " + std::to_string(h) + "\nheads = 4\nffn = " + std::to_string(4 * h) + "\n";
    t += "[model.components.h" + std::to_string(e) + "]\nkind = \"projection\"\ninputs = [\"e" + std::to_string(e) +
         "\"]\nhidden = 64\n";
  }
  const int batches[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32};
  const int tasks = 2 + pick(8);
  for (int k = 0; k < tasks; ++k) {
    const int a = pick(enc);
    int b = pick(enc - 1);
    if (b >= a) ++b;
    t += "[[tasks]]\nname = \"t" + std::to_string(k) + "\"\ncomponents = [\"e" + std::to_string(a) + "\", \"h" +
         std::to_string(a) + "\", \"e" + std::to_string(b) + "\", \"h" + std::to_string(b) + "\"]\nbatch = " +
         std::to_string(batches[pick(10)]) + "\nloss = \"contrastive\"\n";
  }
  return t;
}

TEST(Systems, SoundPlansOnRandomScenarios) {
  for (std::uint32_t seed = 1; seed <= 60; ++seed) {
    const ScenarioModel m(load_text(random_scenario(seed)));
    SystemPlanner planner(m.s, m.mg, m.cost);
    for (const std::string& name : system_names())
      check_sound(planner.plan(name), m, "seed " + std::to_string(seed) + " " + name);
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(Systems, SpindleWithoutBarriersIsStrictlyFasterOnUnbalancedLevels) {
  // qwen-val-3: the vision path (48 layers + resampler) is far deeper than the audio path,
  // so level barriers leave devices idle that spindle fills.
  for (const auto& [name, nodes] : {std::pair{"qwen-val-3", 4}, std::pair{"ofasys-4", 8}}) {
    ZooCase& z = zoo_case(default_data_dir() / (std::string(name) + ".toml"), nodes);
    const Plan& paper = z.plan("spindle-paper");
    const Plan& spindle = z.plan("spindle");
    // Measured: qwen-val-3 0.929x, ofasys-4 0.975x (it was 0.967x before wave packing made
    // spindle-paper faster; spindle's own plan did not change).
    EXPECT_LT(spindle.planned_s, paper.planned_s * 0.98) << name;
    EXPECT_EQ(check_plan(spindle, z.model().mg, z.model().cost), "") << name;
  }
}

TEST(Systems, SpindleWithinSevenPercentOfCstarOnMultitaskClip) {
  // Issue 4's bar, now spindle's (its own compute-fastest plan, before the pipeline's choice by
  // the estimate): within 1.07x of C* (the sum of the level optima) on every multitask-clip
  // scenario at 8, 16, 32 and 64 GPUs. spindle-paper, the published algorithm, does not reach
  // it (1.13-1.50x: the greedy wavefront's waves last as long as their shortest piece). Data
  // parallel, as the paper's bar: with TP (issue 20) C* falls and clip-4 at 32 GPUs plans at
  // 1.074x C*, cause not yet investigated.
  for (const char* name : {"multitask-clip-4", "multitask-clip-7", "multitask-clip-10"})
    for (int nodes : {1, 2, 4, 8}) {
      ZooCase& z = zoo_case(default_data_dir() / (std::string(name) + ".toml"), nodes, {"planner.max_tp=1"});
      const Plan& p = z.plan("spindle");
      EXPECT_LE(p.planned_s, 1.07 * p.cstar_s)
          << name << " at " << p.gpus << " GPUs: " << p.planned_s / p.cstar_s << "x C*";
    }
}

TEST(Systems, SpindlePaperIsThePublishedStepsPerLevel) {
  // spindle-paper's plan is exactly, level after level, MPSP's allocation of that level
  // rounded by bi-point and scheduled by the published greedy wavefront from where the level
  // before ended: nothing searched, nothing taken from another system.
  for (const std::string& file : zoo_files()) {
    ZooCase& z = zoo_case(file, 2);
    const ScenarioModel& m = z.model();
    const Plan& p = z.plan("spindle-paper");
    std::vector<Wave> want;
    double now = 0;
    for (int level = 1; level <= m.mg.levels; ++level) {
      const std::vector<LevelItem> items = level_items(m.mg, m.cost, level);
      now = schedule_level(items, allocate_level(items, m.s.cluster.gpus()).pieces, m.s.cluster.gpus(), now, want,
                           AlignRule::kShortestPiece);
    }
    ASSERT_EQ(p.waves.size(), want.size()) << z.what();
    for (size_t w = 0; w < want.size(); ++w) {
      ASSERT_EQ(p.waves[w].slices.size(), want[w].slices.size()) << z.what() << " wave " << w;
      for (size_t k = 0; k < want[w].slices.size(); ++k) {
        const Slice &a = p.waves[w].slices[k], &b = want[w].slices[k];
        EXPECT_EQ(std::tie(a.metaop, a.first_layer, a.last_layer, a.n), std::tie(b.metaop, b.first_layer, b.last_layer, b.n))
            << z.what() << " wave " << w << " slice " << k;
        EXPECT_DOUBLE_EQ(a.start_s, b.start_s) << z.what();
      }
    }
    EXPECT_NEAR(p.planned_s, now, 1e-12) << z.what();
    EXPECT_TRUE(p.schedule_from.empty()) << z.what();
  }
}

TEST(Placement, EverySystemOnEveryZooScenario) {
  for (const std::string& file : zoo_files())
    for (int nodes : {1, 4}) {
      ZooCase& z = zoo_case(file, nodes);
      const ScenarioModel& m = z.model();
      for (const std::string& name : system_names()) {
        Plan in_order = z.plan(name);
        const PlacementReport sequential = place(in_order, m.s, m.g, m.mg, PlacementPolicy::kSequential);
        const PlannedSystem& placed = z.placed(name);
        using Case = std::tuple<const Plan*, const PlacementReport*, PlacementPolicy>;
        for (const auto& [p, r, policy] : {Case{&placed.plan, &placed.placement, PlacementPolicy::kSpindle},
                                           Case{&in_order, &sequential, PlacementPolicy::kSequential}}) {
          const std::string what = z.what() + " " + name + " " + placement_name(policy);
          check_placed(*p, m.mg, what);
          EXPECT_GT(r->peak_mem_GiB, 0) << what;
          EXPECT_EQ(r->mem_GiB.size(), static_cast<size_t>(m.s.cluster.gpus()));
          if (nodes == 1) {
            EXPECT_EQ(r->transfer_inter_bytes, 0) << what;
            EXPECT_EQ(r->sync_inter_bytes, 0) << what;
          }
        }
      }
    }
}

TEST(Placement, EveryZooPlanFitsInMemory) {
  for (const std::string& file : zoo_files()) {
    ZooCase& z = zoo_case(file);
    for (const std::string& name : system_names()) {
      const PlacementReport& r = z.placed(name).placement;
      EXPECT_EQ(r.over_memory_devices, 0) << file << " " << name << ": peak " << r.peak_mem_GiB << " GiB";
      EXPECT_LE(r.peak_mem_GiB, z.model().s.cluster.gpu.memory_GiB()) << file << " " << name;
    }
  }
}

// Bytes crossing nodes: activations between slices plus weight-gradient sync.
double inter_node_bytes(const PlacementReport& r) { return r.transfer_inter_bytes + r.sync_inter_bytes; }

// Placement never moves more bytes across nodes than device ids in order, and its greedy
// (not the in-order fallback) strictly cuts them on some zoo scenarios.
TEST(Placement, CutsCrossNodeTrafficAgainstSequentialPlacement) {
  int greedy_wins = 0;
  for (const std::string& file : zoo_files()) {
    ZooCase& z = zoo_case(file);
    const ScenarioModel& m = z.model();
    Plan b = z.plan("spindle");
    const PlacementReport& placed = z.placed("spindle").placement;
    const PlacementReport in_order = place(b, m.s, m.g, m.mg, PlacementPolicy::kSequential);
    EXPECT_LE(inter_node_bytes(placed), inter_node_bytes(in_order)) << file;
    if (!placed.in_order_kept && inter_node_bytes(placed) < inter_node_bytes(in_order)) ++greedy_wins;
  }
  EXPECT_GE(greedy_wins, 3);
}

TEST(Lowering, ProgramsReplayForEverySystemOnEveryZooScenario) {
  int most_channels = 0;  // a pair's queues: some plans receive a pair's rows in another order than sent
  for (const std::string& file : zoo_files())
    for (int nodes : {1, 4}) {
      ZooCase& z = zoo_case(file, nodes);
      const ScenarioModel& m = z.model();
      for (const std::string& name : system_names()) {
        const std::string what = z.what() + " " + name;
        const Plan& p = z.placed(name).plan;
        Programs progs = lower(p, m.s, m.g, m.mg);
        ASSERT_EQ(progs.devices.size(), static_cast<size_t>(m.s.cluster.gpus()));
        EXPECT_EQ(replay(progs), "") << what;
        EXPECT_EQ(replay(progs, SendMode::kPeerQueue), "") << what << " (NCCL's point-to-point)";
        for (const DeviceProgram& dp : progs.devices)
          for (const Instr& in : dp.instrs) most_channels = std::max(most_channels, in.channel + 1);
        // Every slice's layers run forward and backward on each of its devices, once (a TP
        // slice layer by layer, its all-reduces between).
        std::map<std::tuple<int, int, int>, int> fwd, bwd;  // (device, metaop, layer)
        for (const DeviceProgram& dp : progs.devices)
          for (const Instr& in : dp.instrs)
            for (int l = in.first_layer; l < in.last_layer; ++l) {
              if (in.kind == InstrKind::kForward) ++fwd[{dp.device, in.metaop, l}];
              if (in.kind == InstrKind::kBackward) ++bwd[{dp.device, in.metaop, l}];
            }
        size_t runs = 0;
        for (const Wave& w : p.waves)
          for (const Slice& sl : w.slices)
            for (int d : sl.devices)
              for (int l = sl.first_layer; l < sl.last_layer; ++l) {
                ++runs;
                EXPECT_EQ((fwd[{d, sl.metaop, l}]), 1) << what;
                EXPECT_EQ((bwd[{d, sl.metaop, l}]), 1) << what;
              }
        EXPECT_EQ(fwd.size(), runs) << what;
        // Each device has one optimizer step, after every compute.
        for (const DeviceProgram& dp : progs.devices) {
          int steps = 0;
          for (const Instr& in : dp.instrs) steps += in.kind == InstrKind::kStep;
          EXPECT_EQ(steps, 1) << what;
        }
      }
    }
  std::printf("[zoo] most channels on one device pair: %d\n", most_channels);
  EXPECT_GT(most_channels, 1) << "no plan receives a pair's rows out of send order: the channel test tests nothing";
}

}  // namespace
}  // namespace spindle::testing
