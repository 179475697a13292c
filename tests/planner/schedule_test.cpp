// The scheduling steps on small cases worked out by hand: the published wavefront of one
// MetaLevel (schedule_level), merging of waves that continue each other, the whole-graph
// wavefront without barriers, compaction of a plan, and the uniform and Optimus baselines.
#include <gtest/gtest.h>

#include <numeric>

#include "planner/schedule/allocator.h"
#include "planner/schedule/baselines.h"
#include "planner/schedule/bounds.h"
#include "planner/schedule/no_barrier.h"
#include "planner/schedule/wavefront.h"
#include "test_scenarios.h"

namespace spindle::testing {
namespace {

Slice slice(int metaop, int first, int last, int n, double start, double end) {
  Slice s;
  s.metaop = metaop;
  s.first_layer = first;
  s.last_layer = last;
  s.n = n;
  s.start_s = start;
  s.end_s = end;
  return s;
}

// T(n) = 1/n on 4 devices. M0 has 2 layers on 2 devices, M1 6 layers on 2 devices. Wave 1:
// both fit (M1 first: more work), the published span is the shorter piece, 2 x 0.5 = 1, in
// which M1 runs 2 of its layers. Wave 2: M1 alone, widened onto the idle devices (T(4) =
// 0.25 < T(2)), runs its last 4 layers in 1.
TEST(ScheduleLevel, PublishedWavefrontOnAHandCase) {
  const ScalingCurve c = linear_curve(1.0, 4);
  const std::vector<LevelItem> items = {level_item(0, 2, c), level_item(1, 6, c)};
  const std::vector<Piece> pieces = {{0, 0, 2, 2}, {1, 0, 6, 2}};
  std::vector<Wave> out;
  const double end = schedule_level(items, pieces, 4, 10.0, out);
  EXPECT_NEAR(end, 12.0, 1e-12);
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[0].slices.size(), 2u);
  EXPECT_EQ(out[0].slices[0].metaop, 0);
  EXPECT_EQ(out[0].slices[0].layers(), 2);
  EXPECT_EQ(out[0].slices[0].n, 2);
  EXPECT_EQ(out[0].slices[1].metaop, 1);
  EXPECT_EQ(out[0].slices[1].first_layer, 0);
  EXPECT_EQ(out[0].slices[1].last_layer, 2);
  EXPECT_DOUBLE_EQ(out[0].start_s, 10.0);
  EXPECT_NEAR(out[0].end_s, 11.0, 1e-12);
  ASSERT_EQ(out[1].slices.size(), 1u);
  EXPECT_EQ(out[1].slices[0].metaop, 1);
  EXPECT_EQ(out[1].slices[0].first_layer, 2);
  EXPECT_EQ(out[1].slices[0].last_layer, 6);
  EXPECT_EQ(out[1].slices[0].n, 4);
  EXPECT_NEAR(out[1].slices[0].end_s, 12.0, 1e-12);
}

// Two equal pieces that fill the devices run side by side in one wave of their length.
TEST(ScheduleLevel, PiecesThatFitRunInOneWave) {
  const ScalingCurve c = linear_curve(1.0, 4);
  const std::vector<LevelItem> items = {level_item(0, 4, c), level_item(1, 4, c)};
  std::vector<Wave> out;
  EXPECT_NEAR(schedule_level(items, {{0, 0, 4, 2}, {1, 0, 4, 2}}, 4, 0.0, out), 2.0, 1e-12);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].slices.size(), 2u);
  for (const Slice& s : out[0].slices) EXPECT_EQ(s.layers(), 4);
}

TEST(MergeIdenticalWaves, JoinsWavesThatContinueEachOther) {
  Wave before{0, 1, {slice(7, 0, 1, 1, 0, 1)}};
  Wave a{1, 2, {slice(0, 0, 2, 2, 1, 2), slice(1, 0, 1, 2, 1, 1.5)}};
  Wave b{2, 3.5, {slice(0, 2, 5, 2, 2, 3.5), slice(1, 1, 3, 2, 2, 3)}};    // continues a
  Wave c{3.5, 4, {slice(0, 5, 6, 4, 3.5, 3.75), slice(1, 3, 4, 2, 3.5, 4)}};  // M0 widened: not merged
  std::vector<Wave> waves = {before, a, b, c};
  merge_identical_waves(waves, 1);
  ASSERT_EQ(waves.size(), 3u);
  EXPECT_EQ(waves[0].slices[0].metaop, 7);  // before `from`: untouched
  EXPECT_DOUBLE_EQ(waves[1].start_s, 1.0);
  EXPECT_DOUBLE_EQ(waves[1].end_s, 3.5);
  EXPECT_EQ(waves[1].slices[0].last_layer, 5);
  EXPECT_DOUBLE_EQ(waves[1].slices[0].end_s, 1 + 1 + 1.5);  // 2 layers, then 3, back to back
  EXPECT_EQ(waves[1].slices[1].last_layer, 3);
  EXPECT_DOUBLE_EQ(waves[1].slices[1].end_s, 1 + 0.5 + 1);
  EXPECT_EQ(waves[2].slices[0].n, 4);
}

// small_scenario(): 14 MetaOps on 4 levels (embeddings; encoder layers; heads; losses).
ScenarioModel small(const std::vector<std::string>& overrides) { return ScenarioModel(load_text(small_scenario(), overrides)); }

// On one device the whole-graph wavefront runs one MetaOp at a time, whole, so the makespan
// is the sum of every MetaOp's single-device time.
TEST(ScheduleWithoutBarriers, OneDeviceRunsEveryMetaOpWholeInTurn) {
  const ScenarioModel m = small({"cluster.nodes=1", "cluster.gpus_per_node=1"});
  double sum = 0;
  for (const MetaOp& op : m.mg.metaops) sum += op.L * m.cost.metaop(op.id).curve.time_s(1);
  for (SpanChoice choice : {SpanChoice::kFirstCompletion, SpanChoice::kBestSpan}) {
    std::vector<Wave> waves;
    EXPECT_NEAR(schedule_without_barriers(m.mg, m.cost, 1, choice, waves), sum, 1e-12 * sum);
    EXPECT_EQ(waves.size(), m.mg.metaops.size());
    for (const Wave& w : waves) {
      ASSERT_EQ(w.slices.size(), 1u);
      EXPECT_EQ(w.slices[0].layers(), m.mg.metaops[static_cast<size_t>(w.slices[0].metaop)].L);
    }
  }
}

// The first wave runs only MetaOps without predecessors (the four embeddings), and with the
// first-completion span it ends when the first of them is done: one slice runs to its end.
TEST(ScheduleWithoutBarriers, FirstWaveIsTheReadyMetaOps) {
  const ScenarioModel m = small({});
  std::vector<Wave> waves;
  schedule_without_barriers(m.mg, m.cost, m.s.cluster.gpus(), SpanChoice::kFirstCompletion, waves);
  ASSERT_FALSE(waves.empty());
  int finished = 0;
  for (const Slice& s : waves[0].slices) {
    EXPECT_LE(s.metaop, 3);
    EXPECT_TRUE(m.mg.metaops[static_cast<size_t>(s.metaop)].preds.empty());
    finished += s.last_layer == m.mg.metaops[static_cast<size_t>(s.metaop)].L;
  }
  EXPECT_GE(finished, 1);
  Plan p;
  p.gpus = m.s.cluster.gpus();
  p.waves = waves;
  p.finish();
  EXPECT_EQ(check_plan(p, m.mg, m.cost), "");
  EXPECT_GE(p.planned_s, lower_bound_s(m.mg, m.cost, p.gpus) * (1 - 1e-12));
}

// Compaction moves a slice back to the earliest time its MetaOp's predecessors allow and
// devices are free: M1 (no predecessors) from after M0 to time 0; M4 (after M0) to M0's end.
TEST(CompactPlan, SlicesStartAsSoonAsPredecessorsAndDevicesAllow) {
  const ScenarioModel m = small({"cluster.nodes=1", "cluster.gpus_per_node=2"});
  const auto t = [&](int id, int n) { return m.cost.metaop(id).curve.time_s(n); };
  const double t0 = t(0, 1), t1 = t(1, 1), t4 = 2 * t(4, 1);
  Plan p;
  p.gpus = 2;
  p.waves = {Wave{0, t0, {slice(0, 0, 1, 1, 0, t0)}}, Wave{t0, t0 + t1, {slice(1, 0, 1, 1, t0, t0 + t1)}},
             Wave{t0 + t1, t0 + t1 + t4, {slice(4, 0, 2, 1, t0 + t1, t0 + t1 + t4)}}};
  p.finish();
  compact_plan(p, m.mg, m.cost);
  EXPECT_DOUBLE_EQ(p.waves[1].slices[0].start_s, 0.0);
  EXPECT_DOUBLE_EQ(p.waves[2].slices[0].start_s, t0);
  EXPECT_DOUBLE_EQ(p.planned_s, std::max(t1, t0 + t4));
  // On one device nothing can overlap: the plan keeps its times.
  Plan one = p;
  one.gpus = 1;
  one.waves = {Wave{0, t0, {slice(0, 0, 1, 1, 0, t0)}}, Wave{t0, t0 + t1, {slice(1, 0, 1, 1, t0, t0 + t1)}}};
  one.finish();
  compact_plan(one, m.mg, m.cost);
  EXPECT_DOUBLE_EQ(one.waves[1].slices[0].start_s, t0);
  EXPECT_DOUBLE_EQ(one.planned_s, t0 + t1);
}

// The task's MetaOps in dependency order: ab runs 0, 1, 4, 5, 8, 9, 12; ab2 2, 3, 6, 7, 10, 11, 13.
const std::vector<std::vector<int>> kTaskMetaOps = {{0, 1, 4, 5, 8, 9, 12}, {2, 3, 6, 7, 10, 11, 13}};

// Uniform on 8 GPUs: two groups of 4, one task each; wave k holds each task's k-th MetaOp,
// which starts when the task's previous one ends.
TEST(PlanUniform, EqualGroupsOneTaskEach) {
  const ScenarioModel m = small({});
  const Plan p = plan_uniform(m.s, m.mg, m.cost);
  ASSERT_EQ(p.waves.size(), 7u);
  std::vector<double> task_end(2, 0.0);
  for (size_t k = 0; k < p.waves.size(); ++k) {
    ASSERT_EQ(p.waves[k].slices.size(), 2u);
    for (size_t t = 0; t < 2; ++t) {
      const Slice& s = p.waves[k].slices[t];
      EXPECT_EQ(s.metaop, kTaskMetaOps[t][k]);
      EXPECT_LE(s.n, 4);
      EXPECT_EQ(s.layers(), m.mg.metaops[static_cast<size_t>(s.metaop)].L);
      EXPECT_DOUBLE_EQ(s.start_s, task_end[t]);
      EXPECT_DOUBLE_EQ(s.end_s, s.start_s + s.layers() * m.cost.metaop(s.metaop).curve.time_s(s.n));
      task_end[t] = s.end_s;
    }
  }
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_EQ(p.notes[0], "8 GPUs split into 2 equal groups, one task each");
  // 3 GPUs: groups of 2 and 1; one GPU: both tasks one after another on it.
  const ScenarioModel three = small({"cluster.nodes=1", "cluster.gpus_per_node=3"});
  EXPECT_EQ(plan_uniform(three.s, three.mg, three.cost).notes[0],
            "3 GPUs split into 2 equal groups (the first 1 one larger), one task each");
  const ScenarioModel one = small({"cluster.nodes=1", "cluster.gpus_per_node=1"});
  const Plan q = plan_uniform(one.s, one.mg, one.cost);
  EXPECT_EQ(q.notes[0], "2 tasks on 1 GPUs: tasks dealt round-robin onto one GPU each; tasks sharing a GPU run one after another");
  double sum = 0;
  for (const MetaOp& op : one.mg.metaops) sum += op.L * one.cost.metaop(op.id).curve.time_s(1);
  Plan finished = q;
  finished.finish();
  EXPECT_NEAR(finished.planned_s, sum, 1e-12 * sum);
}

// Optimus with as many GPUs as tasks: no spare GPU, one each; with fewer GPUs than tasks,
// longest task first onto the least-loaded GPU (one GPU: everything on it).
TEST(PlanOptimus, GroupsByMarginalGain) {
  const ScenarioModel two = small({"cluster.nodes=1", "cluster.gpus_per_node=2"});
  const Plan p = plan_optimus(two.s, two.mg, two.cost);
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_EQ(p.notes[0], "GPUs per task by marginal gain: ab 1, ab2 1");
  for (const Wave& w : p.waves)
    for (const Slice& s : w.slices) EXPECT_EQ(s.n, 1);
  const ScenarioModel one = small({"cluster.nodes=1", "cluster.gpus_per_node=1"});
  EXPECT_EQ(plan_optimus(one.s, one.mg, one.cost).notes[0],
            "2 tasks on 1 GPUs: one GPU per group, longest task first onto the least-loaded GPU");
  // 8 GPUs: every GPU goes to a task, none to a task it would not speed up.
  const ScenarioModel eight = small({});
  const Plan q = plan_optimus(eight.s, eight.mg, eight.cost);
  for (const Wave& w : q.waves)
    for (const Slice& s : w.slices) EXPECT_LE(s.n, 8);
  EXPECT_EQ(q.notes[0].rfind("GPUs per task by marginal gain: ab ", 0), 0u) << q.notes[0];
}

}  // namespace
}  // namespace spindle::testing
