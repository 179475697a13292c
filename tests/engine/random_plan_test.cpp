// Equivalence under random valid plans (random_plan.h): 20 seeds over tiny multitask-clip-4
// and ofasys-4 with every task's batch 12, on 3 to 8 logical devices, ZeRO-1 on for half
// the seeds of each scenario; each plan must pass check_plan, lower to programs that replay, and match the
// one-device reference (equivalence_check.h).
#include <gtest/gtest.h>

#include <cstdio>

#include "engine_test_util.h"
#include "equivalence_check.h"
#include "planner/program/lowering.h"
#include "random_plan.h"

namespace spindle::engine::test {
namespace {

class RandomPlans : public ::testing::TestWithParam<int> {};

TEST_P(RandomPlans, MatchOneDevice) {
  const int seed = GetParam();
  Scenario s = zoo(seed % 2 == 0 ? "multitask-clip-4" : "ofasys-4");
  for (Task& t : s.tasks) t.batch = 12;
  s.planner.zero1 = (seed / 2) % 2 == 1;
  const int gpus = 3 + seed % 6;
  s.cluster.nodes = 1;
  s.cluster.gpus_per_node = gpus;
  const Graph g = build_graph(s);
  const MetaGraph mg = contract(g);
  const CostModel cost(s, g, mg);
  const Plan plan = random_plan(mg, cost, gpus, static_cast<std::uint64_t>(seed));
  ASSERT_EQ(check_plan(plan, mg, cost), "");
  const Programs programs = lower(plan, s, g, mg);
  ASSERT_EQ(replay(programs), "");
  ASSERT_EQ(replay(programs, SendMode::kPeerQueue), "");
  const std::string what = s.name + " random plan " + std::to_string(seed) + " on " + std::to_string(gpus) +
                           (s.planner.zero1 ? " with ZeRO-1" : "");
  int split = 0;
  for (const Wave& w : plan.waves) split += w.slices.front().first_layer > 0;
  const Agreement a = check_equivalence(s, programs, what);
  std::printf("[equivalence] %s: %zu slices (%d continue a MetaOp), worst loss diff %.3g, worst gradient diff %.3g (%s)\n",
              what.c_str(), plan.waves.size(), split, a.worst_loss, a.worst_grad, a.worst_grad_name.c_str());
}

INSTANTIATE_TEST_SUITE_P(equivalence, RandomPlans, ::testing::Range(1, 21));

// Random DP x TP plans: every splittable component at a random degree of its options, slices
// of tp groups and nested shards mixed across waves; multitask-clip-4, ofasys-4 and qwen-val-3
// (decoder layers with cross-attention, a resampler) on 4 or 8 devices, ZeRO-1 on odd seeds.
class RandomTpPlans : public ::testing::TestWithParam<int> {};

TEST_P(RandomTpPlans, MatchOneDevice) {
  const int seed = GetParam();
  static const char* const names[] = {"multitask-clip-4", "ofasys-4", "qwen-val-3"};
  Scenario s = zoo(names[seed % 3]);
  for (Task& t : s.tasks) t.batch = 8;
  s.planner.zero1 = seed % 2 == 1;
  const int gpus = seed % 4 < 2 ? 4 : 8;
  s.cluster.nodes = 1;
  s.cluster.gpus_per_node = gpus;
  const Graph g = build_graph(s);
  const MetaGraph mg = contract(g);
  const CostModel cost(s, g, mg);
  const Plan plan = random_plan(mg, cost, gpus, static_cast<std::uint64_t>(seed), true);
  ASSERT_EQ(check_plan(plan, mg, cost.with_layout(plan.tp)), "");
  const Programs programs = lower(plan, s, g, mg);
  ASSERT_EQ(replay(programs), "");
  ASSERT_EQ(replay(programs, SendMode::kPeerQueue), "");
  std::string layout;
  int tp_slices = 0, nested = 0;
  for (const auto& [component, tp] : plan.tp)
    if (tp > 1) layout += " " + component + "=" + std::to_string(tp);
  for (const Wave& w : plan.waves)
    for (const Slice& sl : w.slices) {
      tp_slices += sl.tp > 1;
      const auto it = plan.tp.find(mg.metaops[static_cast<size_t>(sl.metaop)].weight_set);
      nested += it != plan.tp.end() && sl.tp < it->second;
    }
  const std::string what = s.name + " random TP plan " + std::to_string(seed) + " on " + std::to_string(gpus) +
                           (s.planner.zero1 ? " with ZeRO-1" : "") + " (layout" + (layout.empty() ? " DP" : layout) + ")";
  const Agreement a = check_equivalence(s, programs, what);
  std::printf("[equivalence] %s: %d TP slices, %d on nested shards, worst loss diff %.3g, worst gradient diff %.3g (%s)\n",
              what.c_str(), tp_slices, nested, a.worst_loss, a.worst_grad, a.worst_grad_name.c_str());
}

INSTANTIATE_TEST_SUITE_P(equivalence, RandomTpPlans, ::testing::Range(1, 25));

}  // namespace
}  // namespace spindle::engine::test
