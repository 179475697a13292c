// Fault what-ifs (`[faults]` in a scenario): GPUs, nodes and node network links that fail, and
// stragglers (a GPU computing, or a node's network, slower by a factor). The planner's cluster
// is homogeneous whole nodes, so every failure drains its node; what is left is planned and
// simulated as it is (stragglers in place), or with the stragglers' nodes drained as well.
#pragma once

#include <string>
#include <vector>

namespace spindle {

struct Scenario;
struct Cluster;

struct Straggler {
  int id = 0;           // a GPU (stragglers) or a node (slow_nics)
  double slowdown = 1;  // compute time, or network time, multiplied by this
};

struct Faults {
  std::vector<int> failed_nodes;
  std::vector<int> failed_gpus;  // the GPU's node is drained
  std::vector<int> failed_nics;  // a node's network link: the node is cut off, so drained
  std::vector<Straggler> stragglers;  // GPUs
  std::vector<Straggler> slow_nics;   // nodes
  bool any() const;
  bool slows() const { return !stragglers.empty() || !slow_nics.empty(); }
  // "node 7 failed; GPU 12 failed (node 1 drained); GPU 4 1.5x slower"
  std::string describe(int gpus_per_node) const;
};

// What to do with stragglers when re-planning: keep them (plan and simulate the cluster as
// it is) or drain their nodes like failed ones.
enum class StragglerPolicy { kKeep, kDrain };

// Nodes taken out, ascending.
std::vector<int> drained_nodes(const Faults& f, const Cluster& c, StragglerPolicy policy);

// The scenario on what is left: drained nodes removed (the others renumbered in order, leaves
// refilled), kept stragglers moved to the cluster's slowdown factors, faults cleared. Throws
// InputError when no node is left.
Scenario after_faults(const Scenario& s, StragglerPolicy policy);

// The scenario with its faults cleared (the healthy cluster).
Scenario without_faults(const Scenario& s);

}  // namespace spindle
