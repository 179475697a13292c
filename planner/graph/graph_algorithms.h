// Directed-graph algorithms the planner needs, behind a small interface so that Boost.Graph
// is compiled in one file: topological order with cycle detection, longest-path levels.
#pragma once

#include <vector>

#include "traces/errors.h"

namespace spindle {

struct DagEdge {
  int from = 0;
  int to = 0;
};

// Thrown when a graph that must be acyclic is not; `cycle()` lists the vertices of one cycle
// in edge order (the last has an edge back to the first). Callers turn it into a message.
class CycleError : public Error {
 public:
  explicit CycleError(std::vector<int> cycle);
  const std::vector<int>& cycle() const { return cycle_; }

 private:
  std::vector<int> cycle_;
};

// A topological order of vertices 0..n-1 (deterministic for the same input).
std::vector<int> topological_order(int n, const std::vector<DagEdge>& edges);

// level[v] = 1 for sources, else 1 + max level of v's predecessors (the longest path from a
// source, which plain BFS depth gets wrong on skip edges). Throws CycleError when cyclic.
std::vector<int> longest_path_levels(int n, const std::vector<DagEdge>& edges);

}  // namespace spindle
