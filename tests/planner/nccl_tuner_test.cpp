// NCCL 2.28's tuning model on known hardware: the channels its search finds, the latency and
// bandwidth of every (algorithm, protocol) for 8 H100s on one node (checked against a hand
// evaluation of tuning.cc's formulas), the sizes at which NCCL switches protocol, NVLS on
// H100, PAT only with one GPU per node, and multi-node rings limited by the NICs.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "planner/cost/nccl_tuner.h"
#include "test_scenarios.h"

namespace spindle::testing {
namespace {

Cluster h100(int nodes, bool nvls) {
  return load_text(small_scenario(),
                   {"cluster.gpu=\"h100-sxm\"", "cluster.gpus_per_node=8", "cluster.nodes=" + std::to_string(nodes),
                    "cluster.intra_node.bw_GBps=450.0", "cluster.nvls=" + std::string(nvls ? "true" : "false")})
      .cluster;
}

std::map<std::string, NcclCost> by_name(const std::vector<NcclCost>& costs) {
  std::map<std::string, NcclCost> out;
  for (const NcclCost& k : costs) out[std::string(nccl_algo_name(k.algo)) + "/" + nccl_proto_name(k.proto)] = k;
  return out;
}

TEST(NcclTuner, ChannelsAsNcclsSearchFindsThem) {
  // 450 GB/s x 0.8 = 360 per GPU: 6 channels at 60 GB/s, duplicated to 12 at 30.
  const NcclTopology one = nccl_topology(h100(1, false), {8});
  EXPECT_EQ(one.ring.channels, 12);
  EXPECT_DOUBLE_EQ(one.ring.bw_GBps, 30);
  EXPECT_EQ(one.nvls.channels, 0);
  EXPECT_EQ(nccl_topology(h100(1, true), {8}).nvls.channels, 8);
  // Across nodes, one 50 GB/s NIC per node (x 0.8 = 40): one channel at 40, duplicated.
  const NcclTopology two = nccl_topology(h100(2, false), {8, 8});
  EXPECT_EQ(two.ring.channels * two.ring.bw_GBps, 40);
  // A 50 GB/s NIC per GPU (400 per node): eight channels at 40 GB/s (SM90 keeps them: < 50 GB/s, > 4).
  Cluster rails = h100(2, false);
  rails.nic = NicPlacement::kPerGpu;
  rails.inter_node.bw_GBps = 400;
  const NcclTopology r = nccl_topology(rails, {8, 8});
  EXPECT_EQ(r.ring.channels, 8);
  EXPECT_DOUBLE_EQ(r.ring.bw_GBps, 40);
  // 8 + 4 GPUs: the crossings ride the 4 rails both nodes have (160 GB/s), not the first node's 8.
  const NcclTopology partial = nccl_topology(rails, {8, 4});
  EXPECT_EQ(partial.ring.channels * partial.ring.bw_GBps, 160);
  EXPECT_EQ(partial.most_per_node, 8);
  EXPECT_EQ(partial.fewest_per_node, 4);
  const NcclTopology placed = nccl_topology(rails, 12);  // nccl-tests' placement: 8 + 4
  EXPECT_EQ(placed.nodes, 2);
  EXPECT_EQ(placed.fewest_per_node, 4);
  EXPECT_DOUBLE_EQ(placed.ppn(), 6);
  // NVLS keeps the least any node found (init.cc): the 4-GPU node's 4 channels at the 8-GPU
  // node's 45 GB/s each; a node with one member has no NVLS at all.
  const NcclTopology nvls = nccl_topology(h100(2, true), {8, 4});
  EXPECT_EQ(nvls.nvls.channels, 4);
  EXPECT_DOUBLE_EQ(nvls.nvls.bw_GBps, 45);
  // Its network share (bwInter): one 40 GB/s NIC split among the fullest node's 8 channels, not
  // the emptiest's 4; with a NIC per GPU each channel has its member's 40 GB/s.
  EXPECT_DOUBLE_EQ(nvls.nvls.inter_GBps, 5);
  EXPECT_DOUBLE_EQ(nccl_topology(h100(2, true), {8, 8}).nvls.inter_GBps, 5);
  Cluster nvls_rails = h100(2, true);
  nvls_rails.nic = NicPlacement::kPerGpu;
  nvls_rails.inter_node.bw_GBps = 400;
  EXPECT_DOUBLE_EQ(nccl_topology(nvls_rails, {8, 4}).nvls.inter_GBps, 40);
  EXPECT_DOUBLE_EQ(nccl_topology(nvls_rails, {8, 8}).nvls.inter_GBps, 40);
  EXPECT_EQ(nccl_topology(h100(2, true), {8, 1}).nvls.channels, 0);
  EXPECT_EQ(nccl_topology(h100(2, true), {8, 1}).most_per_node, 8);
}

TEST(NcclTuner, EightH100sAllReduceTable) {
  // tuning.cc evaluated by hand for 12 channels x 30 GB/s, 8 ranks, one node (LL/LL128/Simple):
  // ring latency 6.6 + 14 x 0.6, 14 + 14 x 1.9, 8.4 + 14 x 3.4; tree 6.8 + 2 x 7 x 0.6, ...
  // algbw ring: min(141, 360 x .5), 360 x .92, 360, times 8/14; tree: 331.2 / 3.8, x 7/9, x 1, halved.
  const Cluster c = h100(1, false);
  const double bytes = 128.0 * (1 << 20);  // tree size correction 1, 1, 0.9 here (log2(bytes/64) = 21)
  auto k = by_name(nccl_costs(Collective::kAllReduce, nccl_topology(c, {8}), bytes, c));
  ASSERT_EQ(k.size(), 6u);
  EXPECT_NEAR(k["ring/LL"].latency_us, 15.0, 1e-9);
  EXPECT_NEAR(k["ring/LL128"].latency_us, 40.6, 1e-9);
  EXPECT_NEAR(k["ring/Simple"].latency_us, 56.0, 1e-9);
  EXPECT_NEAR(k["tree/LL"].latency_us, 15.2, 1e-9);
  EXPECT_NEAR(k["tree/LL128"].latency_us, 31.5, 1e-9);
  EXPECT_NEAR(k["tree/Simple"].latency_us, 64.4, 1e-9);
  EXPECT_NEAR(k["ring/LL"].algbw_GBps, 141.0 * 8 / 14, 1e-9);
  EXPECT_NEAR(k["ring/LL128"].algbw_GBps, 360 * 0.92 * 8 / 14, 1e-9);
  EXPECT_NEAR(k["ring/Simple"].algbw_GBps, 360.0 * 8 / 14, 1e-9);
  EXPECT_NEAR(k["tree/LL"].algbw_GBps, 331.2 / 3.8 * 0.5, 1e-9);
  EXPECT_NEAR(k["tree/LL128"].algbw_GBps, 331.2 * 7 / 9 * 0.5, 1e-9);
  EXPECT_NEAR(k["tree/Simple"].algbw_GBps, 331.2 * 0.5 * 0.9, 1e-9);
  for (const auto& [name, cost] : k) EXPECT_NEAR(cost.time_us, cost.latency_us + bytes / (1000 * cost.algbw_GBps), 1e-9);
}

TEST(NcclTuner, ProtocolAndAlgorithmSwitchWithSize) {
  const Cluster c = h100(1, false);
  const NcclTopology t = nccl_topology(c, {8});
  auto pick = [&](double bytes) {
    const NcclCost k = nccl_choice(Collective::kAllReduce, t, bytes, c);
    return std::string(nccl_algo_name(k.algo)) + "/" + nccl_proto_name(k.proto);
  };
  EXPECT_EQ(pick(1024), "ring/LL");
  EXPECT_EQ(pick(1 << 20), "ring/LL");
  EXPECT_EQ(pick(16 << 20), "ring/LL128");
  EXPECT_EQ(pick(256 << 20), "ring/Simple");
  // With NVLink SHARP the switch reduces: NVLS wins large all-reduces (85% efficiency, x2).
  const Cluster s = h100(1, true);
  const NcclCost big = nccl_choice(Collective::kAllReduce, nccl_topology(s, {8}), 8.0 * (1 << 30), s);
  EXPECT_EQ(big.algo, NcclAlgo::kNvls);
  EXPECT_NEAR(big.algbw_GBps, 360 * 0.85 * 7 / 8 * 2 * 8 / 14, 1e-9);
}

TEST(NcclTuner, AlgorithmsPerCollectiveAndShape) {
  const Cluster c = h100(4, true);
  auto algos = [&](Collective k, int ranks, int nodes) {
    std::string s;
    for (const NcclCost& x : nccl_costs(k, nccl_topology(c, std::vector<int>(nodes, ranks / nodes)), 1 << 20, c))
      if (s.find(nccl_algo_name(x.algo)) == std::string::npos) s += std::string(s.empty() ? "" : ",") + nccl_algo_name(x.algo);
    return s;
  };
  EXPECT_EQ(algos(Collective::kAllReduce, 8, 1), "tree,ring,nvls");
  EXPECT_EQ(algos(Collective::kAllReduce, 32, 4), "tree,ring,nvls_tree");
  EXPECT_EQ(algos(Collective::kAllGather, 8, 1), "ring,nvls");
  EXPECT_EQ(algos(Collective::kAllGather, 4, 4), "ring,pat");  // one GPU per node
  EXPECT_EQ(algos(Collective::kReduceScatter, 32, 4), "ring");
  EXPECT_EQ(algos(Collective::kBroadcast, 8, 1), "ring");
  EXPECT_EQ(nccl_choice(Collective::kAllReduce, nccl_topology(c, {1}), 1 << 20, c).time_us, 0);
  // NVLS is the GPU file's to allow: A800s have no NVLink SHARP; H100s default to using it.
  EXPECT_NE(load_error(small_scenario(), {"cluster.nvls=true"}).find("cluster.nvls: A800-80GB SXM has no NVLink SHARP"),
            std::string::npos) << load_error(small_scenario(), {"cluster.nvls=true"});
  EXPECT_TRUE(load_text(small_scenario(), {"cluster.gpu=\"h100-sxm\""}).cluster.nvls);
}

// NCCL_ALGO ([cluster] nccl_algo): the cheapest protocol of the forced algorithm, where it runs
// the collective on the group; elsewhere the tuner's choice. Only with NCCL's model.
TEST(NcclTuner, ForcedAlgorithmAsNcclAlgo) {
  Cluster c = h100(4, true);
  const NcclTopology t = nccl_topology(c, {8, 8, 8, 8});
  const double bytes = 1 << 30;
  ASSERT_EQ(nccl_choice(Collective::kAllReduce, t, bytes, c).algo, NcclAlgo::kNvlsTree);
  c.nccl_algo = "ring";
  const NcclCost ring = nccl_choice(Collective::kAllReduce, t, bytes, c);
  EXPECT_EQ(ring.algo, NcclAlgo::kRing);
  for (const NcclCost& k : nccl_costs(Collective::kAllReduce, t, bytes, c))
    if (k.algo == NcclAlgo::kRing) {
      EXPECT_LE(ring.time_us, k.time_us);
    }
  c.nccl_algo = "";  // no tree all-gather: with tree forced, the tuner's choice
  const NcclCost chosen = nccl_choice(Collective::kAllGather, t, bytes, c);
  c.nccl_algo = "tree";
  EXPECT_EQ(nccl_choice(Collective::kAllGather, t, bytes, c).algo, chosen.algo);
  EXPECT_EQ(load_text(small_scenario(), {"cluster.nccl_algo=\"tree\""}).cluster.nccl_algo, "tree");
  EXPECT_EQ(load_error(small_scenario(), {"cluster.collectives=\"hierarchical_ring\"", "cluster.nccl_algo=\"ring\""}),
            "--set cluster.nccl_algo=\"ring\": cluster.nccl_algo: NCCL_ALGO set where collectives are not NCCL's; "
            "allowed: nccl_algo with collectives = \"nccl\" (the default on CUDA devices)");
}

}  // namespace
}  // namespace spindle::testing
