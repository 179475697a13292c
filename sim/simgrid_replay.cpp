// Per-device programs, collectives and flows run as SimGrid actors and communications (see
// network_sim.h). All simulation state lives in one Run object shared by the actors; SimGrid
// runs actors one at a time, so only the collective wake-ups need its mutex and condition.
#include <simgrid/s4u.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "sim/network_sim.h"
#include "sim/simgrid_platform.h"
#include "traces/errors.h"

namespace spindle {
namespace {

namespace s4u = simgrid::s4u;

int token = 0;  // the payload every send carries (sizes are simulated)

class Network {
 public:
  Network(const Cluster& c, const NetworkOptions& o) : engine_(start_engine()), hosts_(build_platform(c)), options_(o) {}

  s4u::Host* host(int gpu) const { return hosts_.at(static_cast<size_t>(gpu)); }
  int gpus() const { return static_cast<int>(hosts_.size()); }
  void run() { engine_.run(); }

  // Runs `phases` one after another from the calling actor; each flow's ring steps beyond the
  // first pay the route latency again (a flow moves only once).
  void run_phases(const std::vector<FlowPhase>& given) {
    const std::vector<FlowPhase> phases = options_.ring_steps ? expand_ring_steps(given) : given;
    for (const FlowPhase& ph : phases) {
      std::vector<s4u::CommPtr> comms;
      double extra = 0;
      for (const Flow& f : ph.flows) {
        comms.push_back(s4u::Comm::sendto_async(host(f.src), host(f.dst), static_cast<std::uint64_t>(std::llround(f.bytes))));
        extra = std::max(extra, (f.steps - 1) * latency(f.src, f.dst));
      }
      s4u::Comm::wait_all(comms);
      if (extra > 0) s4u::this_actor::sleep_for(extra);
    }
  }

 private:
  double latency(int src, int dst) {
    auto [it, fresh] = latency_.insert({{src, dst}, 0.0});
    if (fresh) {
      std::vector<s4u::Link*> links;
      host(src)->route_to(host(dst), links, &it->second);
    }
    return it->second;
  }

  s4u::Engine& engine_;
  std::vector<s4u::Host*> hosts_;
  NetworkOptions options_;
  std::map<std::pair<int, int>, double> latency_;
};

struct CollectiveRun {
  const Instr* instr = nullptr;
  int arrived = 0;
  double start_s = 0, end_s = 0;  // all members arrived / flows done
  bool done = false;
};

Collective collective_of(const Instr& in) {
  if (in.kind == InstrKind::kSyncStart) return in.zero1 ? Collective::kReduceScatter : Collective::kAllReduce;
  return Collective::kAllGather;  // contrastive gathers (the backward reduce-scatter moves as much), param-gather
}

class Replay {
 public:
  Replay(const Cluster& c, const Programs& p, const std::vector<std::vector<double>>& seconds, const NetworkOptions& o)
      : net_(c, o), cluster_(c), programs_(p), seconds_(seconds) {
    if (static_cast<int>(p.devices.size()) != net_.gpus() || seconds.size() != p.devices.size())
      throw InternalError("replay: programs for " + std::to_string(p.devices.size()) + " devices on a cluster of " +
                          std::to_string(net_.gpus()) + " GPUs");
    mailboxes_.resize(static_cast<size_t>(p.tensors), nullptr);
    posted_.resize(static_cast<size_t>(p.tensors), 0.0);
    result_.transfers.resize(static_cast<size_t>(p.tensors), TransferRecord{-1, 0, 0, 0, 0, 0});
    result_.devices.resize(p.devices.size());
    busy_.resize(p.devices.size());
    finished_.resize(p.devices.size(), false);
    for (int t = 0; t < p.tensors; ++t) mailboxes_[static_cast<size_t>(t)] = s4u::Mailbox::by_name("tensor-" + std::to_string(t));
    mutex_ = s4u::Mutex::create();
    done_ = s4u::ConditionVariable::create();
    ready_ = s4u::Barrier::create(static_cast<unsigned>(p.devices.size()));
  }

  ReplayResult run() {
    for (size_t d = 0; d < programs_.devices.size(); ++d)
      s4u::Actor::create("gpu-" + std::to_string(d), net_.host(static_cast<int>(d)), [this, d] { device(d); });
    net_.run();
    for (size_t d = 0; d < finished_.size(); ++d)
      if (!finished_[d]) throw InternalError("simulation: device " + std::to_string(d) + " did not finish its program");
    result_.iteration_s = s4u::Engine::get_clock();
    for (auto& v : busy_) result_.busy.insert(result_.busy.end(), v.begin(), v.end());
    std::vector<TransferRecord> sent;
    for (const TransferRecord& t : result_.transfers)
      if (t.tensor >= 0) sent.push_back(t);  // copies stay on their device
    result_.transfers = std::move(sent);
    for (const auto& [key, c] : collectives_)
      result_.collectives.push_back({key.first, static_cast<InstrKind>(key.second), c.instr->group, c.instr->bytes,
                                     c.start_s, c.end_s});
    return std::move(result_);
  }

 private:
  using Key = std::pair<int, int>;  // collective id, kind

  void device(size_t d) {
    const auto& code = programs_.devices[d].instrs;
    for (const Instr& in : code)
      if (in.kind == InstrKind::kRecv) mailboxes_[static_cast<size_t>(in.tensor)]->set_receiver(s4u::Actor::self());
    ready_->wait();
    DeviceTime& time = result_.devices[d];
    std::vector<s4u::CommPtr> sends;
    for (size_t i = 0; i < code.size(); ++i) {
      const Instr& in = code[i];
      const double t0 = s4u::Engine::get_clock();
      auto busy = [&](Busy what, double from) {
        const double now = s4u::Engine::get_clock();
        if (now <= from) return;
        busy_[d].push_back({static_cast<int>(d), static_cast<int>(i), what, from, now});
        double& total = what == Busy::kForward    ? time.forward_s
                        : what == Busy::kBackward ? time.backward_s
                        : what == Busy::kTransfer ? time.transfer_s
                                                  : time.sync_s;
        total += now - from;
      };
      switch (in.kind) {
        case InstrKind::kForward:
        case InstrKind::kBackward:
        case InstrKind::kCopy:
          s4u::this_actor::sleep_for(seconds_[d][i]);
          busy(in.kind == InstrKind::kForward ? Busy::kForward : in.kind == InstrKind::kBackward ? Busy::kBackward : Busy::kTransfer, t0);
          break;
        case InstrKind::kSend: {
          posted_[static_cast<size_t>(in.tensor)] = t0;
          sends.push_back(mailboxes_[static_cast<size_t>(in.tensor)]->put_async(&token, static_cast<std::uint64_t>(in.bytes)));
          break;
        }
        case InstrKind::kRecv: {
          int* data = nullptr;
          s4u::CommPtr c = mailboxes_[static_cast<size_t>(in.tensor)]->get_async<int>(&data);
          c->wait();
          const double posted = posted_[static_cast<size_t>(in.tensor)];
          busy(Busy::kTransfer, std::max(t0, posted));
          const double finish = c->get_finish_time();
          result_.transfers[static_cast<size_t>(in.tensor)] = {in.tensor, in.peer, static_cast<int>(d), in.bytes, posted,
                                                               finish >= 0 ? finish : s4u::Engine::get_clock()};
          break;
        }
        case InstrKind::kGather:
        case InstrKind::kParamGather: {
          CollectiveRun& c = arrive(in, in.kind);
          wait(c);
          busy(in.kind == InstrKind::kGather ? Busy::kTransfer : Busy::kSync, std::max(t0, c.start_s));
          break;
        }
        case InstrKind::kSyncStart: arrive(in, in.kind); break;
        case InstrKind::kSyncWait: {
          CollectiveRun& c = collectives_.at({in.collective, static_cast<int>(InstrKind::kSyncStart)});
          wait(c);
          busy(Busy::kSync, std::max(t0, c.start_s));
          break;
        }
        case InstrKind::kStep: break;  // optimizer time is not modelled (nor planned)
      }
    }
    s4u::Comm::wait_all(sends);
    time.end_s = s4u::Engine::get_clock();
    finished_[d] = true;
  }

  CollectiveRun& arrive(const Instr& in, InstrKind kind) {
    const Key key{in.collective, static_cast<int>(kind)};
    CollectiveRun& c = collectives_[key];
    c.instr = &in;
    if (++c.arrived == static_cast<int>(in.group.size())) {
      c.start_s = s4u::Engine::get_clock();
      auto phases = collective_flows(collective_of(in), in.group, static_cast<double>(in.bytes), cluster_.gpus_per_node);
      s4u::Actor::create("collective-" + std::to_string(in.collective), net_.host(in.group.front()),
                         [this, key, phases = std::move(phases)] {
                           net_.run_phases(phases);
                           std::unique_lock<s4u::Mutex> lock(*mutex_);
                           CollectiveRun& run = collectives_.at(key);
                           run.end_s = s4u::Engine::get_clock();
                           run.done = true;
                           done_->notify_all();
                         });
    }
    return c;
  }

  void wait(CollectiveRun& c) {
    std::unique_lock<s4u::Mutex> lock(*mutex_);
    while (!c.done) done_->wait(lock);
  }

  Network net_;
  const Cluster& cluster_;
  const Programs& programs_;
  const std::vector<std::vector<double>>& seconds_;
  std::vector<s4u::Mailbox*> mailboxes_;
  std::vector<double> posted_;
  std::map<Key, CollectiveRun> collectives_;
  std::vector<std::vector<BusyInterval>> busy_;
  std::vector<bool> finished_;
  s4u::MutexPtr mutex_;
  s4u::ConditionVariablePtr done_;
  s4u::BarrierPtr ready_;
  ReplayResult result_;
};

}  // namespace

ReplayResult replay_on_network(const Cluster& cluster, const Programs& programs,
                               const std::vector<std::vector<double>>& seconds, const NetworkOptions& options) {
  Replay replay(cluster, programs, seconds, options);
  return replay.run();
}

std::vector<double> time_collectives_on_network(const Cluster& cluster, const std::vector<std::vector<FlowPhase>>& runs,
                                                const NetworkOptions& options) {
  Network net(cluster, options);
  std::vector<double> out;
  s4u::Actor::create("collectives", net.host(0), [&] {
    for (const auto& phases : runs) {
      const double t0 = s4u::Engine::get_clock();
      net.run_phases(phases);
      out.push_back(s4u::Engine::get_clock() - t0);
    }
  });
  net.run();
  if (out.size() != runs.size()) throw InternalError("simulation: collectives did not all finish");
  return out;
}

std::vector<double> time_flows_on_network(const Cluster& cluster, const std::vector<Flow>& flows) {
  Network net(cluster, NetworkOptions{});
  std::vector<double> out;
  s4u::Actor::create("flows", net.host(0), [&] {
    std::vector<s4u::CommPtr> comms;
    for (const Flow& f : flows)
      comms.push_back(s4u::Comm::sendto_async(net.host(f.src), net.host(f.dst), static_cast<std::uint64_t>(std::llround(f.bytes))));
    s4u::Comm::wait_all(comms);
    for (const auto& c : comms) out.push_back(c->get_finish_time());
  });
  net.run();
  if (out.size() != flows.size()) throw InternalError("simulation: flows did not all finish");
  return out;
}

}  // namespace spindle
