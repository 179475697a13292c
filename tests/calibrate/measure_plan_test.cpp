// What spindle-calibrate measures: every key the cost model samples (its own enumeration) is
// in the plan, marked asked; the default grid's other points are powers of two spanning them;
// --grid parses strictly. The host scenario's model is multitask-clip-4 at the tiny scale.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "calibrate/measure/collective_timer.h"
#include "calibrate/plan/measure_plan.h"
#include "planner/config/model_scale.h"
#include "planner/cost/cost_model.h"
#include "planner/cost/profile_points.h"
#include "planner/graph/graph_builder.h"
#include "planner/pipeline.h"
#include "traces/errors.h"

namespace spindle::calibrate {
namespace {

const Scenario& host() {
  static const Scenario s = load_scenario(default_data_dir() / "clusters" / "cpu-host-2core.toml");
  return s;
}

bool pow2(std::int64_t b) { return b > 0 && (b & (b - 1)) == 0; }

TEST(MeasurePlan, HoldsEveryKeyTheCostModelSamples) {
  const ScenarioModel m(host());
  const MeasurePlan plan = measure_plan(m.s, m.g, m.mg, Grid{}, "fp32");
  const std::vector<MeasureItem>& items = plan.items;
  std::set<OpShapeKey> keys, asked;
  for (const MeasureItem& it : items) {
    EXPECT_TRUE(keys.insert(it.key).second) << "twice: " << it.key.str();
    if (it.asked) asked.insert(it.key);
    else EXPECT_TRUE(pow2(it.key.batch)) << it.key.str();
    EXPECT_TRUE(it.key.same_shape(shape_key(m.g.op(it.op), ParallelConfig{1, it.key.tp, false}, "fp32")));
  }
  EXPECT_TRUE(std::is_sorted(items.begin(), items.end(),
                             [](const MeasureItem& a, const MeasureItem& b) { return a.key < b.key; }));
  // Every sample of every MetaOp at every TP degree costed (not only the layout's) is on the
  // grid (a power of two: marked asked) or between two grid points of its shape.
  std::set<OpShapeKey> sampled;
  for (const MetaOp& mo : m.mg.metaops) {
    const Operator& op = m.g.op(mo.ops.front());
    for (int tp : {1, 2})
      for (int n = 1; n <= m.s.cluster.gpus(); ++n)
        if (const CurvePoint* p = m.cost.point(mo.id, n, tp))
          sampled.insert(shape_key(op, ParallelConfig{n / p->tp, p->tp, false}, "fp32"));
  }
  EXPECT_GT(sampled.size(), 40u);
  EXPECT_EQ(plan.estimator_keys, static_cast<int>(sampled.size()));
  int between = 0;
  for (const OpShapeKey& k : sampled) {
    if (pow2(k.batch) || (k.kind == "contrastive_loss" && k.batch == k.out_seq)) {  // a loss: up to its batch
      EXPECT_TRUE(asked.count(k)) << k.str();
      continue;
    }
    ++between;
    EXPECT_FALSE(keys.count(k)) << k.str();
    OpShapeKey below = k, above = k;
    below.batch = 1;
    while (below.batch * 2 < k.batch) below.batch *= 2;
    above.batch = below.batch * 2;
    if (k.kind == "contrastive_loss") above.batch = std::min(above.batch, k.out_seq);  // up to its global batch
    EXPECT_TRUE(keys.count(below) && keys.count(above)) << k.str();
  }
  // The per-device batches of the host scenario (24, 12, 6, 3) are not powers of two: the grid
  // measures around them, so that the profile is checked where it interpolates.
  EXPECT_GT(between, 20);
}

// The optimizer's sizes: powers of four from 64 up to the scenario's largest weight tensor
// (the host's 386 x 32 vocabulary: 16384), capped at 4^12 for a full-size model (qwen-val-3's
// vocabulary is far larger), apart from the operators' keys.
TEST(MeasurePlan, OptimizerSizesSpanTheWeightTensors) {
  const ScenarioModel m(host());
  const MeasurePlan plan = measure_plan(m.s, m.g, m.mg, Grid{}, "fp32");
  ASSERT_EQ(plan.optimizer.size(), 5u);
  for (size_t i = 0; i < plan.optimizer.size(); ++i) {
    EXPECT_EQ(plan.optimizer[i].key, optimizer_key(std::int64_t{64} << (2 * i)));
    EXPECT_EQ(plan.optimizer[i].op, -1);
  }
  for (const MeasureItem& it : plan.items) EXPECT_NE(it.key.kind, kOptimizerKind);
  const Scenario big = load_scenario(default_data_dir() / "qwen-val-3.toml");
  const Graph g = build_graph(big);
  const MeasurePlan full = measure_plan(big, g, contract(g), Grid::parse("1"), "bf16");
  EXPECT_EQ(full.optimizer.back().key.batch, kLargestOptimizerTensor);
}

TEST(MeasurePlan, GridsAskedAndListed) {
  const ScenarioModel m(host());
  for (const MeasureItem& it : measure_plan(m.s, m.g, m.mg, Grid::parse("asked"), "fp32").items) EXPECT_TRUE(it.asked);
  const std::vector<MeasureItem> listed = measure_plan(m.s, m.g, m.mg, Grid::parse("4,1,2,2"), "bf16").items;
  for (const MeasureItem& it : listed) {
    EXPECT_EQ(it.key.dtype, "bf16");
    EXPECT_TRUE(it.key.batch == 1 || it.key.batch == 2 || it.key.batch == 4) << it.key.str();
  }
  EXPECT_EQ(Grid::parse("4,1,2,2").str(), "1,2,4");
  for (const char* bad : {"", "0", "1,,2", "-1", "two", "1.5", "pow3", "99999999999"})
    EXPECT_THROW(Grid::parse(bad), InputError) << bad;
  try {
    Grid::parse("1,x");
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "--grid 1,x: 'x' is not a batch; allowed: pow2 (powers of two spanning the batches the "
                           "estimator asks for), asked (exactly those) or a comma-separated list of per-device "
                           "batches >= 1 such as 1,2,4,8");
  }
}

// The host scenario spells out multitask-clip-4 at --scale tiny: the same operators and shapes
// (batches aside: its tasks run 3/4 of them), so that spindle-run --scale full on it runs what
// spindle-run --scale tiny runs on multitask-clip-4.
TEST(HostScenario, IsMultitaskClip4AtTheTinyScale) {
  Scenario tiny = scale_scenario(load_scenario(default_data_dir() / "multitask-clip-4.toml"),
                                         find_scale("tiny"));
  Scenario h = host();
  ASSERT_EQ(tiny.tasks.size(), h.tasks.size());
  for (size_t t = 0; t < h.tasks.size(); ++t) {
    EXPECT_EQ(h.tasks[t].batch * 4, tiny.tasks[t].batch * 3) << h.tasks[t].name;
    h.tasks[t].batch = tiny.tasks[t].batch;
  }
  const Graph a = build_graph(tiny), b = build_graph(h);
  ASSERT_EQ(a.size(), b.size());
  for (int i = 0; i < a.size(); ++i) {
    const Operator &x = a.op(i), &y = b.op(i);
    EXPECT_EQ(shape_key(x, ParallelConfig{}, "fp32"), shape_key(y, ParallelConfig{}, "fp32")) << x.name;
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.cost.params, y.cost.params) << x.name;
  }
  EXPECT_EQ(h.cluster.gpu.backend, "cpu");
  EXPECT_EQ(h.cluster.gpu.compute_dtype, "fp32");
  EXPECT_EQ(h.cluster.gpus(), 2);
}

}  // namespace
}  // namespace spindle::calibrate

namespace spindle::calibrate {
namespace {

// nccl-tests' sizes: 8 B doubling, each a whole number of floats on every rank.
TEST(CollectiveSizes, DoubleFromEightBytesInWholeFloatsPerRank) {
  EXPECT_EQ(collective_sizes(64, 2), (std::vector<std::int64_t>{8, 16, 32, 64}));
  EXPECT_EQ(collective_sizes(64, 4), (std::vector<std::int64_t>{16, 32, 64}));
  EXPECT_EQ(collective_sizes(100, 8), (std::vector<std::int64_t>{32, 64}));
  EXPECT_TRUE(collective_sizes(4, 2).empty());
  EXPECT_EQ(collective_sizes(std::int64_t{1} << 30, 2).size(), 28u);  // 8 B .. 1 GiB
}

}  // namespace
}  // namespace spindle::calibrate
