// Chain contraction in topological order, a cycle guard for side inputs, then levels.
#include "planner/graph/metagraph.h"

#include <algorithm>
#include <map>
#include <set>

#include "planner/graph/graph_algorithms.h"
#include "traces/errors.h"

namespace spindle {
namespace {

std::vector<DagEdge> op_edges(const Graph& g) {
  std::vector<DagEdge> edges;
  edges.reserve(g.edges().size());
  for (const Edge& e : g.edges()) edges.push_back(DagEdge{e.from, e.to});
  return edges;
}

class Contractor {
 public:
  explicit Contractor(const Graph& g) : g_(g) {}

  MetaGraph run() {
    std::vector<int> order = topological_order(g_.size(), op_edges(g_));
    pos_.assign(static_cast<size_t>(g_.size()), 0);
    for (size_t i = 0; i < order.size(); ++i) pos_[static_cast<size_t>(order[i])] = static_cast<int>(i);
    meta_.assign(static_cast<size_t>(g_.size()), -1);
    for (int v : order) {
      int m = mergeable_into(v);
      if (m < 0) {
        m = static_cast<int>(chains_.size());
        chains_.emplace_back();
      }
      meta_[static_cast<size_t>(v)] = m;
      chains_[static_cast<size_t>(m)].push_back(v);
    }
    return finish();
  }

 private:
  // The chain `v` may join, or -1.
  int mergeable_into(int v) const {
    if (g_.data_in_degree(v) != 1) return -1;
    int u = -1;
    for (int e : g_.in_edges(v))
      if (!g_.edges()[static_cast<size_t>(e)].side) u = g_.edges()[static_cast<size_t>(e)].from;
    if (g_.data_out_degree(u) != 1 || !same_signature(g_.op(u), g_.op(v))) return -1;
    int m = meta_[static_cast<size_t>(u)];
    for (int e : g_.in_edges(v)) {
      const Edge& edge = g_.edges()[static_cast<size_t>(e)];
      if (edge.side && meta_[static_cast<size_t>(edge.from)] != m && depends_on_chain(edge.from, m)) return -1;
    }
    return m;
  }

  // Whether the chain holding `s` depends on chain `m` in the MetaGraph formed so far (then
  // merging a consumer of `s` into `m` would close a cycle). Walks chains backwards; a chain
  // that ends before `m` starts cannot depend on it.
  bool depends_on_chain(int s, int m) const {
    const int start = pos_[static_cast<size_t>(chains_[static_cast<size_t>(m)].front())];
    std::vector<int> stack{meta_[static_cast<size_t>(s)]};
    std::set<int> seen{stack.front()};
    while (!stack.empty()) {
      int c = stack.back();
      stack.pop_back();
      if (c == m) return true;
      for (int x : chains_[static_cast<size_t>(c)])
        for (int e : g_.in_edges(x)) {
          int p = meta_[static_cast<size_t>(g_.edges()[static_cast<size_t>(e)].from)];
          if (p >= 0 && pos_[static_cast<size_t>(chains_[static_cast<size_t>(p)].back())] >= start && seen.insert(p).second)
            stack.push_back(p);
        }
    }
    return false;
  }

  MetaGraph finish() {
    const int n = static_cast<int>(chains_.size());
    std::set<std::pair<int, int>> medges;
    for (const Edge& e : g_.edges()) {
      int a = meta_[static_cast<size_t>(e.from)], b = meta_[static_cast<size_t>(e.to)];
      if (a != b) medges.insert({a, b});
    }
    std::vector<DagEdge> dag;
    for (auto [a, b] : medges) dag.push_back(DagEdge{a, b});
    std::vector<int> level;
    try {
      level = longest_path_levels(n, dag);
    } catch (const CycleError&) {
      throw InternalError("graph contraction produced a cyclic MetaGraph");
    }
    // Number MetaOps by (level, first operator id) so tables read top-down.
    std::vector<int> perm(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
    std::sort(perm.begin(), perm.end(), [&](int a, int b) {
      auto ka = std::make_pair(level[static_cast<size_t>(a)], chains_[static_cast<size_t>(a)].front());
      auto kb = std::make_pair(level[static_cast<size_t>(b)], chains_[static_cast<size_t>(b)].front());
      return ka < kb;
    });
    std::vector<int> new_id(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) new_id[static_cast<size_t>(perm[static_cast<size_t>(i)])] = i;

    MetaGraph mg;
    mg.metaops.resize(static_cast<size_t>(n));
    for (int old = 0; old < n; ++old) {
      MetaOp& m = mg.metaops[static_cast<size_t>(new_id[static_cast<size_t>(old)])];
      const std::vector<int>& chain = chains_[static_cast<size_t>(old)];
      const Operator& first = g_.op(chain.front());
      m.id = new_id[static_cast<size_t>(old)];
      m.ops = chain;
      m.kind = first.kind;
      m.weight_set = first.weight_set;
      m.component = first.component;
      std::set<int> tasks;
      for (int v : chain) tasks.insert(g_.op(v).task);
      m.tasks.assign(tasks.begin(), tasks.end());
      m.shape = first.shape;
      m.L = static_cast<int>(chain.size());
      m.level = level[static_cast<size_t>(old)];
      m.per_op = first.cost;
      mg.levels = std::max(mg.levels, m.level);
    }
    for (auto [a, b] : medges)
      mg.metaops[static_cast<size_t>(new_id[static_cast<size_t>(b)])].preds.push_back(new_id[static_cast<size_t>(a)]);
    for (MetaOp& m : mg.metaops) std::sort(m.preds.begin(), m.preds.end());
    mg.op_meta.resize(meta_.size());
    for (size_t v = 0; v < meta_.size(); ++v) mg.op_meta[v] = new_id[static_cast<size_t>(meta_[v])];
    return mg;
  }

  const Graph& g_;
  std::vector<int> pos_;
  std::vector<int> meta_;
  std::vector<std::vector<int>> chains_;
};

}  // namespace

MetaGraph contract(const Graph& g) { return Contractor(g).run(); }

bool is_side_input(const Graph& g, const MetaGraph& mg, int pred, int metaop) {
  for (int e : g.out_edges(mg.metaops[static_cast<size_t>(pred)].ops.back())) {
    const Edge& edge = g.edges()[static_cast<size_t>(e)];
    if (edge.side && mg.op_meta[static_cast<size_t>(edge.to)] == metaop) return true;
  }
  return false;
}

}  // namespace spindle
