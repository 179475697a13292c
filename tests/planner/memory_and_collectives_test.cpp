// Memory model against a hand computation for one layer; collective costs against the
// alpha-beta formulas and nccl-tests' bus bandwidth definitions.
#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "planner/cost/collective_cost.h"
#include "planner/cost/cost_model.h"
#include "planner/cost/memory_model.h"
#include "planner/graph/graph_builder.h"
#include "planner/graph/op_costs.h"
#include "test_scenarios.h"
#include "traces/errors.h"

namespace spindle::testing {
namespace {

TEST(MemoryModel, OneLayerByHand) {
  // A GELU layer, h = 1024, ffn = 4096, 16 heads, batch 8 x 77 tokens, on dp = 2, ZeRO-1 over 4.
  Operator op;
  op.kind = OpKind::kEncoderLayer;
  op.shape = Shape{8, 77, 1024};
  op.heads = 16;
  op.ffn = 4096;
  op.cost = op_cost(op);
  const double p = 12.0 * 1024 * 1024 + 13 * 1024;  // 12 h^2 + 13 h
  ASSERT_EQ(op.cost.params, static_cast<std::int64_t>(p));
  // Korthikanti's 34 s b h for the whole batch of 8; fused attention keeps fp32 softmax
  // statistics (4 a s b) instead of his 5 a s^2 b of scores.
  const double act = 34.0 * 77 * 8 * 1024 + 4.0 * 16 * 77 * 8;
  ASSERT_EQ(op.cost.activation_bytes, static_cast<std::int64_t>(act));
  MemoryBreakdown m = layer_memory(op, 3, ParallelConfig{2, 1, true}, 4, /*shared=*/true);
  EXPECT_DOUBLE_EQ(m.weights, 3 * 2 * p);
  EXPECT_DOUBLE_EQ(m.grads, 0);                 // shared: gradients accumulate in fp32 ...
  EXPECT_DOUBLE_EQ(m.accumulation, 3 * 4 * p);  // ... in this buffer
  EXPECT_DOUBLE_EQ(m.optimizer, 3 * 12 * p / 4);
  EXPECT_DOUBLE_EQ(weight_state_bytes(p, 4, true, true), 2 * p + 4 * p + 3 * p);
  EXPECT_DOUBLE_EQ(m.activations, 3 * act / 2);  // local batch 4 of 8
  MemoryBreakdown plain = layer_memory(op, 1, ParallelConfig{}, 1, false);
  EXPECT_DOUBLE_EQ(plain.total(), 16 * p + act);
  EXPECT_DOUBLE_EQ(weight_state_bytes(p, 4, false, false), 16 * p);
}

TEST(MemoryModel, MetaOpThatCannotFitIsAClearError) {
  Scenario s = load_text(small_scenario(), {"model.components.a.hidden=16384", "model.components.a.heads=128",
                                            "model.components.a.ffn=65536", "model.components.a.layers=40"});
  Graph g = build_graph(s);
  MetaGraph mg = contract(g);
  try {
    CostModel cost(s, g, mg);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("needs"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("even spread over 8 GPUs"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("encoder_layer x40 of a"), std::string::npos) << e.what();
  }
}

// The planner counts each device's storage: a CPU device (spindle-run's CPU backend) keeps fp32
// weights with no separate master (4 + 4 gradient + 8 moments per parameter) and its unfused
// kernels' fp32 activations; a GPU bf16 mixed precision (2 + 2 + 4 master + 8 moments).
TEST(MemoryModel, ThePlannerCountsTheDevicesStorage) {
  for (const auto& [file, weight_bytes, unfused] :
       std::vector<std::tuple<std::string, double, bool>>{{"clusters/cpu-host-2core.toml", 4, true},
                                                          {"multitask-clip-4.toml", 2, false}}) {
    SCOPED_TRACE(file);
    const Scenario s = load_scenario(default_data_dir() / file);
    EXPECT_EQ(device_storage(s.cluster.gpu).unfused, unfused);
    const Graph g = build_graph(s);
    const MetaGraph mg = contract(g);
    const CostModel cost(s, g, mg);
    int checked = 0;
    for (const MetaOp& m : mg.metaops) {
      const Operator& op = g.op(m.ops.front());
      if (op.cost.params == 0) continue;
      const MemoryBreakdown& mem = cost.metaop(m.id).mem_n1;
      EXPECT_DOUBLE_EQ(mem.weights, weight_bytes * static_cast<double>(op.cost.params) * m.L) << op.name;
      EXPECT_DOUBLE_EQ(mem.optimizer, (weight_bytes == 4 ? 8 : 12) * static_cast<double>(op.cost.params) * m.L) << op.name;
      ++checked;
    }
    EXPECT_GT(checked, 0);
  }
}

Cluster cluster() { return load_text(small_scenario()).cluster; }  // 200 GB/s 2 us; 50 GB/s 5 us

TEST(Collectives, RingFormulas) {
  Cluster c = cluster();
  const double bytes = 1 << 30, bw = 200e9, a = 2e-6;
  EXPECT_DOUBLE_EQ(collective_time_s(Collective::kAllReduce, CollectiveAlgorithm::kRing, {4, 1}, bytes, c),
                   6 * (a + bytes / 4 / bw));
  EXPECT_DOUBLE_EQ(collective_time_s(Collective::kAllGather, CollectiveAlgorithm::kRing, {4, 1}, bytes, c),
                   3 * (a + bytes / 4 / bw));
  EXPECT_DOUBLE_EQ(collective_time_s(Collective::kReduceScatter, CollectiveAlgorithm::kRing, {4, 1}, bytes, c),
                   3 * (a + bytes / 4 / bw));
  EXPECT_DOUBLE_EQ(collective_time_s(Collective::kBroadcast, CollectiveAlgorithm::kRing, {4, 1}, bytes, c),
                   3 * a + bytes / bw);
  EXPECT_DOUBLE_EQ(collective_time_s(Collective::kSendRecv, CollectiveAlgorithm::kRing, {2, 2}, bytes, c),
                   5e-6 + bytes / 50e9);
  EXPECT_DOUBLE_EQ(collective_time_s(Collective::kAllReduce, CollectiveAlgorithm::kTree, {8, 2}, bytes, c),
                   2 * 3 * 5e-6 + 2 * bytes / 50e9);
  EXPECT_THROW(collective_time_s(Collective::kAllGather, CollectiveAlgorithm::kTree, {8, 1}, bytes, c), InternalError);
}

TEST(Collectives, BusBandwidthApproachesTheLinkForLargeMessages) {
  // nccl-tests: busbw is the per-link bandwidth a correct ring reaches, whatever p.
  Cluster c = cluster();
  for (Collective k : {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter,
                       Collective::kBroadcast}) {
    for (int p : {2, 4, 8}) {
      const double bytes = 16.0 * (1 << 30);
      double t = collective_time_s(k, CollectiveAlgorithm::kRing, {p, 1}, bytes, c);
      EXPECT_NEAR(busbw_GBps(k, p, bytes, t), 200, 0.5) << collective_name(k) << " p=" << p;
      t = collective_time_s(k, CollectiveAlgorithm::kRing, {p * 2, 2}, bytes, c);
      EXPECT_NEAR(busbw_GBps(k, p * 2, bytes, t), 50, 0.5) << collective_name(k) << " across nodes";
    }
  }
  // Small messages are latency-bound.
  double t = collective_time_s(Collective::kAllReduce, CollectiveAlgorithm::kRing, {8, 1}, 8, c);
  EXPECT_LT(busbw_GBps(Collective::kAllReduce, 8, 8, t), 0.01);
}

}  // namespace
}  // namespace spindle::testing
