// The cluster a scenario's faults leave (see faults.h).
#include "planner/config/faults.h"

#include <algorithm>
#include <set>

#include "planner/config/scenario.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

std::string factor_text(double f) { return exact(f) + "x"; }

}  // namespace

bool Faults::any() const {
  return !failed_nodes.empty() || !failed_gpus.empty() || !failed_nics.empty() || slows();
}

std::string Faults::describe(int gpn) const {
  std::vector<std::string> parts;
  for (int n : failed_nodes) parts.push_back("node " + std::to_string(n) + " failed");
  for (int g : failed_gpus)
    parts.push_back("GPU " + std::to_string(g) + " failed (node " + std::to_string(g / gpn) + " drained)");
  for (int n : failed_nics) parts.push_back("node " + std::to_string(n) + "'s network link failed (node drained)");
  for (const Straggler& s : stragglers) parts.push_back("GPU " + std::to_string(s.id) + " " + factor_text(s.slowdown) + " slower");
  for (const Straggler& s : slow_nics)
    parts.push_back("node " + std::to_string(s.id) + "'s network " + factor_text(s.slowdown) + " slower");
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out.empty() ? "none" : out;
}

std::vector<int> drained_nodes(const Faults& f, const Cluster& c, StragglerPolicy policy) {
  std::set<int> out(f.failed_nodes.begin(), f.failed_nodes.end());
  for (int g : f.failed_gpus) out.insert(g / c.gpus_per_node);
  out.insert(f.failed_nics.begin(), f.failed_nics.end());
  if (policy == StragglerPolicy::kDrain) {
    for (const Straggler& s : f.stragglers) out.insert(s.id / c.gpus_per_node);
    for (const Straggler& s : f.slow_nics) out.insert(s.id);
  }
  return {out.begin(), out.end()};
}

Scenario after_faults(const Scenario& s, StragglerPolicy policy) {
  const Cluster& c = s.cluster;
  const std::vector<int> drained = drained_nodes(s.faults, c, policy);
  const int left = c.nodes - static_cast<int>(drained.size());
  if (left < 1)
    throw InputError(s.file + ": [faults]: " + s.faults.describe(c.gpus_per_node) + " leaves no node of " +
                     std::to_string(c.nodes) + "; allowed: faults that leave at least one node");
  std::vector<int> renumbered(static_cast<size_t>(c.nodes), -1);
  for (int n = 0, k = 0; n < c.nodes; ++n)
    if (!std::binary_search(drained.begin(), drained.end(), n)) renumbered[static_cast<size_t>(n)] = k++;
  Scenario out = s;
  out.faults = Faults{};
  Cluster& d = out.cluster;
  d.nodes = left;
  d.gpu_slowdown.clear();
  d.nic_slowdown.clear();
  for (const Straggler& st : s.faults.stragglers) {
    const int node = renumbered[static_cast<size_t>(st.id / c.gpus_per_node)];
    if (node < 0) continue;
    d.gpu_slowdown.resize(static_cast<size_t>(d.gpus()), 1.0);
    d.gpu_slowdown[static_cast<size_t>(node * c.gpus_per_node + st.id % c.gpus_per_node)] *= st.slowdown;
  }
  for (const Straggler& st : s.faults.slow_nics) {
    const int node = renumbered[static_cast<size_t>(st.id)];
    if (node < 0) continue;
    d.nic_slowdown.resize(static_cast<size_t>(d.nodes), 1.0);
    d.nic_slowdown[static_cast<size_t>(node)] *= st.slowdown;
  }
  return out;
}

Scenario without_faults(const Scenario& s) {
  Scenario out = s;
  out.faults = Faults{};
  return out;
}

}  // namespace spindle
