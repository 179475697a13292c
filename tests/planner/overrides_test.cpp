// `--set KEY=VALUE` overrides: applied on the scenario tree before validation, so they are
// checked exactly like the file and their errors point at the override.
#include <gtest/gtest.h>

#include "planner/graph/graph_builder.h"
#include "test_scenarios.h"
#include "traces/errors.h"

namespace spindle::testing {
namespace {

const std::string kBase = small_scenario();

TEST(Overrides, SetScalarsAndArrayEntries) {
  Scenario s = load_text(kBase, {"cluster.nodes=8", "tasks.1.batch=16", "scenario.name=my-study"});
  EXPECT_EQ(s.cluster.nodes, 8);
  EXPECT_EQ(s.cluster.gpus(), 32);
  EXPECT_EQ(s.tasks[1].batch, 16);
  EXPECT_EQ(s.name, "my-study");
}

TEST(Overrides, LaterOverrideWins) {
  EXPECT_EQ(load_text(kBase, {"cluster.nodes=8", "cluster.nodes=3"}).cluster.nodes, 3);
}

TEST(Overrides, ModelFieldsChangeTheGraph) {
  Graph before = build_graph(load_text(kBase));
  Graph after = build_graph(load_text(kBase, {"model.components.a.layers=5"}));
  EXPECT_EQ(after.size(), before.size() + 2 * 3);  // two tasks, three more layers each
}

TEST(Overrides, TablesAndInlineValues) {
  Scenario s = load_text(kBase, {"cluster.inter_node={ bw_GBps = 25.0, latency_us = 1.0 }"});
  EXPECT_DOUBLE_EQ(s.cluster.inter_node.bw_GBps, 25.0);
  EXPECT_DOUBLE_EQ(s.cluster.inter_node.latency_us, 1.0);
}

TEST(Overrides, ValidatedLikeTheFile) {
  EXPECT_EQ(load_error(kBase, {"cluster.nodes=0"}),
            "--set cluster.nodes=0: cluster.nodes: 0 is out of range; allowed: integer 1..65536");
  EXPECT_EQ(load_error(kBase, {"cluster.nodes=\"4\""}),
            "--set cluster.nodes=\"4\": cluster.nodes: expected integer, found string; allowed: integer 1..65536");
  EXPECT_EQ(load_error(kBase, {"cluster.nodes=four"}),
            "--set cluster.nodes=four: cluster.nodes: expected integer, found string; allowed: integer 1..65536");
  EXPECT_EQ(load_error(kBase, {"cluster.nodez=3"}),
            "--set cluster.nodez=3: cluster.nodez: unknown key; allowed: nodes, gpus_per_node, gpu, intra_node, "
            "inter_node, nic, nvls, collectives, nccl_algo, nodes_per_leaf, oversubscription");
  EXPECT_EQ(load_error(kBase, {"tasks.0.loss=mse"}),
            "--set tasks.0.loss=mse: tasks.0.loss: 'mse' is not known; allowed: one of contrastive, cross_entropy");
}

TEST(Overrides, SizesThatOverflowAreRefused) {
  Scenario s = load_text(kBase, {"tasks.0.batch=16777216", "model.components.a.tokens=1048576",
                                 "model.components.a.hidden=65536"});
  EXPECT_THROW(build_graph(s), InputError);
}

TEST(Overrides, MalformedOverrides) {
  const std::string allowed = "; allowed: KEY=VALUE with KEY a dotted path";
  EXPECT_EQ(load_error(kBase, {"cluster.nodes"}).rfind("--set cluster.nodes: expected KEY=VALUE" + allowed, 0), 0u);
  EXPECT_EQ(load_error(kBase, {"tasks.9.batch=1"}).rfind("--set tasks.9.batch=1: tasks has 2 entries; index 9 is "
                                                         "out of range" + allowed, 0),
            0u);
  EXPECT_EQ(load_error(kBase, {"scenario.name.x=1"}).rfind("--set scenario.name.x=1: scenario.name is a string, it "
                                                           "has no key 'x'" + allowed, 0),
            0u);
  EXPECT_EQ(load_error(kBase, {"cluster..nodes=1"}).rfind("--set cluster..nodes=1: empty key segment", 0), 0u);
}

// The simulator's topology keys: defaults (NIC per node, one node per leaf, no
// oversubscription, links at 80% of nominal) and overrides, validated like every other key.
TEST(Overrides, NetworkTopologyKeys) {
  const Scenario d = load_text(kBase);
  EXPECT_EQ(d.cluster.nic, NicPlacement::kPerNode);
  EXPECT_EQ(d.cluster.nodes_per_leaf, 1);
  EXPECT_DOUBLE_EQ(d.cluster.oversubscription, 1.0);
  EXPECT_DOUBLE_EQ(d.cluster.intra_node.efficiency, 0.8);
  EXPECT_DOUBLE_EQ(d.cluster.inter_node.efficiency, 0.8);
  const Scenario s = load_text(kBase, {"cluster.nic=per_gpu", "cluster.nodes_per_leaf=2", "cluster.oversubscription=4",
                                       "cluster.intra_node.efficiency=0.9"});
  EXPECT_EQ(s.cluster.nic, NicPlacement::kPerGpu);
  EXPECT_EQ(s.cluster.nodes_per_leaf, 2);
  EXPECT_DOUBLE_EQ(s.cluster.oversubscription, 4.0);
  EXPECT_DOUBLE_EQ(s.cluster.intra_node.efficiency, 0.9);
  EXPECT_EQ(load_error(kBase, {"cluster.oversubscription=0.5"}),
            "--set cluster.oversubscription=0.5: cluster.oversubscription: 0.5 is out of range; allowed: number 1..1000");
}

}  // namespace
}  // namespace spindle::testing
