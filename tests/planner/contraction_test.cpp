// Graph contraction properties, on every zoo scenario and on seeded random graphs: the
// operator count is kept, MetaOps are chains of identical operators, no mergeable pair is
// left apart unless merging it would close a cycle, and levels are longest paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "planner/graph/graph_algorithms.h"
#include "planner/graph/graph_builder.h"
#include "planner/graph/metagraph.h"
#include "test_scenarios.h"

namespace spindle::testing {
namespace {

// Kahn's algorithm, independent of the Boost-based code under test.
bool has_cycle(int n, const std::set<std::pair<int, int>>& edges) {
  std::vector<int> indeg(static_cast<size_t>(n), 0);
  std::vector<std::vector<int>> out(static_cast<size_t>(n));
  for (auto [a, b] : edges) {
    if (a == b) continue;
    out[static_cast<size_t>(a)].push_back(b);
    ++indeg[static_cast<size_t>(b)];
  }
  std::vector<int> ready;
  for (int v = 0; v < n; ++v)
    if (indeg[static_cast<size_t>(v)] == 0) ready.push_back(v);
  int seen = 0;
  while (!ready.empty()) {
    int v = ready.back();
    ready.pop_back();
    ++seen;
    for (int w : out[static_cast<size_t>(v)])
      if (--indeg[static_cast<size_t>(w)] == 0) ready.push_back(w);
  }
  return seen != n;
}

std::set<std::pair<int, int>> meta_edges(const Graph& g, const std::vector<int>& meta) {
  std::set<std::pair<int, int>> out;
  for (const Edge& e : g.edges())
    if (meta[static_cast<size_t>(e.from)] != meta[static_cast<size_t>(e.to)])
      out.insert({meta[static_cast<size_t>(e.from)], meta[static_cast<size_t>(e.to)]});
  return out;
}

void check_contraction(const Graph& g, const MetaGraph& mg) {
  // Every operator in exactly one MetaOp; sum of L_m is the operator count.
  int total = 0;
  std::vector<int> seen(static_cast<size_t>(g.size()), 0);
  for (const MetaOp& m : mg.metaops) {
    total += m.L;
    ASSERT_EQ(static_cast<size_t>(m.L), m.ops.size());
    for (size_t i = 0; i < m.ops.size(); ++i) {
      ++seen[static_cast<size_t>(m.ops[i])];
      EXPECT_EQ(mg.op_meta[static_cast<size_t>(m.ops[i])], m.id);
      // Same kind and shape (and the rest of the signature) throughout.
      EXPECT_TRUE(same_signature(g.op(m.ops[i]), g.op(m.ops.front())));
      EXPECT_EQ(g.op(m.ops[i]).shape, m.shape);
      if (i > 0) {  // a chain: a data edge from each operator to the next
        bool linked = false;
        for (int e : g.in_edges(m.ops[i]))
          linked |= g.edges()[static_cast<size_t>(e)].from == m.ops[i - 1] && !g.edges()[static_cast<size_t>(e)].side;
        EXPECT_TRUE(linked) << "MetaOp " << m.id << " is not a chain";
      }
    }
  }
  EXPECT_EQ(total, g.size());
  for (int c : seen) EXPECT_EQ(c, 1);

  // No mergeable neighbours left unmerged, unless merging them would close a cycle.
  for (const Edge& e : g.edges()) {
    int a = mg.op_meta[static_cast<size_t>(e.from)], b = mg.op_meta[static_cast<size_t>(e.to)];
    if (e.side || a == b) continue;
    if (g.data_out_degree(e.from) != 1 || g.data_in_degree(e.to) != 1) continue;
    if (!same_signature(g.op(e.from), g.op(e.to))) continue;
    std::vector<int> merged = mg.op_meta;
    for (int& m : merged)
      if (m == b) m = a;
    EXPECT_TRUE(has_cycle(static_cast<int>(mg.metaops.size()), meta_edges(g, merged)))
        << "mergeable " << g.op(e.from).name << " -> " << g.op(e.to).name << " left apart";
  }

  // Levels respect every edge (skip and side edges included) and are longest paths.
  EXPECT_FALSE(has_cycle(static_cast<int>(mg.metaops.size()), meta_edges(g, mg.op_meta)));
  for (const Edge& e : g.edges()) {
    int a = mg.op_meta[static_cast<size_t>(e.from)], b = mg.op_meta[static_cast<size_t>(e.to)];
    if (a != b) {
      EXPECT_LT(mg.metaops[static_cast<size_t>(a)].level, mg.metaops[static_cast<size_t>(b)].level);
    }
  }
  int max_level = 0;
  for (const MetaOp& m : mg.metaops) {
    int expected = 1;
    for (int p : m.preds) expected = std::max(expected, mg.metaops[static_cast<size_t>(p)].level + 1);
    EXPECT_EQ(m.level, expected) << "MetaOp " << m.id;
    max_level = std::max(max_level, m.level);
  }
  EXPECT_EQ(mg.levels, max_level);
}

TEST(Contraction, ZooModels) {
  for (const std::string& file : zoo_files()) {
    SCOPED_TRACE(file);
    Graph g = build_graph(load_scenario(file));
    check_contraction(g, contract(g));
  }
}

TEST(Contraction, EncoderLayersOfATaskBecomeOneMetaOp) {
  Scenario s = load_scenario(default_data_dir() / "multitask-clip-10.toml");
  MetaGraph mg = contract(build_graph(s));
  int vision = 0;
  for (const MetaOp& m : mg.metaops)
    if (m.kind == OpKind::kEncoderLayer && m.weight_set == "vision") {
      EXPECT_EQ(m.L, 32);
      EXPECT_EQ(m.shape.seq, 257);
      EXPECT_EQ(m.tasks.size(), 1u);
      ++vision;
    }
  EXPECT_EQ(vision, 5);  // one per task using the vision encoder
}

TEST(Contraction, CrossAttentionIsASideInput) {
  Scenario s = load_scenario(default_data_dir() / "ofasys-7.toml");
  MetaGraph mg = contract(build_graph(s));
  int decoders = 0;
  for (const MetaOp& m : mg.metaops)
    if (m.kind == OpKind::kDecoderLayer) {
      EXPECT_EQ(m.L, 12) << "decoder chain split by its cross-attention input";
      ++decoders;
    }
  EXPECT_EQ(decoders, 7);
}

TEST(Contraction, SkipEdgesUseTheLongestPath) {
  // av-qa: the LLM reads the token embedding (level 1) and the resampled vision prefix
  // (embed -> 48 layers -> resampler: level 4); BFS depth would put it at level 2.
  Scenario s = load_scenario(default_data_dir() / "qwen-val-3.toml");
  Graph g = build_graph(s);
  MetaGraph mg = contract(g);
  for (const MetaOp& m : mg.metaops)
    if (m.weight_set == "llm" && m.kind == OpKind::kDecoderLayer && s.tasks[static_cast<size_t>(m.tasks[0])].name == "av-qa") {
      EXPECT_EQ(m.level, 4);
      EXPECT_EQ(m.shape.seq, 256 + 750 + 256);
    }
}

Operator make_op(OpKind kind, std::int64_t seq, const std::string& weights) {
  Operator op;
  op.kind = kind;
  op.shape = Shape{4, seq, 64};
  op.weight_set = weights;
  op.name = weights + "/" + std::to_string(seq);
  return op;
}

TEST(Contraction, SideInputThatDependsOnTheChainIsNotMerged) {
  // a1 -> a2 would merge, but a2 cross-attends to x, which reads a1: merging closes a cycle.
  Graph g;
  int a1 = g.add_op(make_op(OpKind::kDecoderLayer, 8, "a"));
  int a2 = g.add_op(make_op(OpKind::kDecoderLayer, 8, "a"));
  int x = g.add_op(make_op(OpKind::kEncoderLayer, 8, "x"));
  g.add_edge(a1, a2);
  g.add_edge(a1, x, /*side=*/true);
  g.add_edge(x, a2, /*side=*/true);
  g.finalize();
  MetaGraph mg = contract(g);
  EXPECT_NE(mg.op_meta[static_cast<size_t>(a1)], mg.op_meta[static_cast<size_t>(a2)]);
  check_contraction(g, mg);
}

TEST(Contraction, CyclicGraphIsAnError) {
  Graph g;
  int a = g.add_op(make_op(OpKind::kEncoderLayer, 8, "a"));
  int b = g.add_op(make_op(OpKind::kEncoderLayer, 9, "b"));
  int c = g.add_op(make_op(OpKind::kEncoderLayer, 10, "c"));
  g.add_edge(a, b);
  g.add_edge(b, c);
  g.add_edge(c, a);
  g.finalize();
  try {
    contract(g);
    FAIL() << "no error";
  } catch (const CycleError& e) {
    EXPECT_EQ(e.cycle().size(), 3u);
  }
}

// Seeded random DAGs: chains of identical operators (the common case), joined by random data
// and side edges from earlier to later operators, with random signatures.
Graph random_graph(std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint32_t>(n)); };
  Graph g;
  const int chains = 2 + pick(12);
  for (int c = 0; c < chains; ++c) {
    const int len = 1 + pick(8);
    const OpKind kind = pick(2) ? OpKind::kEncoderLayer : OpKind::kDecoderLayer;
    const std::int64_t seq = 8 + pick(3);
    const std::string w = "w" + std::to_string(pick(4));
    int prev = -1;
    for (int i = 0; i < len; ++i) {
      // Now and then a different operator breaks the run.
      Operator op = pick(6) == 0 ? make_op(OpKind::kProjectionHead, seq, w) : make_op(kind, seq, w);
      int id = g.add_op(op);
      if (prev >= 0) g.add_edge(prev, id);
      prev = id;
    }
  }
  const int extra = pick(2 * g.size() + 1);
  for (int i = 0; i < extra; ++i) {
    int a = pick(g.size()), b = pick(g.size());
    if (a == b) continue;
    if (a > b) std::swap(a, b);
    g.add_edge(a, b, pick(3) == 0);
  }
  g.finalize();
  return g;
}

TEST(Contraction, RandomGraphs) {
  for (std::uint32_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Graph g = random_graph(seed);
    MetaGraph mg = contract(g);
    check_contraction(g, mg);
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(Contraction, Deterministic) {
  Graph g = random_graph(42);
  MetaGraph a = contract(g), b = contract(g);
  ASSERT_EQ(a.metaops.size(), b.metaops.size());
  EXPECT_EQ(a.op_meta, b.op_meta);
  for (size_t i = 0; i < a.metaops.size(); ++i) EXPECT_EQ(a.metaops[i].preds, b.metaops[i].preds);
}

}  // namespace
}  // namespace spindle::testing

namespace spindle::testing {
namespace {

TEST(Contraction, CrossingSideInputsOfTwoChainsDoNotCloseACycle) {
  // a1 -> a2 and b1 -> b2 would each merge; a2 reads b1 and b2 reads a1 as side inputs, so
  // merging both would make chain A depend on B and B on A.
  Graph g;
  int a1 = g.add_op(make_op(OpKind::kDecoderLayer, 8, "a"));
  int b1 = g.add_op(make_op(OpKind::kDecoderLayer, 9, "b"));
  int a2 = g.add_op(make_op(OpKind::kDecoderLayer, 8, "a"));
  int b2 = g.add_op(make_op(OpKind::kDecoderLayer, 9, "b"));
  g.add_edge(a1, a2);
  g.add_edge(b1, b2);
  g.add_edge(b1, a2, /*side=*/true);
  g.add_edge(a1, b2, /*side=*/true);
  g.finalize();
  MetaGraph mg = contract(g);
  check_contraction(g, mg);
  EXPECT_EQ(mg.metaops.size(), 3u);  // one of the two merges is made, the other refused
}

}  // namespace
}  // namespace spindle::testing
