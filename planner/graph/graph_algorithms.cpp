// Boost.Graph lives here only: topological sort (cycle detection through not_a_dag) and a
// longest-path pass over the topological order.
#include "planner/graph/graph_algorithms.h"

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/topological_sort.hpp>
#include <iterator>

namespace spindle {
namespace {

using BoostGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;

BoostGraph make_graph(int n, const std::vector<DagEdge>& edges) {
  BoostGraph g(static_cast<size_t>(n));
  for (const DagEdge& e : edges) boost::add_edge(static_cast<size_t>(e.from), static_cast<size_t>(e.to), g);
  return g;
}

// Finds one cycle by iterative DFS (white/grey/black); only called once Boost said "not a DAG".
std::vector<int> find_cycle(int n, const std::vector<DagEdge>& edges) {
  std::vector<std::vector<int>> out(static_cast<size_t>(n));
  for (const DagEdge& e : edges) out[e.from].push_back(e.to);
  std::vector<int> color(static_cast<size_t>(n), 0), parent(static_cast<size_t>(n), -1);
  std::vector<size_t> next(static_cast<size_t>(n), 0);
  for (int root = 0; root < n; ++root) {
    if (color[root] != 0) continue;
    std::vector<int> stack{root};
    color[root] = 1;
    while (!stack.empty()) {
      int v = stack.back();
      auto& nv = next[v];
      if (nv < out[v].size()) {
        int w = out[v][nv++];
        if (color[w] == 1) {
          std::vector<int> cycle{w};
          for (int x = v; x != w; x = parent[x]) cycle.push_back(x);
          std::reverse(cycle.begin() + 1, cycle.end());
          return cycle;
        }
        if (color[w] == 0) {
          color[w] = 1;
          parent[w] = v;
          stack.push_back(w);
        }
      } else {
        color[v] = 2;
        stack.pop_back();
      }
    }
  }
  return {};
}

}  // namespace

CycleError::CycleError(std::vector<int> cycle)
    : Error("graph has a cycle"), cycle_(std::move(cycle)) {}

std::vector<int> topological_order(int n, const std::vector<DagEdge>& edges) {
  BoostGraph g = make_graph(n, edges);
  std::vector<size_t> reversed;
  reversed.reserve(static_cast<size_t>(n));
  try {
    boost::topological_sort(g, std::back_inserter(reversed));
  } catch (const boost::not_a_dag&) {
    throw CycleError(find_cycle(n, edges));
  }
  std::vector<int> order;
  order.reserve(reversed.size());
  for (auto it = reversed.rbegin(); it != reversed.rend(); ++it) order.push_back(static_cast<int>(*it));
  return order;
}

std::vector<int> longest_path_levels(int n, const std::vector<DagEdge>& edges) {
  std::vector<int> order = topological_order(n, edges);
  std::vector<std::vector<int>> preds(static_cast<size_t>(n));
  for (const DagEdge& e : edges) preds[e.to].push_back(e.from);
  std::vector<int> level(static_cast<size_t>(n), 1);
  for (int v : order)
    for (int p : preds[v])
      level[v] = std::max(level[v], level[p] + 1);
  return level;
}

}  // namespace spindle
