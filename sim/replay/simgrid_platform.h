// The cluster as a SimGrid platform (internal to sim/'s two SimGrid files): one zone per node
// with a star of NVLink links (each GPU's link into the node switch) and its NIC(s), nodes
// joined by a two-level fat tree (leaf switches with an oversubscribed up-link to the spine).
// SimGrid runs one engine per process; start_engine() creates it on first use.
#pragma once

#include <vector>

#include "planner/config/scenario.h"

namespace simgrid::s4u {
class Engine;
class Host;
}  // namespace simgrid::s4u

namespace spindle {

// The process's engine: CM02 network model without cross traffic (split-duplex links carry
// each direction on its own), no TCP window bound, small actor stacks, SimGrid's logs silenced.
// `rate_caps`: flows may carry a rate cap (Flow::max_Bps), which SimGrid must then honour.
simgrid::s4u::Engine& start_engine(bool rate_caps);

// Builds the platform of `c` in the started engine; returns the GPU hosts, by GPU id.
std::vector<simgrid::s4u::Host*> build_platform(const Cluster& c);

}  // namespace spindle
