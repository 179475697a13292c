// Fault what-ifs as the planner sees them: [faults] read strictly (ids within the cluster,
// each once, slowdowns 1-1000), the cluster they leave (failed nodes, GPUs and network links
// drain their nodes, the rest renumbered in order, stragglers moved with their node or dropped
// with it, no node left refused), and stragglers slowing the instructions and links they own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "planner/config/faults.h"
#include "planner/estimate/iteration_estimate.h"
#include "test_scenarios.h"
#include "traces/errors.h"

namespace spindle::testing {
namespace {

using ::testing::HasSubstr;

// small_scenario() is 2 nodes x 4 GPUs; these tests widen it to 4 nodes.
Scenario with_faults(const std::string& faults) {
  return load_text(small_scenario() + "\n[faults]\n" + faults, {"cluster.nodes=4"});
}
std::string error_with(const std::string& faults) {
  return load_error(small_scenario() + "\n[faults]\n" + faults, {"cluster.nodes=4"});
}

TEST(Faults, ReadStrictly) {
  EXPECT_FALSE(load_text(small_scenario()).faults.any());
  const Scenario s = with_faults("failed_nodes = [3]\nfailed_gpus = [5]\nfailed_nics = [0]\n"
                                 "stragglers = [{gpu = 9, slowdown = 2.5}]\nslow_nics = [{node = 2, slowdown = 4.0}]\n");
  EXPECT_EQ(s.faults.failed_nodes, std::vector<int>{3});
  EXPECT_EQ(s.faults.failed_gpus, std::vector<int>{5});
  ASSERT_EQ(s.faults.stragglers.size(), 1u);
  EXPECT_EQ(s.faults.stragglers[0].id, 9);
  EXPECT_DOUBLE_EQ(s.faults.slow_nics[0].slowdown, 4.0);
  EXPECT_EQ(s.faults.describe(4),
            "node 3 failed; GPU 5 failed (node 1 drained); node 0's network link failed (node drained); GPU 9 2.5x "
            "slower; node 2's network 4x slower");

  EXPECT_THAT(error_with("failed_nodes = [4]"), HasSubstr("faults.failed_nodes: not a node of this cluster; allowed: a list of node ids, 0 to 3"));
  EXPECT_THAT(error_with("failed_gpus = [1, 1]"), HasSubstr("GPU 1 named twice"));
  EXPECT_THAT(error_with("failed_nodes = 2"), HasSubstr("faults.failed_nodes: expected a list"));
  EXPECT_THAT(error_with("stragglers = [{gpu = 1, slowdown = 0.5}]"), HasSubstr("faults.stragglers.0.slowdown"));
  EXPECT_THAT(error_with("stragglers = [{gpu = 1, slowdown = 2.0, why = 1}]"), HasSubstr("faults.stragglers.0.why: unknown key"));
  EXPECT_THAT(error_with("slow_nics = [{node = 1, slowdown = 2.0}, {node = 1, slowdown = 3.0}]"), HasSubstr("node 1 named twice"));
  EXPECT_THAT(error_with("failed_node = [1]"), HasSubstr("faults.failed_node: unknown key"));
}

TEST(Faults, TheClusterLeft) {
  const Scenario s = with_faults("failed_gpus = [5]\nstragglers = [{gpu = 9, slowdown = 2.0}, {gpu = 6, slowdown = 3.0}]\n"
                                 "slow_nics = [{node = 3, slowdown = 4.0}]\n");
  // Kept: node 1 (GPU 5's) drained; nodes 0, 2, 3 become 0, 1, 2; GPU 9 (node 2, slot 1) is
  // GPU 5 now; GPU 6 went with node 1; node 3's slow network is node 2's.
  const Scenario kept = after_faults(s, StragglerPolicy::kKeep);
  EXPECT_EQ(kept.cluster.nodes, 3);
  EXPECT_FALSE(kept.faults.any());
  for (int g = 0; g < 12; ++g) EXPECT_DOUBLE_EQ(kept.cluster.gpu_factor(g), g == 5 ? 2.0 : 1.0) << g;
  EXPECT_EQ(kept.cluster.nic_slowdown, (std::vector<double>{1.0, 1.0, 4.0}));
  // Drained: nodes 1 (failed), 2 (GPU 9) and 3 (slow network) go; node 0 is left, healthy.
  const Scenario drained = after_faults(s, StragglerPolicy::kDrain);
  EXPECT_EQ(drained.cluster.nodes, 1);
  EXPECT_TRUE(drained.cluster.gpu_slowdown.empty());
  EXPECT_TRUE(drained.cluster.nic_slowdown.empty());
  EXPECT_EQ(drained_nodes(s.faults, s.cluster, StragglerPolicy::kDrain), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(without_faults(s).cluster.nodes, 4);
  EXPECT_FALSE(without_faults(s).faults.any());
  EXPECT_THAT([] {
    try {
      after_faults(with_faults("failed_nodes = [0, 1, 2]\nfailed_nics = [3]"), StragglerPolicy::kKeep);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  }(), HasSubstr("leaves no node of 4"));
}

// A 2-node, 1-GPU-per-node all-reduce of 10 MB crosses both NICs: a node's network slowed 4x
// takes the bandwidth term 4x longer (latency unchanged); a straggler's compute takes its
// factor longer, and the others wait for it at the collective.
TEST(Faults, StragglersSlowWhatTheyOwn) {
  Cluster c;
  c.nodes = 2;
  c.gpus_per_node = 1;
  c.intra_node = Link{100.0, 2.0, 0.5};
  c.inter_node = Link{20.0, 10.0, 0.5};
  const double nic = 20e9 * 0.5, lat = 10e-6;
  const std::int64_t bytes = 10'000'000;
  Programs p;
  p.collectives = 1;
  std::vector<std::vector<double>> secs;
  for (int d = 0; d < 2; ++d) {
    DeviceProgram dp;
    dp.device = d;
    Instr bwd;
    bwd.kind = InstrKind::kBackward;
    dp.instrs.push_back(bwd);
    for (InstrKind k : {InstrKind::kSyncStart, InstrKind::kSyncWait}) {
      Instr in;
      in.kind = k;
      in.collective = 0;
      in.group = {0, 1};
      in.bytes = bytes;
      dp.instrs.push_back(in);
    }
    p.devices.push_back(dp);
    secs.push_back({1e-3, 0, 0});
  }
  const double healthy = estimate_iteration(p, secs, c).iteration_s;
  EXPECT_NEAR(healthy, 1e-3 + 2 * lat + bytes / nic, 1e-12);
  Cluster slow = c;
  slow.nic_slowdown = {4.0, 1.0};
  EXPECT_NEAR(estimate_iteration(p, secs, slow).iteration_s, 1e-3 + 2 * lat + 4 * bytes / nic, 1e-12);
  // compute_seconds applies Cluster::gpu_slowdown; here the same factor on the seconds given.
  std::vector<std::vector<double>> straggling = secs;
  straggling[1][0] *= 3.0;
  EXPECT_NEAR(estimate_iteration(p, straggling, c).iteration_s, 3e-3 + 2 * lat + bytes / nic, 1e-12);
}

}  // namespace
}  // namespace spindle::testing
