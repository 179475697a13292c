// The simulated network against closed forms: one transfer = latency + size / bandwidth; two
// flows on one link get half each while opposite directions do not slow each other; a flow
// through an oversubscribed spine is slower by the ratio; ring collectives match the
// alpha-beta formulas of planner/collective_cost.h. Every simulation runs in a child process.
#include <gtest/gtest.h>

#include <memory>
#include <sstream>

#include "planner/cost/collective_cost.h"
#include "planner/cost/collective_flows.h"
#include "planner/cost/collective_table.h"
#include "sim/replay/collective_bench.h"
#include "sim/replay/network_sim.h"
#include "sim/replay/process_pool.h"

namespace spindle {
namespace {

// 2 nodes x 4 GPUs, links at their nominal bandwidth (efficiency 1).
Cluster test_cluster() {
  Cluster c;
  c.nodes = 2;
  c.gpus_per_node = 4;
  c.intra_node = {100.0, 2.0, 1.0};
  c.inter_node = {10.0, 5.0, 1.0};
  return c;
}

std::vector<double> flow_ends(const Cluster& c, const std::vector<Flow>& flows) {
  const std::string text = run_in_children({[&] {
    std::ostringstream o;
    for (double t : time_flows_on_network(c, flows)) o << std::hexfloat << t << "\n";
    return o.str();
  }}).front();
  std::istringstream in(text);
  std::vector<double> out;
  for (std::string t; in >> t;) out.push_back(std::strtod(t.c_str(), nullptr));
  return out;
}

constexpr double kS = 100e6;  // bytes

TEST(Network, OneTransferIsLatencyPlusSizeOverBandwidth) {
  Cluster c = test_cluster();
  EXPECT_NEAR(flow_ends(c, {{0, 1, kS}})[0], 2e-6 + kS / 100e9, 0.01 * (2e-6 + kS / 100e9));
  EXPECT_NEAR(flow_ends(c, {{0, 4, kS}})[0], 5e-6 + kS / 10e9, 0.01 * (5e-6 + kS / 10e9));
  c.intra_node.efficiency = 0.8;  // 80% of nominal
  EXPECT_NEAR(flow_ends(c, {{0, 1, kS}})[0], 2e-6 + kS / 80e9, 0.01 * (2e-6 + kS / 80e9));
  // 100 MB on 1 GB/s takes 0.1 s plus latency (no TCP factors as in the LV08 model).
  c.intra_node = {1.0, 0.0, 1.0};
  EXPECT_NEAR(flow_ends(c, {{0, 1, kS}})[0], 0.1, 1e-3 * 0.1);
}

TEST(Network, FlowsSharingALinkGetHalfEachOppositeFlowsDoNot) {
  const Cluster c = test_cluster();
  const double alone = 2e-6 + kS / 100e9;
  for (double t : flow_ends(c, {{0, 1, kS}, {0, 2, kS}}))  // both leave through GPU 0's link
    EXPECT_NEAR(t, 2e-6 + 2 * kS / 100e9, 0.01 * alone);
  for (double t : flow_ends(c, {{0, 1, kS}, {1, 0, kS}}))  // split duplex: one direction each
    EXPECT_NEAR(t, alone, 0.01 * alone);
  for (double t : flow_ends(c, {{0, 4, kS}, {1, 5, kS}}))  // one NIC per node: shared
    EXPECT_NEAR(t, 5e-6 + 2 * kS / 10e9, 0.01 * (5e-6 + kS / 10e9));
  Cluster per_gpu = c;
  per_gpu.nic = NicPlacement::kPerGpu;  // 4 NICs of 2.5 GB/s each
  for (double t : flow_ends(per_gpu, {{0, 4, kS}, {1, 5, kS}})) EXPECT_NEAR(t, 5e-6 + kS / 2.5e9, 0.01 * (kS / 2.5e9));
}

TEST(Network, OversubscribedSpineSlowsAFlowByTheRatio) {
  Cluster c = test_cluster();
  const double full = flow_ends(c, {{0, 4, kS}})[0];
  c.oversubscription = 2.5;
  EXPECT_NEAR(flow_ends(c, {{0, 4, kS}})[0] - 5e-6, 2.5 * (full - 5e-6), 0.01 * 2.5 * full);
  c.nodes_per_leaf = 2;  // both nodes under one leaf: the spine is not crossed
  EXPECT_NEAR(flow_ends(c, {{0, 4, kS}})[0], full, 0.01 * full);
}

// Ring all-reduce inside a node, and across nodes of one GPU each, within 2% of alpha-beta,
// at every nccl-tests size, per phase and with every ring step a flow.
TEST(Network, RingCollectivesMatchAlphaBeta) {
  Cluster node = test_cluster();
  node.nodes = 1;
  Cluster spread = test_cluster();
  spread.nodes = 4;
  spread.gpus_per_node = 1;
  for (bool steps : {false, true})
    for (const Cluster* c : {&node, &spread})
      for (Collective kind : {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter}) {
        SCOPED_TRACE(std::string(collective_name(kind)) + (steps ? " ring steps" : "") + " on " +
                     std::to_string(c->nodes) + " nodes");
        const auto rows = bench_collective(*c, kind, 4, NetworkOptions{steps});
        ASSERT_EQ(rows.size(), 31u);  // 8 B .. 8 GiB
        for (const BenchRow& r : rows) {
          const double want = collective_time_s(kind, CollectiveAlgorithm::kRing, {4, c->nodes}, static_cast<double>(r.bytes), *c);
          EXPECT_NEAR(r.time_s, want, 0.02 * want) << r.bytes << " B";
        }
      }
}

TEST(Network, BusBandwidthApproachesTheLinkForLargeAllReduce) {
  Cluster node = test_cluster();
  node.nodes = 1;
  const auto rows = bench_collective(node, Collective::kAllReduce, 4, {});
  EXPECT_EQ(rows.front().bytes, 8);
  EXPECT_EQ(rows.back().bytes, std::int64_t{8} << 30);
  EXPECT_NEAR(rows.back().busbw_GBps, 100.0, 1.0);  // nccl-tests: busbw = algbw x 2(p-1)/p -> link bandwidth
  EXPECT_LT(rows.front().busbw_GBps, 10.0);         // latency-bound
}

}  // namespace
}  // namespace spindle

namespace spindle {
namespace {

// [cluster] collectives = "nccl": one collective model, two uses. Without contention the
// simulator's flows take exactly the time NCCL's tuner gives (planner/cost/nccl_tuner.h) for
// every collective, size and group shape: H100s with NVLink SHARP on one node (NVLS), two nodes
// with a NIC per GPU (tree, NVLS-tree), four nodes of one NIC (ring), one GPU per node (PAT).
TEST(Network, NcclCollectivesTakeTheTunersTime) {
  auto cluster = [](const std::string& gpu, int nodes, int gpn, NicPlacement nic, double inter_GBps) {
    Cluster c = test_cluster();
    c.gpu.name = gpu;
    c.gpu.arch = gpu == "H100" ? GpuArch::kHopper : GpuArch::kAmpere;
    c.gpu.nvlink_sharp = c.nvls = gpu == "H100";
    c.nodes = nodes;
    c.gpus_per_node = gpn;
    c.nic = nic;
    c.intra_node = Link{gpu == "H100" ? 450.0 : 300.0, 2.0, 0.8};
    c.inter_node = Link{inter_GBps, 5.0, 0.8};
    c.collectives = CollectiveModel::kNccl;
    return c;
  };
  const std::vector<std::pair<Cluster, int>> shapes = {
      {cluster("H100", 1, 8, NicPlacement::kPerNode, 50), 8},
      {cluster("H100", 2, 8, NicPlacement::kPerGpu, 400), 16},
      // 8 + 4: the crossings ride the 4 rails both nodes have. (On H100s NCCL's NVLS-tree bandwidth
      // there, 12/11 x the rails' for two nodes, is more than the links carry: the README's caveat.)
      {cluster("A100", 2, 8, NicPlacement::kPerGpu, 200), 12},
      {cluster("A100", 4, 8, NicPlacement::kPerNode, 25), 32},
      {cluster("A100", 4, 1, NicPlacement::kPerNode, 25), 4}};
  for (const auto& [c, gpus] : shapes)
    for (Collective kind : {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter,
                            Collective::kBroadcast, Collective::kSendRecv}) {
      SCOPED_TRACE(std::string(collective_name(kind)) + " on " + std::to_string(gpus) + " " + c.gpu.name);
      std::vector<int> group;
      for (int g = 0; g < gpus; ++g) group.push_back(g);
      for (const BenchRow& r : bench_collective(c, kind, gpus, {})) {
        const double want = nccl_collective_s(kind, group, static_cast<double>(r.bytes), c);
        EXPECT_NEAR(r.time_s, want, 1e-3 * want) << r.bytes << " B";
      }
    }
}

// A profile's measured collectives drive the simulator where they hold the group's shape, with
// either collective model: uncontended, each size takes the measured (interpolated) time
// within 2%. Rows every 4x in size from 1 KiB, the benchmark's sizes in between interpolated.
TEST(Network, MeasuredCollectivesTakeTheirTime) {
  for (CollectiveModel model : {CollectiveModel::kHierarchicalRing, CollectiveModel::kNccl})
    for (int nodes : {1, 2}) {
      Cluster c = test_cluster();
      c.nodes = nodes;
      c.gpus_per_node = 8;
      c.nic = NicPlacement::kPerGpu;
      c.intra_node = Link{450.0, 2.0, 0.8};
      c.inter_node = Link{400.0, 5.0, 0.8};
      c.collectives = model;
      const int gpus = 8 * nodes;
      Profile p;
      for (Collective kind : {Collective::kAllReduce, Collective::kAllGather})
        for (std::int64_t b = 1024; b <= (std::int64_t{8} << 30); b *= 4) {
          CollectiveMeasurement m;
          m.kind = collective_name(kind);
          m.ranks = gpus, m.nodes = nodes, m.ranks_per_node = 8, m.samples = 1;
          m.bytes = b;
          m.time_ms = (30e-6 + static_cast<double>(b) / 20e9) * 1e3;
          p.collectives.push_back(m);
        }
      c.measured_collectives = std::make_shared<const CollectiveTable>(p);
      std::vector<int> group;
      for (int g = 0; g < gpus; ++g) group.push_back(g);
      for (Collective kind : {Collective::kAllReduce, Collective::kAllGather}) {
        SCOPED_TRACE(std::string(collective_name(kind)) + " on " + std::to_string(nodes) + " node(s)");
        for (const BenchRow& r : bench_collective(c, kind, gpus, {})) {
          const double want = c.measured_collectives->lookup(kind, gpus, nodes, 8, static_cast<double>(r.bytes))->time_s;
          EXPECT_NEAR(r.time_s, want, 0.02 * want) << r.bytes << " B";
          EXPECT_DOUBLE_EQ(nccl_collective_s(kind, group, static_cast<double>(r.bytes), c), want);
        }
      }
      // A shape the profile does not hold (half the GPUs) keeps the model.
      const std::vector<BenchRow> half = bench_collective(c, Collective::kAllReduce, gpus / 2, {}, {1 << 20});
      Cluster unmeasured = c;
      unmeasured.measured_collectives = nullptr;
      EXPECT_DOUBLE_EQ(half[0].time_s, bench_collective(unmeasured, Collective::kAllReduce, gpus / 2, {}, {1 << 20})[0].time_s);
    }
}

}  // namespace
}  // namespace spindle
