// Cluster -> SimGrid platform through the S4U API (no XML). Each node is a full-routing zone
// holding a star: GPU k's split-duplex NVLink link (half the NVLink latency each way) into the
// node switch, so GPU a -> GPU b crosses a's link up and b's link down; and its NIC(s), which
// GPU traffic reaches without crossing NVLink (PCIe). SimGrid's StarZone gives one link set per
// member and cannot route a GPU's network traffic apart from its NVLink traffic, hence a full
// zone with the star's routes. Between nodes: the sender's NIC up, its leaf's up-link (leaf
// down-links bandwidth / oversubscription; only where oversubscribed, else it never binds),
// the receiver's leaf and NIC down (inside one leaf, only the two NICs: the leaf switch does
// not block); the spine itself does not block. Leaves are star zones of node zones, the cluster a star zone of leaves, so
// routing state is linear in the cluster (create_fatTree_zone gives every level one bandwidth
// and so cannot express a fractional oversubscription).
#include "sim/replay/simgrid_platform.h"

#include <malloc.h>
#include <simgrid/s4u.hpp>

#include <memory>
#include <string>

#include "traces/errors.h"

namespace spindle {
namespace s4u = simgrid::s4u;
using Dir = s4u::LinkInRoute::Direction;

s4u::Engine& start_engine(bool rate_caps) {
  static std::unique_ptr<s4u::Engine> engine;
  if (!engine) {
    static char arg0[] = "spindle-sim";
    static char log[] = "--log=root.thres:critical";
    static char* argv[] = {arg0, log, nullptr};
    int argc = 2;
    engine = std::make_unique<s4u::Engine>(&argc, argv);
    s4u::Engine::set_config("network/model:CM02");
    s4u::Engine::set_config("network/crosstraffic:0");
    // With rate caps (NCCL's collectives): no TCP window bound on a flow's rate (gamma / 2
    // latency is astronomically high) while a comm's own rate counts -- with gamma 0 SimGrid
    // ignores both, and without caps gamma 0 keeps the solver ~10% faster at 1,024 GPUs.
    s4u::Engine::set_config(rate_caps ? "network/TCP-gamma:1e30" : "network/TCP-gamma:0");
    s4u::Engine::set_config("network/weight-S:0");
    // Actors run short loops over a program (no recursion): 96 KiB stacks instead of 8 MiB
    // keep tens of thousands of actors (devices, inbox sinks, flow helpers) to a few GiB of
    // address space, and without guard pages (two memory mappings each) they stay under
    // Linux's default limit of 65,536 mappings per process. Peak RSS at 4,096 GPUs
    // (spindle-bench-sim): 526 MiB with 96 KiB, 800 with 128 (why more pages get touched is
    // not understood), 827 with 32 (under the 64 KiB mmap threshold set below: heap, zeroed).
    s4u::Engine::set_config("contexts/stack-size:96");
    s4u::Engine::set_config("contexts/guard-size:0");
    // Unguarded stacks are calloc'ed: a fixed mmap threshold below their size keeps every
    // stack its own lazily touched mapping (glibc's adaptive threshold would soon serve them
    // from the heap, zeroing all of each), and neighbouring mappings merge.
    mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  }
  return *engine;
}

std::vector<s4u::Host*> build_platform(const Cluster& c) {
  if (c.nodes < 1 || c.gpus_per_node < 1) throw InternalError("build_platform: empty cluster");
  const double nvlink_Bps = c.intra_node.bw_GBps * 1e9 * c.intra_node.efficiency;
  const double node_Bps = c.inter_node.bw_GBps * 1e9 * c.inter_node.efficiency;
  const bool per_gpu = c.nic == NicPlacement::kPerGpu;
  const double nic_Bps = per_gpu ? node_Bps / c.gpus_per_node : node_Bps;
  const int gpn = c.gpus_per_node;
  auto* root = s4u::create_star_zone("cluster");
  const int leaves = (c.nodes + c.nodes_per_leaf - 1) / c.nodes_per_leaf;
  auto under = [&](int l) { return std::min(c.nodes_per_leaf, c.nodes - l * c.nodes_per_leaf); };
  // Every link is created (in the root zone) before any other zone: SimGrid checks a new
  // link's name against every zone, which would make building quadratic in the nodes.
  std::vector<s4u::Link*> nvlink, nic, uplink;
  for (int g = 0; g < c.gpus(); ++g) {
    const std::string gpu = "gpu-" + std::to_string(g);
    nvlink.push_back(root->create_split_duplex_link(gpu + "-nvlink", nvlink_Bps)
                         ->set_latency(c.intra_node.latency_us * 1e-6 / 2)
                         ->seal());
    if (per_gpu || g % gpn == 0)
      nic.push_back(root->create_split_duplex_link((per_gpu ? gpu : "node-" + std::to_string(g / gpn)) + "-nic",
                                                   nic_Bps / c.nic_factor(g / gpn))  // a slow node network (faults.h)
                        ->set_latency(c.inter_node.latency_us * 1e-6 / 2)
                        ->seal());
  }
  // A leaf's up-link carries at most what its nodes' NICs send (receive), so unless it is
  // oversubscribed it never limits a flow, and it would only join every flow that leaves a leaf
  // into one set for SimGrid's solver: the up-link exists only where it is oversubscribed.
  const bool blocking_leaves = c.oversubscription > 1;
  if (blocking_leaves)
    for (int l = 0; l < leaves; ++l)
      uplink.push_back(
          root->create_split_duplex_link("leaf-" + std::to_string(l), node_Bps * under(l) / c.oversubscription)
              ->set_latency(0)
              ->seal());
  std::vector<s4u::Host*> gpus;
  gpus.reserve(static_cast<size_t>(c.gpus()));
  for (int l = 0; l < leaves; ++l) {
    const std::string leaf_name = "leaf-" + std::to_string(l);
    auto* leaf = s4u::create_star_zone(leaf_name);
    leaf->set_parent(root);
    // The leaf's gateway is its first node's switch (SimGrid's hierarchical routing wants a
    // gateway reachable inside the leaf's own children).
    simgrid::kernel::routing::NetPoint* leaf_gw = nullptr;
    for (int j = l * c.nodes_per_leaf; j < l * c.nodes_per_leaf + under(l); ++j) {
      const std::string node = "node-" + std::to_string(j);
      auto* z = s4u::create_full_zone(node);
      z->set_parent(leaf);
      auto* gw = z->create_router(node + "-switch");
      std::vector<s4u::Host*> hosts;
      for (int k = 0; k < gpn; ++k) hosts.push_back(z->create_host("gpu-" + std::to_string(j * gpn + k), 1e9)->seal());
      for (int a = 0; a < gpn; ++a) {
        const size_t ga = static_cast<size_t>(j * gpn + a);
        s4u::Link* own_nic = nic[per_gpu ? ga : static_cast<size_t>(j)];
        auto* pa = hosts[static_cast<size_t>(a)]->get_netpoint();
        z->add_route(pa, gw, nullptr, nullptr, {s4u::LinkInRoute(own_nic, Dir::UP)}, false);
        z->add_route(gw, pa, nullptr, nullptr, {s4u::LinkInRoute(own_nic, Dir::DOWN)}, false);
        for (int b = 0; b < gpn; ++b)
          if (a != b)
            z->add_route(pa, hosts[static_cast<size_t>(b)]->get_netpoint(), nullptr, nullptr,
                         {s4u::LinkInRoute(nvlink[ga], Dir::UP),
                          s4u::LinkInRoute(nvlink[static_cast<size_t>(j * gpn + b)], Dir::DOWN)},
                         false);
      }
      z->seal();
      // Inside a leaf the (non-blocking) leaf switch adds no link: the route is the two NICs.
      leaf->add_route(z->get_netpoint(), nullptr, gw, nullptr, {}, false);
      leaf->add_route(nullptr, z->get_netpoint(), nullptr, gw, {}, false);
      gpus.insert(gpus.end(), hosts.begin(), hosts.end());
      if (leaf_gw == nullptr) leaf_gw = gw;
    }
    leaf->seal();
    std::vector<s4u::LinkInRoute> out, in;
    if (blocking_leaves) {
      out.emplace_back(uplink[static_cast<size_t>(l)], Dir::UP);
      in.emplace_back(uplink[static_cast<size_t>(l)], Dir::DOWN);
    }
    root->add_route(leaf->get_netpoint(), nullptr, leaf_gw, nullptr, out, false);
    root->add_route(nullptr, leaf->get_netpoint(), nullptr, leaf_gw, in, false);
  }
  root->seal();
  return gpus;
}

}  // namespace spindle
