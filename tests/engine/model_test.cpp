// The engine's model is the planner's: weight groups and sizes from the same graph, every zoo
// model runs a training step, and the same seed gives the same bits.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/cpu/cpu_backend.h"
#include "engine/model/op_runner.h"
#include "engine/model/synthetic_data.h"
#include "engine/model/weight_shapes.h"
#include "engine/train/trainer.h"
#include "engine_test_util.h"
#include "planner/graph/graph_builder.h"
#include "planner/graph/param_count.h"

namespace spindle::engine::test {
namespace {

const char* kZoo[] = {"multitask-clip-4", "multitask-clip-10", "ofasys-4", "ofasys-7", "qwen-val-3"};

TEST(EngineModel, WeightsMatchThePlannersParameterCounts) {
  for (const char* name : kZoo)
    for (const char* scale : {"tiny", "small"}) {
      const Scenario s = zoo(name, scale);
      const Graph g = build_graph(s);
      CpuBackend be;
      WeightStore ws(s, g, be, 1);
      for (const Operator& op : g.ops()) {
        if (!op.weights.empty()) {
          EXPECT_EQ(ws.group_size(op.weights), op.cost.params) << name << " " << op.weights;
          EXPECT_EQ(static_cast<int>(weight_shapes(op).size()), op.cost.weight_tensors) << name << " " << op.weights;
        }
      }
      EXPECT_EQ(ws.total_size(), count_params(s, g).total) << name << " " << scale;
    }
}

TEST(EngineModel, EveryZooModelTrainsAStep) {
  for (const char* name : {"multitask-clip-4", "ofasys-4", "qwen-val-3"}) {
    CpuBackend be;
    Trainer tr(zoo(name), be, TrainOptions{});
    const StepResult r = tr.step();
    ASSERT_EQ(r.task_loss.size(), tr.scenario().tasks.size());
    for (size_t t = 0; t < r.task_loss.size(); ++t) {
      EXPECT_TRUE(std::isfinite(r.task_loss[t])) << name;
      EXPECT_GT(r.task_loss[t], 0.0f) << name;
    }
    EXPECT_GT(r.grad_norm, 0.0) << name;
  }
}

TEST(EngineModel, SameSeedSameBitsOtherSeedOtherData) {
  const Scenario s = zoo("multitask-clip-4");
  const Graph g = build_graph(s);
  SyntheticData a(s, g, 7), b(s, g, 7), c(s, g, 8);
  EXPECT_EQ(a.batch(0, 32).inputs.at(s.model.index_of("text")).ids, b.batch(0, 32).inputs.at(s.model.index_of("text")).ids);
  EXPECT_EQ(a.batch(1, 0).inputs.at(s.model.index_of("vision")).features,
            b.batch(1, 0).inputs.at(s.model.index_of("vision")).features);
  EXPECT_NE(a.batch(1, 0).inputs.at(s.model.index_of("vision")).features,
            c.batch(1, 0).inputs.at(s.model.index_of("vision")).features);
  CpuBackend be;
  Trainer t1(s, be, TrainOptions{}), t2(s, be, TrainOptions{});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(t1.step().task_loss, t2.step().task_loss);
}

// A rank's data-reading operator takes its rows of only what it reads (its component's input, or
// an LM head's labels), the same values as drawing those rows alone.
TEST(EngineModel, BatchRowsHoldWhatTheOperatorReads) {
  const Scenario s = zoo("qwen-val-3");
  const Graph g = build_graph(s);
  SyntheticData data(s, g, 3);
  int seen_embed = 0, seen_head = 0;
  for (const Operator& op : g.ops()) {
    const bool embed = op.kind == OpKind::kPatchEmbed || op.kind == OpKind::kTokenEmbed;
    if (!embed && op.kind != OpKind::kLmHead) continue;
    const std::int64_t batch = s.tasks[static_cast<size_t>(op.task)].batch;
    ASSERT_GE(batch, 2) << op.name;
    const TaskBatch whole = data.batch(op.task, 64);
    const TaskBatch rows = batch_rows(whole, op, 1, batch);  // all rows but the first
    const TaskBatch alone = data.batch(op.task, 64, 1, batch);
    if (embed) {
      ++seen_embed;
      ASSERT_EQ(rows.inputs.size(), 1u) << op.name;
      const HostInput& h = rows.inputs.at(op.component);
      EXPECT_EQ(h.dims.at(0), batch - 1) << op.name;
      EXPECT_EQ(h.features, alone.inputs.at(op.component).features) << op.name;
      EXPECT_EQ(h.ids, alone.inputs.at(op.component).ids) << op.name;
      EXPECT_TRUE(rows.labels.empty()) << op.name;
    } else {
      ++seen_head;
      EXPECT_TRUE(rows.inputs.empty()) << op.name;
      EXPECT_EQ(rows.label_dims.at(0), batch - 1) << op.name;
      EXPECT_EQ(rows.labels, alone.labels) << op.name;
    }
  }
  EXPECT_GT(seen_embed, 0);
  EXPECT_GT(seen_head, 0);
}

}  // namespace
}  // namespace spindle::engine::test
