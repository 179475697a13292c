// NCCL 2.28's tuning model (see nccl_tuner.h). Constants and formulas from NVIDIA/nccl tag
// v2.28.9-1, src/graph/tuning.cc (line numbers below), src/graph/search.cc (channel speeds)
// and src/enqueue.cc (selection); every number here is NCCL's, none is fitted.
#include "planner/cost/nccl_tuner.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

#include "traces/errors.h"

namespace spindle {
namespace {

constexpr int kTree = 0, kRing = 1, kNvls = 2, kNvlsTree = 3, kPat = 4;  // rows of the tables below
constexpr int kNvlink = 0, kNet = 1;

// tuning.cc:143-148 (CollNet rows left out): [algo][LL, LL128, Simple], us.
constexpr double kBaseLat[5][3] = {{6.8, 14.0, 8.4}, {6.6, 14.0, 8.4}, {0, 0, 0}, {0, 0, 0}, {8.0, 8.0, 8.0}};
// tuning.cc:149-168: [NVLINK, NET][algo][proto], us (NVLS-tree NET 20.9 since 2.28.9).
constexpr double kHwLat[2][5][3] = {
    {{.6, 1.25, 4.0}, {.6, 1.9, 3.4}, {0, 0, 25}, {0, 0, 25}, {0, 0, 4.0}},
    {{5.0, 8.5, 14}, {2.7, 4.0, 14.0}, {0, 0, 18}, {0, 0, 20.9}, {0, 0, 14}}};
// tuning.cc:169-198: [architecture or CPU row][1 node, 2 nodes, 4+ nodes], GB/s.
constexpr double kLLMaxBw[4][3] = {{39.0, 39.0, 20.4}, {87.7, 22.5, 19.0}, {141.0, 45.0, 35.0}, {282.0, 90.0, 70.0}};
constexpr double kPerChMaxRingLL128Bw[4][3] = {{20, 20, 20}, {20, 20, 20}, {36.7, 36.7, 36.7}, {73.4, 34.6, 73.4}};
constexpr double kPerChMaxTreeLL128Bw[4][3] = {{20, 20, 20}, {20, 20, 20}, {36.7, 36.7, 29.0}, {55.6, 31.67, 20.0}};
constexpr double kPerChMaxTreeBw[4][3] = {{26.5, 18.5, 10}, {24, 23.6, 17.8}, {38.7, 41.4, 36.0}, {70, 42.8, 24.0}};
constexpr double kPerChMaxNvlsTreeBw[4][3] = {{26.5, 18.5, 10}, {24, 23.6, 17.8}, {0, 57.7, 45.5}, {0, 96.0, 43.8}};
constexpr double kNvlsEfficiency[4] = {0, 0, 0.85, 0.74};  // tuning.cc:134-139
// tuning.cc:578-582: tree all-reduce bandwidth factor by log2(bytes / 64), 64 B .. 256 MiB.
constexpr double kTreeCorrection[3][23] = {
    {1, 1, 1, 1, .9, .8, .7, .7, .7, .7, .6, .5, .4, .4, .5, .6, .7, .8, .9, 1, 1, 1, 1},
    {1, 1, 1, 1, 1, .9, .8, .8, .8, .7, .6, .6, .6, .6, .6, .6, .8, .9, .9, .9, .9, 1, 1},
    {.9, .9, .9, .9, .9, .9, .9, .8, .7, .6, .6, .5, .5, .5, .5, .6, .7, .8, .7, .7, .8, .9, .9}};
constexpr double kNetOverheadUs = 1.0;  // tuning.cc:214-219 on an Intel host (assumed)

// search.cc:976-989: the per-channel speeds NCCL's search tries, fastest first, GB/s.
const std::vector<double>& intra_speeds(GpuArch a) {
  static const std::vector<double> base = {40, 30, 20, 18, 15, 12, 10, 9, 7, 6, 5, 4, 3};
  static const std::vector<double> sm90 = {60, 50, 40, 30, 24, 20, 15, 12, 11, 6, 3};
  static const std::vector<double> sm100 = {90, 80, 70, 60, 50, 40, 30, 24, 20, 19, 18};
  return a == GpuArch::kHopper ? sm90 : a == GpuArch::kBlackwell ? sm100 : base;
}
const std::vector<double>& inter_speeds(GpuArch a) {
  static const std::vector<double> sm90 = {48, 45, 42, 40, 30, 24, 22, 20, 17.5, 15, 12, 6, 3, 2.4, 1.2, 0.24, 0.12};
  static const std::vector<double> sm100 = {96, 48, 45, 42, 40, 30, 24, 22, 20, 17.5, 15, 12, 6, 3, 2.4, 1.2, 0.24, 0.12};
  return a == GpuArch::kBlackwell ? sm100 : sm90;
}

int log2i(double x) { return x < 1 ? -1 : static_cast<int>(std::floor(std::log2(x))); }
int arch_index(GpuArch a) { return static_cast<int>(a); }

}  // namespace

const char* nccl_algo_name(NcclAlgo a) {
  switch (a) {
    case NcclAlgo::kTree: return "tree";
    case NcclAlgo::kRing: return "ring";
    case NcclAlgo::kNvls: return "nvls";
    case NcclAlgo::kNvlsTree: return "nvls_tree";
    case NcclAlgo::kPat: return "pat";
  }
  return "?";
}

const char* nccl_proto_name(NcclProto p) {
  switch (p) {
    case NcclProto::kLL: return "LL";
    case NcclProto::kLL128: return "LL128";
    case NcclProto::kSimple: return "Simple";
  }
  return "?";
}

NcclTopology nccl_topology(const Cluster& c, int ranks) {
  if (ranks < 1) throw InternalError("nccl_topology: " + std::to_string(ranks) + " ranks");
  const int gpn = c.gpus_per_node, nodes = (ranks + gpn - 1) / gpn;
  std::vector<int> members(nodes, gpn);
  members.back() = ranks - (nodes - 1) * gpn;  // the last node holds the rest
  return nccl_topology(c, members);
}

NcclTopology nccl_topology(const Cluster& c, const std::vector<int>& members_per_node) {
  const auto [fewest, most] = std::minmax_element(members_per_node.begin(), members_per_node.end());
  if (members_per_node.empty() || *fewest < 1)
    throw InternalError("nccl_topology: a group spans at least one node, each with one member or more");
  NcclTopology t;
  t.nodes = static_cast<int>(members_per_node.size());
  t.ranks = std::accumulate(members_per_node.begin(), members_per_node.end(), 0);
  t.most_per_node = *most;
  t.fewest_per_node = *fewest;
  const int nodes = t.nodes, fewest_per_node = t.fewest_per_node;
  // What NCCL's search measures: the GPU's NVLink bandwidth (NCCL counts links x 20-20.6 GB/s,
  // about 0.8 of the datasheet: the scenario's efficiency) and, across nodes, the NIC bandwidth
  // a GPU reaches and what a node offers the group: its NIC, or with a NIC per GPU the rails
  // of the fewest members any node has (a ring's crossings join GPUs of equal local rank).
  const double nvlink = c.intra_node.bw_GBps * c.intra_node.efficiency;
  const bool per_gpu = c.nic == NicPlacement::kPerGpu;
  const double gpu_nic = c.inter_node.bw_GBps * c.inter_node.efficiency / (per_gpu ? c.gpus_per_node : 1);
  const double node_nic = per_gpu ? gpu_nic * std::min(fewest_per_node, c.gpus_per_node) : gpu_nic;
  const double max_bw = nodes == 1 ? nvlink : std::min(nvlink, gpu_nic);  // one channel's path
  const double total = nodes == 1 ? nvlink : std::min(nvlink, node_nic);  // what all channels share
  const std::vector<double>& speeds = nodes == 1 ? intra_speeds(c.gpu.arch) : inter_speeds(c.gpu.arch);
  double speed = speeds.back();
  for (double s : speeds)
    if (s <= max_bw && s <= total) {
      speed = s;
      break;
    }
  speed = std::min({speed, max_bw, total});  // slower than NCCL's slowest entry: the path itself
  int channels = std::clamp(static_cast<int>(std::floor(total / speed + 1e-9)), 1, 16);
  // ncclTopoDupChannels (search.cc:961-974): twice the channels at half the speed.
  if (speed >= 25 && !(c.gpu.arch >= GpuArch::kHopper && speed < 50 && channels > 4)) {
    channels *= 2;
    speed /= 2;
  }
  t.ring = NcclGraph{channels, speed};
  // NVLS (search.cc:1036-1038): one channel per local GPU, up to 32, when the switch reduces;
  // the least channels of any node, at the fullest node's per-channel speed (init.cc:1179-1181).
  // Across nodes each node's NVLS channels share its network (bwInter), the least over nodes
  // again: a NIC per GPU gives each channel its member's NIC; one NIC per node is split among the
  // fullest node's channels.
  if (c.nvls && c.gpu.nvlink_sharp && c.gpu.arch >= GpuArch::kHopper && t.fewest_per_node >= 2) {
    const int emptiest = std::min(32, t.fewest_per_node), fullest = std::min(32, t.most_per_node);
    const double network = t.ring.channels * t.ring.bw_GBps;  // what the ring's channels cross with
    t.nvls = NcclGraph{emptiest, nvlink / fullest, nodes == 1 ? 0.0 : network / (per_gpu ? emptiest : fullest)};
  }
  return t;
}

std::vector<NcclCost> nccl_costs(Collective coll, const NcclTopology& t, double bytes, const Cluster& c) {
  std::vector<NcclCost> out;
  const double n = t.ranks;
  const double ppn = t.ppn();  // tuning.cc:261, a float there
  const int int_ppn = t.ranks / t.nodes;  // tuning.cc:384, integer division there
  if (coll == Collective::kSendRecv) {  // not NCCL's model: it has none for p2p
    const bool net = t.nodes > 1;
    const double bw = net ? t.ring.channels * t.ring.bw_GBps : c.intra_node.bw_GBps * c.intra_node.efficiency;
    const double lat = kBaseLat[kRing][2] + kHwLat[net ? kNet : kNvlink][kRing][2];
    out.push_back(NcclCost{NcclAlgo::kRing, NcclProto::kSimple, lat, bw, lat + bytes / (1000 * bw)});
    return out;
  }
  if (t.ranks == 1) {  // enqueue.cc: one rank runs ring/Simple in no time
    out.push_back(NcclCost{NcclAlgo::kRing, NcclProto::kSimple, 0, std::numeric_limits<double>::infinity(), 0});
    return out;
  }
  const bool ar = coll == Collective::kAllReduce, agrs = coll == Collective::kAllGather || coll == Collective::kReduceScatter;
  const double nsteps = ar ? 2 * (n - 1) : agrs ? n - 1 : n;  // tuning.cc:268-270
  const int cc = arch_index(c.gpu.arch);
  const int nodes_index = t.nodes <= 2 ? t.nodes - 1 : 2;
  const int ll_row = t.nodes == 1 ? cc : 0;  // multi-node: the CPU's row (Intel assumed)
  const double net_overhead = t.nodes > 1 ? kNetOverheadUs : 0;
  const int runtime_channels = std::min(64, 2 * t.ring.channels);  // connect.cc:452
  const int log_size = log2i(bytes / 64);

  for (int a : {kTree, kRing, kNvls, kNvlsTree, kPat}) {
    // Which algorithms run this collective (tuning.cc:273-282, 462-476; enqueue.cc:1785-1820).
    if (a == kTree && !ar) continue;
    if (coll == Collective::kBroadcast && a != kRing) continue;
    if ((a == kNvls || a == kNvlsTree) && t.nvls.channels < 2) continue;
    if (a == kNvls && t.nodes > 1) continue;      // multi-node NVLS needs CollNet (SHARP switches)
    if (a == kNvlsTree && (t.nodes == 1 || !ar)) continue;
    if (a == kPat && (!agrs || t.ranks != t.nodes)) continue;  // PAT: one GPU per node
    const NcclGraph& g = (a == kNvls || a == kNvlsTree) ? t.nvls : t.ring;
    for (int p = 0; p < 3; ++p) {
      if ((a == kNvls || a == kNvlsTree || a == kPat) && p != 2) continue;  // Simple only
      // Latency (tuning.cc:353-401).
      double lat = kBaseLat[a][p];
      double intra = kHwLat[kNvlink][a][p];
      const double inter = ppn == 1 ? kHwLat[kNet][kTree][p] : kHwLat[kNet][a][p];
      if (a == kRing) {
        if (coll == Collective::kBroadcast) {
          lat += nsteps * kHwLat[t.nodes == 1 ? kNvlink : kNet][p == 2 ? kTree : kRing][p];
        } else {
          intra = std::max(intra, net_overhead * (p == 2 ? 3 : 1));
          const double inter_steps = t.nodes == 1 ? 0 : ar ? 2.0 * (t.nodes - 1) : t.nodes - 1.0;
          lat += (nsteps - inter_steps) * intra + inter_steps * inter;
        }
      } else if (a == kTree) {
        lat += 2 * ((int_ppn - 1) * intra + log2i(t.nodes) * inter);
      } else if (a == kNvls) {
        lat = intra + (t.nodes > 1 ? inter : 0);
      } else if (a == kNvlsTree) {
        lat += intra + 2 * log2i(t.nodes) * inter;
      } else {  // PAT
        lat += log2i(t.nodes) * (inter / 3.5) + n * 2.8;
      }
      // Bus bandwidth (tuning.cc:284-343).
      double bw = g.bw_GBps;
      if (a == kNvls || a == kNvlsTree) {
        double intra_bw = bw * kNvlsEfficiency[cc] * (g.channels - 1) / g.channels;
        intra_bw *= ar ? 2.0 : (ppn - 1.0) / ppn;
        const double inter_bw = t.nodes == 1 ? std::numeric_limits<double>::infinity()
                                             : g.inter_GBps * (t.nodes <= 2 && a == kNvlsTree ? 2 : 1);
        bw = std::min(intra_bw, inter_bw);
        if (a == kNvlsTree) bw = std::min(bw, kPerChMaxNvlsTreeBw[cc][nodes_index]);
      }
      double bus = g.channels * bw;
      if (a == kRing && p == 0) bus = std::min(kLLMaxBw[ll_row][nodes_index], bus * 0.5);
      if (a == kRing && p == 1) bus = std::min(bus * 0.92, g.channels * kPerChMaxRingLL128Bw[cc][nodes_index]);
      if (a == kTree) {
        bus = std::min(bus * 0.92, g.channels * kPerChMaxTreeBw[cc][nodes_index]);
        if (p == 0) bus = std::min(bus / 3.8, kLLMaxBw[ll_row][nodes_index]);
        if (p == 1) bus = std::min(bus * (t.nodes == 1 ? 7.0 / 9.0 : 120.0 / 128.0),
                                   g.channels * kPerChMaxTreeLL128Bw[cc][nodes_index]);
      }
      if (a == kPat) bus *= 0.75;
      if (bus <= 0) continue;
      // Bus to algorithm bandwidth (tuning.cc:345-351): PAT and NVLS keep busBw for AG/RS.
      const double ratio = (a != kRing && agrs) ? 1.0 : (a == kRing || a == kNvls || a == kNvlsTree) ? n / nsteps : 0.5;
      double algbw = bus * ratio;
      // ncclTopoGetAlgoTime (tuning.cc:576-601).
      if (a == kTree && ar && log_size >= 0 && log_size < 23) algbw *= kTreeCorrection[p][log_size];
      if (a == kRing && p == 2 && t.nodes > 1 && ar && bytes / (runtime_channels * n) >= 64)
        lat *= c.gpu.arch < GpuArch::kAmpere ? 1.9 : 1.4;  // the ring's "plateau"
      out.push_back(NcclCost{static_cast<NcclAlgo>(a), static_cast<NcclProto>(p), lat, algbw,
                             lat + bytes / (1000 * algbw)});
    }
  }
  return out;
}

NcclCost nccl_choice(Collective coll, const NcclTopology& t, double bytes, const Cluster& c) {
  const std::vector<NcclCost> all = nccl_costs(coll, t, bytes, c);
  if (all.empty()) throw InternalError(std::string("NCCL enables no algorithm for ") + collective_name(coll));
  const auto cheapest = [&](bool forced_only) {
    const NcclCost* best = nullptr;
    for (const NcclCost& k : all)
      if ((!forced_only || c.nccl_algo == nccl_algo_name(k.algo)) && (best == nullptr || k.time_us < best->time_us))
        best = &k;
    return best;
  };
  // NCCL_ALGO: the cheapest protocol of that algorithm; where it does not run this collective
  // on this group, the tuner's choice (NCCL itself would refuse the call).
  if (!c.nccl_algo.empty())
    if (const NcclCost* forced = cheapest(true)) return *forced;
  return *cheapest(false);
}

}  // namespace spindle
