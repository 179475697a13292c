// Event-driven run of the per-device programs over the fluid network (see iteration_estimate.h).
// Time advances from event to event: a compute ends, a route's latency passes, a flow's last
// byte arrives (at its current fair rate), a collective's ring-step latencies pass. Between
// events every moving flow keeps its rate; after an event only the flows sharing links with
// the flows that started or stopped get new rates.
#include "planner/estimate/iteration_estimate.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <queue>
#include <string>
#include <tuple>
#include <utility>

#include "planner/cost/collective_flows.h"
#include "planner/estimate/fluid_network.h"
#include "planner/program/replay_result.h"
#include "traces/errors.h"

namespace spindle {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Tensor {
  double posted_s = -1, arrived_s = -1;
  int sender = -1, waiter = -1;
  const Instr* rendezvous = nullptr;  // a posted send past its link's eager limit, moved when the receiver arrives
};

// The collectives of one group of devices (one NCCL communicator) run one after another, in the
// order their members all arrived, as NCCL runs the operations of a communicator on its stream.
struct GroupQueue {
  bool busy = false;
  std::deque<int> waiting;  // runs whose members all arrived, not yet started
};

struct CollectiveRun {
  int arrived = 0;
  bool done = false;
  double start_s = 0;  // every member arrived (it may wait for its group's earlier collectives)
  std::vector<FlowPhase> phases;
  size_t phase = 0;
  std::vector<int> waiters;
  GroupQueue* queue = nullptr;
};

// A set of flows that start together after a latency and end together after a tail: one
// transfer (one flow), or one phase of a collective.
struct Activity {
  int tensor = -1;      // a transfer: its tensor
  int collective = -1;  // a phase: index of its CollectiveRun
  std::vector<int> flows;  // flow groups
  int moving = 0;       // groups not yet done
  double latency_s = 0; // the longest route latency of its flows
  double tail_s = 0;    // ring steps after the first pay the latency again
};

// The flows of an activity that move the same bytes over the same route, as one group
// (fluid_network.h's Usage, the route's links counted once per flow): they share one rate.
struct FlowState {
  FluidNetwork::Usage usage;
  double left = 0;    // bytes still to move as of `since_s`
  double since_s = 0;
  double rate = 0;    // bytes/s while moving
  int activity = 0;
  int version = 0;    // bumped whenever its rate changes or it stops: older finish entries are stale
  FluidNetwork::Route route;  // the route all its flows take
  double max_Bps = 0;  // per-flow cap (NCCL's channels and protocol), 0: none
};

struct Device {
  size_t pc = 0;
  double blocked_since = -1;  // waiting at instruction pc since
  int sends_in_flight = 0;
  bool finished = false, end_waiting = false;
  double end_s = 0;
  DeviceTime time;
};

enum class Timer { kResume, kFlowsStart, kActivityDone };

class Estimator {
 public:
  Estimator(const Programs& p, const std::vector<std::vector<double>>& seconds, const Cluster& c)
      : programs_(p), seconds_(seconds), cluster_(c), net_(c) {
    if (static_cast<int>(p.devices.size()) != c.gpus() || seconds.size() != p.devices.size())
      throw InternalError("estimate: programs for " + std::to_string(p.devices.size()) + " devices on a cluster of " +
                          std::to_string(c.gpus()) + " GPUs");
    devices_.resize(p.devices.size());
    tensors_.resize(static_cast<size_t>(p.tensors));
    runs_.resize(static_cast<size_t>(p.collectives) * 3);
    on_link_.resize(net_.capacity().size());
    link_seen_.assign(net_.capacity().size(), 0);
  }

  IterationEstimate run() {
    for (size_t d = 0; d < devices_.size(); ++d) push(0.0, Timer::kResume, static_cast<int>(d));
    while (true) {
      if (!dirty_links_.empty()) solve_rates();
      // The next event: a timer, or the first flow to finish at its current rate (entries
      // left over from an earlier rate are skipped).
      while (!finishes_.empty()) {
        const auto [t, f, version] = finishes_.top();
        if (flows_[static_cast<size_t>(f)].version == version) break;
        finishes_.pop();
      }
      const double t_timer = timers_.empty() ? kInf : std::get<0>(timers_.top());
      const double t_flow = finishes_.empty() ? kInf : std::get<0>(finishes_.top());
      const double next = std::min(t_timer, t_flow);
      if (next == kInf) break;
      now_ = next;
      while (!finishes_.empty() && std::get<0>(finishes_.top()) <= now_) {
        const auto [t, f, version] = finishes_.top();
        finishes_.pop();
        if (flows_[static_cast<size_t>(f)].version == version) flow_done(f);
      }
      while (!timers_.empty() && std::get<0>(timers_.top()) <= now_) {
        const auto [t, seq, kind, id] = timers_.top();
        timers_.pop();
        if (kind == Timer::kResume) run_device(static_cast<size_t>(id));
        else if (kind == Timer::kFlowsStart) start_flows(id);
        else activity_done(id);
      }
    }
    IterationEstimate out;
    const double n = static_cast<double>(devices_.size());
    for (size_t d = 0; d < devices_.size(); ++d) {
      const Device& dev = devices_[d];
      if (!dev.finished)
        throw InternalError("estimate: device " + std::to_string(d) + " did not finish its program (instruction " +
                            std::to_string(dev.pc) + ")");
      out.iteration_s = std::max(out.iteration_s, dev.end_s);
      out.compute_s += dev.time.compute_s() / n;
      out.transfer_s += dev.time.transfer_s / n;
      out.sync_s += dev.time.sync_s / n;
    }
    out.flows = flow_count_;
    return out;
  }

 private:
  void push(double t, Timer kind, int id) { timers_.push({t, seq_++, kind, id}); }

  // Device d runs from its program counter until it computes (resumed when done), blocks or ends.
  void run_device(size_t d) {
    Device& dev = devices_[d];
    const auto& code = programs_.devices[d].instrs;
    while (dev.pc < code.size()) {
      const Instr& in = code[dev.pc];
      const double since = dev.blocked_since < 0 ? now_ : dev.blocked_since;
      // Time blocked at this instruction, from `from` (the data posted, the collective started) to now.
      auto charge = [&](double from) {
        const std::optional<Busy> what = busy_category(in.kind);
        if (what && now_ > from) dev.time.seconds(*what) += now_ - from;
      };
      // A collective this device waits for: parks it until the collective is done (false), or
      // charges the wait since the collective started (true).
      auto waited = [&](CollectiveRun& c) {
        if (!c.done) {
          c.waiters.push_back(static_cast<int>(d));
          dev.blocked_since = since;
          return false;
        }
        charge(std::max(since, c.start_s));
        return true;
      };
      switch (in.kind) {
        case InstrKind::kForward:
        case InstrKind::kBackward:
        case InstrKind::kCopy:
        case InstrKind::kGradNorm:
        case InstrKind::kStep: {  // the optimizer and the gradient norm (category sync)
          const double t = seconds_[d][dev.pc];
          if (dev.blocked_since < 0 && t > 0) {  // start the compute; resume here when it ends
            dev.blocked_since = now_;
            push(now_ + t, Timer::kResume, static_cast<int>(d));
            return;
          }
          charge(since);
          break;
        }
        case InstrKind::kSend: send(d, in); break;
        case InstrKind::kRecv: {
          Tensor& tn = tensors_.at(static_cast<size_t>(in.tensor));
          if (tn.arrived_s < 0) {
            tn.waiter = static_cast<int>(d);
            if (tn.rendezvous != nullptr) move(*std::exchange(tn.rendezvous, nullptr));  // the data moves now
            dev.blocked_since = since;
            return;
          }
          charge(std::max(since, tn.posted_s));
          break;
        }
        case InstrKind::kGather:
        case InstrKind::kParamGather:
        case InstrKind::kTpReduce:
        case InstrKind::kClipNorm:
          if (!waited(arrive(in, in.kind, dev.blocked_since < 0))) return;
          break;
        case InstrKind::kSyncStart: arrive(in, in.kind, true); break;
        case InstrKind::kSyncWait:
          if (!waited(run_of(in.collective, InstrKind::kSyncStart))) return;
          break;
      }
      dev.blocked_since = -1;
      ++dev.pc;
    }
    if (dev.sends_in_flight > 0) {
      dev.end_waiting = true;
      return;
    }
    dev.finished = true;
    dev.end_s = now_;
  }

  // Past its link's eager limit a send moves only once the receiver has reached the receive
  // (Link::eager_limit_B: MPI's rendezvous), as the simulator replays it.
  void send(size_t d, const Instr& in) {
    Tensor& tn = tensors_.at(static_cast<size_t>(in.tensor));
    tn.posted_s = now_;
    tn.sender = static_cast<int>(d);
    ++devices_[d].sends_in_flight;
    if (cluster_.link_between(static_cast<int>(d), in.peer).rendezvous(static_cast<double>(in.bytes)) && tn.waiter < 0)
      tn.rendezvous = &in;
    else
      move(in);
  }
  // The data moves at the links' speed, or as the cluster measured such a transfer (a profile's
  // send_recv: after its latency, capped to last the measured time).
  void move(const Instr& send) {
    Activity a;
    a.tensor = send.tensor;
    const int src = tensors_.at(static_cast<size_t>(send.tensor)).sender;
    const auto bytes = static_cast<double>(send.bytes);
    const std::optional<PointToPoint> m = measured_point_to_point(src, send.peer, bytes, cluster_);
    add_flow(a, src, send.peer, bytes, 1, m ? m->max_Bps : 0);
    if (m) a.latency_s = std::max(a.latency_s, m->latency_s);
    begin(std::move(a));
  }

  static int kind_slot(InstrKind k) { return k == InstrKind::kGather ? 0 : k == InstrKind::kSyncStart ? 1 : 2; }
  CollectiveRun& run_of(int id, InstrKind k) {
    return runs_.at(static_cast<size_t>(id) * 3 + static_cast<size_t>(kind_slot(k)));
  }

  // A member arrives (once: `first` is false when a blocked device is resumed at it).
  CollectiveRun& arrive(const Instr& in, InstrKind kind, bool first) {
    CollectiveRun& c = run_of(in.collective, kind);
    if (!first) return c;
    if (++c.arrived == static_cast<int>(in.group.size())) {
      c.start_s = now_;
      std::vector<int> group(in.group.begin(), in.group.end());
      c.phases = collective_flows(instr_collective(in), group, static_cast<double>(in.bytes), cluster_);
      c.phase = 0;
      c.queue = &queues_[std::move(group)];
      c.queue->waiting.push_back(static_cast<int>(&c - runs_.data()));
      if (!c.queue->busy) start_next(*c.queue);
    }
    return c;
  }

  // The group's next waiting collective starts; none: the group is idle.
  void start_next(GroupQueue& q) {
    q.busy = !q.waiting.empty();
    if (!q.busy) return;
    const int run = q.waiting.front();
    q.waiting.pop_front();
    next_phase(run);
  }

  void next_phase(int run) {
    CollectiveRun& c = runs_[static_cast<size_t>(run)];
    if (c.phase == c.phases.size()) {
      c.done = true;
      for (int w : c.waiters) push(now_, Timer::kResume, w);
      c.waiters.clear();
      start_next(*c.queue);
      return;
    }
    const FlowPhase& ph = c.phases[c.phase++];
    Activity a;
    a.collective = run;
    for (const Flow& f : ph.flows) add_flow(a, f.src, f.dst, f.bytes, f.steps, f.max_Bps);
    a.latency_s = std::max(a.latency_s, ph.latency_s);  // the phase's own latency covers its routes'
    begin(std::move(a));
  }

  void add_flow(Activity& a, int src, int dst, double bytes, int steps, double max_Bps = 0) {
    const FluidNetwork::Route r = net_.route(src, dst);
    a.latency_s = std::max(a.latency_s, r.latency_s);
    a.tail_s = std::max(a.tail_s, (steps - 1) * r.latency_s);
    bytes = std::max(0.0, bytes);
    // Joins the activity's group of flows with the same bytes on the same route, or starts one:
    // flows on one route always get one max-min rate, so the group is exact (a ring phase
    // between nodes with one NIC per node sends all its channels' flows over one route).
    auto [it, fresh] = group_of_.insert(
        {std::make_tuple(bytes, max_Bps, r.links[0], r.links[1], r.links[2], r.links[3]), static_cast<int>(flows_.size())});
    if (fresh) {
      FlowState f;
      f.left = bytes;
      f.route = r;
      f.max_Bps = max_Bps;
      f.activity = static_cast<int>(activities_.size());
      for (int k = 0; k < r.count; ++k) f.usage.push_back({r.links[k], 0});
      a.flows.push_back(it->second);
      flows_.push_back(std::move(f));
      flow_seen_.push_back(0);
    }
    for (auto& link : flows_[static_cast<size_t>(it->second)].usage) ++link.second;
    ++flow_count_;
  }

  // The activity's flows start moving after their route latency.
  void begin(Activity a) {
    group_of_.clear();
    const double latency = a.latency_s;
    activities_.push_back(std::move(a));
    push(now_ + latency, Timer::kFlowsStart, static_cast<int>(activities_.size()) - 1);
  }

  void start_flows(int id) {
    Activity& a = activities_[static_cast<size_t>(id)];
    for (int f : a.flows) {
      FlowState& fl = flows_[static_cast<size_t>(f)];
      if (fl.left <= 0) continue;
      fl.since_s = now_;
      ++a.moving;
      for (const auto& [link, count] : fl.usage) {
        on_link_[static_cast<size_t>(link)].push_back(f);
        dirty_links_.push_back(link);
      }
    }
    if (a.moving == 0) push(now_ + a.tail_s, Timer::kActivityDone, id);
  }

  void flow_done(int f) {
    FlowState& fl = flows_[static_cast<size_t>(f)];
    fl.left = 0;
    ++fl.version;
    for (const auto& [link, count] : fl.usage) {
      std::vector<int>& on = on_link_[static_cast<size_t>(link)];
      on.erase(std::find(on.begin(), on.end(), f));
      dirty_links_.push_back(link);
    }
    Activity& a = activities_[static_cast<size_t>(fl.activity)];
    if (--a.moving == 0) push(now_ + a.tail_s, Timer::kActivityDone, fl.activity);
  }

  void activity_done(int id) {
    const Activity& a = activities_[static_cast<size_t>(id)];
    if (a.collective >= 0) {
      next_phase(a.collective);
      return;
    }
    Tensor& tn = tensors_[static_cast<size_t>(a.tensor)];
    tn.arrived_s = now_;
    if (tn.waiter >= 0) push(now_, Timer::kResume, std::exchange(tn.waiter, -1));
    Device& s = devices_[static_cast<size_t>(tn.sender)];
    if (--s.sends_in_flight == 0 && s.end_waiting) {
      s.end_waiting = false;
      s.finished = true;
      s.end_s = now_;
    }
  }

  // Max-min fair rates decompose by connected components of flows and the links they share:
  // only the components around links whose flows changed are solved again.
  void solve_rates() {
    ++stamp_;
    component_.clear();
    std::vector<int> queue;
    for (int l : dirty_links_)
      if (link_seen_[static_cast<size_t>(l)] != stamp_) {
        link_seen_[static_cast<size_t>(l)] = stamp_;
        queue.push_back(l);
      }
    dirty_links_.clear();
    while (!queue.empty()) {
      const int l = queue.back();
      queue.pop_back();
      for (int f : on_link_[static_cast<size_t>(l)]) {
        FlowState& fl = flows_[static_cast<size_t>(f)];
        if (flow_seen_[static_cast<size_t>(f)] == stamp_) continue;
        flow_seen_[static_cast<size_t>(f)] = stamp_;
        component_.push_back(f);
        for (const auto& [o, count] : fl.usage) {
          if (link_seen_[static_cast<size_t>(o)] != stamp_) {
            link_seen_[static_cast<size_t>(o)] = stamp_;
            queue.push_back(o);
          }
        }
      }
    }
    std::sort(component_.begin(), component_.end());
    usages_.clear();
    caps_.clear();
    for (int f : component_) {
      usages_.push_back(&flows_[static_cast<size_t>(f)].usage);
      caps_.push_back(flows_[static_cast<size_t>(f)].max_Bps);
    }
    net_.fair_rates(usages_, caps_, rates_);
    for (size_t i = 0; i < component_.size(); ++i) {
      FlowState& fl = flows_[static_cast<size_t>(component_[i])];
      if (fl.rate == rates_[i] && fl.rate > 0) continue;  // unchanged: its finish entry holds
      fl.left = std::max(0.0, fl.left - fl.rate * (now_ - fl.since_s));
      fl.since_s = now_;
      fl.rate = rates_[i];
      ++fl.version;
      if (fl.rate > 0) finishes_.push({now_ + fl.left / fl.rate, component_[i], fl.version});
    }
  }

  const Programs& programs_;
  const std::vector<std::vector<double>>& seconds_;
  const Cluster& cluster_;
  FluidNetwork net_;
  double now_ = 0;
  std::uint64_t seq_ = 0;
  std::priority_queue<std::tuple<double, std::uint64_t, Timer, int>, std::vector<std::tuple<double, std::uint64_t, Timer, int>>,
                      std::greater<>>
      timers_;
  std::vector<Device> devices_;
  std::vector<Tensor> tensors_;
  std::vector<CollectiveRun> runs_;
  std::map<std::vector<int>, GroupQueue> queues_;  // by member list
  std::vector<Activity> activities_;
  std::vector<FlowState> flows_;
  // The groups of the activity being built, by (bytes, route links).
  std::map<std::tuple<double, double, int, int, int, int>, int> group_of_;  // by (bytes, cap, route links)
  std::vector<std::vector<int>> on_link_;  // moving flows per link
  std::vector<int> dirty_links_;            // links whose flows changed since the last solve
  std::priority_queue<std::tuple<double, int, int>, std::vector<std::tuple<double, int, int>>, std::greater<>>
      finishes_;  // (time, flow, version)
  std::uint64_t stamp_ = 0;
  std::vector<std::uint64_t> link_seen_, flow_seen_;
  std::vector<int> component_;
  std::vector<double> rates_;  // of component_
  std::vector<double> caps_;   // of component_
  std::vector<const FluidNetwork::Usage*> usages_;  // of component_
  std::int64_t flow_count_ = 0;
};

}  // namespace

IterationEstimate estimate_iteration(const Programs& programs, const std::vector<std::vector<double>>& seconds,
                                     const Cluster& cluster) {
  Estimator e(programs, seconds, cluster);
  return e.run();
}

}  // namespace spindle
