// Collectives as flows: a ring inside a node, a hierarchical ring across nodes that moves
// each node's 2(m-1)/m share of an all-reduce over the network, ring-step expansion; and the
// child-process pool that keeps one SimGrid engine per process.
#include <gtest/gtest.h>

#include <map>

#include "planner/cost/collective_flows.h"
#include "sim/replay/process_pool.h"
#include "traces/errors.h"

namespace spindle {
namespace {

double bytes_leaving_node(const std::vector<FlowPhase>& phases, int node, int gpn) {
  double b = 0;
  for (const FlowPhase& ph : phases)
    for (const Flow& f : ph.flows)
      if (f.src / gpn == node && f.dst / gpn != node) b += f.bytes;
  return b;
}

TEST(CollectiveFlows, RingInsideANode) {
  const auto phases = collective_flows(Collective::kAllReduce, {0, 1, 2, 3}, 400, 8);
  ASSERT_EQ(phases.size(), 2u);  // reduce-scatter, all-gather
  for (const FlowPhase& ph : phases) {
    ASSERT_EQ(ph.flows.size(), 4u);
    for (const Flow& f : ph.flows) {
      EXPECT_EQ(f.dst, (f.src + 1) % 4);
      EXPECT_DOUBLE_EQ(f.bytes, 300);  // (p-1)/p of the buffer
      EXPECT_EQ(f.steps, 3);
    }
  }
  EXPECT_TRUE(collective_flows(Collective::kAllReduce, {5}, 400, 8).empty());
}

TEST(CollectiveFlows, HierarchicalAcrossNodes) {
  // 3 nodes of 4 GPUs, 2 members on node 0, 4 on node 1, 2 on node 2: channels = 2.
  const std::vector<int> group{0, 1, 4, 5, 6, 7, 8, 9};
  const auto ar = collective_flows(Collective::kAllReduce, group, 1200, 4);
  ASSERT_EQ(ar.size(), 3u);
  for (int node = 0; node < 3; ++node) EXPECT_DOUBLE_EQ(bytes_leaving_node(ar, node, 4), 2.0 * 2 / 3 * 1200);
  EXPECT_EQ(ar[1].flows.size(), 6u);  // 2 channels x 3 nodes
  for (const Flow& f : ar[1].flows) EXPECT_EQ(f.src % 4 == 0 || f.src % 4 == 1, true);
  const auto ag = collective_flows(Collective::kAllGather, group, 1200, 4);
  for (int node = 0; node < 3; ++node) EXPECT_DOUBLE_EQ(bytes_leaving_node(ag, node, 4), 2.0 / 3 * 1200);
}

// NCCL's flat ring across nodes (collectives = "nccl"): with a NIC per GPU a node crossing is
// one flow per rail, each carrying its share at its share of the rate; with one NIC per node
// (every member's route the same) it is one flow with the crossing's bytes and rate.
// `nodes` x 4 GPUs with NCCL's model, `algo` forced as NCCL_ALGO.
Cluster nccl_cluster(int nodes, const std::string& algo) {
  Cluster c;
  c.nodes = nodes;
  c.gpus_per_node = 4;
  c.intra_node = {100.0, 2.0, 1.0};
  c.inter_node = {10.0, 5.0, 1.0};
  c.collectives = CollectiveModel::kNccl;
  c.nccl_algo = algo;
  return c;
}

TEST(CollectiveFlows, NcclRingCrossesANodeOnceOrOncePerRail) {
  Cluster c = nccl_cluster(2, "ring");
  const std::vector<int> group{0, 1, 2, 3, 4, 5, 6, 7};
  const double bytes = 64 << 20;
  std::map<NicPlacement, std::pair<int, double>> crossing;  // flows from node 0 to node 1, their bytes
  for (NicPlacement nic : {NicPlacement::kPerNode, NicPlacement::kPerGpu}) {
    c.nic = nic;
    const auto phases = collective_flows(Collective::kAllReduce, group, bytes, c);
    ASSERT_EQ(phases.size(), 1u);
    EXPECT_DOUBLE_EQ(bytes_leaving_node(phases, 0, 4), 2.0 * 7 / 8 * bytes);  // the ring's 2(p-1)/p per edge
    for (const Flow& f : phases[0].flows)
      if (f.src / 4 == 0 && f.dst / 4 == 1) {
        ++crossing[nic].first;
        crossing[nic].second += f.bytes;
        EXPECT_GT(f.max_Bps, 0);  // capped at the tuner's bandwidth
      }
  }
  EXPECT_EQ(crossing[NicPlacement::kPerNode].first, 1);
  EXPECT_EQ(crossing[NicPlacement::kPerGpu].first, 4);
  EXPECT_DOUBLE_EQ(crossing[NicPlacement::kPerNode].second, 2.0 * 7 / 8 * bytes);
  EXPECT_DOUBLE_EQ(crossing[NicPlacement::kPerGpu].second, 2.0 * 7 / 8 * bytes);
}

// NCCL's tree (forced as NCCL_ALGO=tree) on 3 nodes of unequal membership: inside each node a
// ring carrying 2(k-1)/k x size per GPU, and every node sending and receiving 2(m-1)/m x size,
// the double binary tree's mean; every flow lasts size / algbw uncontended. NVLS skips a GPU
// alone on its node (no flow to itself).
TEST(CollectiveFlows, NcclTreeCarriesTheDoubleBinaryTreesLoad) {
  Cluster c = nccl_cluster(3, "tree");
  const std::vector<int> group{0, 1, 2, 3, 4, 5, 8};  // 4 + 2 + 1 members
  const double bytes = 8 << 20;
  const auto phases = collective_flows(Collective::kAllReduce, group, bytes, c);
  ASSERT_EQ(phases.size(), 1u);
  for (int node = 0; node < 3; ++node) EXPECT_DOUBLE_EQ(bytes_leaving_node(phases, node, 4), 2.0 * 2 / 3 * bytes);
  std::map<int, double> nvlink_out;  // GPU -> bytes to GPUs of its node
  double seconds = -1;
  for (const Flow& f : phases[0].flows) {
    EXPECT_NE(f.src, f.dst);
    if (f.src / 4 == f.dst / 4) nvlink_out[f.src] += f.bytes;
    ASSERT_GT(f.max_Bps, 0);
    if (seconds < 0) seconds = f.bytes / f.max_Bps;
    EXPECT_NEAR(f.bytes / f.max_Bps, seconds, 1e-12 * seconds);  // one length: size / algbw
  }
  EXPECT_DOUBLE_EQ(nvlink_out[0], 2.0 * 3 / 4 * bytes);
  EXPECT_DOUBLE_EQ(nvlink_out[4], 2.0 * 1 / 2 * bytes);
  EXPECT_EQ(nvlink_out.count(8), 0u);
  c.gpu.arch = GpuArch::kHopper;
  c.gpu.nvlink_sharp = c.nvls = true;
  c.nccl_algo = "nvls_tree";
  const auto nvls = collective_flows(Collective::kAllReduce, group, bytes, c);
  ASSERT_EQ(nvls.size(), 1u);
  for (const Flow& f : nvls[0].flows) EXPECT_NE(f.src, f.dst);
}

TEST(CollectiveFlows, RingStepsSplitEveryFlow) {
  const auto phases = expand_ring_steps(collective_flows(Collective::kAllGather, {0, 1, 2, 3}, 400, 8));
  ASSERT_EQ(phases.size(), 3u);
  for (const FlowPhase& ph : phases)
    for (const Flow& f : ph.flows) {
      EXPECT_DOUBLE_EQ(f.bytes, 100);
      EXPECT_EQ(f.steps, 1);
    }
  const auto bcast = expand_ring_steps(collective_flows(Collective::kBroadcast, {0, 1, 2}, 400, 8));
  ASSERT_EQ(bcast.size(), 1u);  // a pipelined chain is not split
  EXPECT_EQ(bcast[0].flows.size(), 2u);
}

TEST(ProcessPool, ResultsInJobOrderAndTypedErrors) {
  std::vector<std::function<std::string()>> jobs;
  for (int i = 0; i < 5; ++i) jobs.push_back([i] { return std::to_string(i * i); });
  EXPECT_EQ(run_in_children(jobs, 2), (std::vector<std::string>{"0", "1", "4", "9", "16"}));
  EXPECT_THROW(run_in_children({[]() -> std::string { throw InputError("bad"); }}), InputError);
  try {
    run_in_children({[]() -> std::string { throw InternalError("broken invariant"); }});
    FAIL();
  } catch (const InternalError& e) {
    EXPECT_STREQ(e.what(), "broken invariant");
  }
}

}  // namespace
}  // namespace spindle
