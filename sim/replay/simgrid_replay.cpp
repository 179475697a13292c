// Per-device programs, collectives and flows run as SimGrid actors and communications (see
// network_sim.h). All simulation state lives in one Replay object shared by the actors; SimGrid
// runs actors one at a time, so an actor that must wait for another (a receive posted before
// its send, a collective not yet done) records itself and parks, and the other wakes it: no
// global condition that wakes every waiter.
#include <simgrid/s4u.hpp>

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

#include "sim/replay/network_sim.h"
#include "sim/replay/simgrid_platform.h"
#include "traces/errors.h"

namespace spindle {
namespace {

namespace s4u = simgrid::s4u;

int token = 0;  // the payload every flow carries (sizes are simulated)

// How flows move, shaped by what SimGrid 3.32 costs at scale: a host-to-host comm (sendto) is
// kept on the engine's one list of activities, which every completion scans, so thousands in
// flight cost quadratically. Flows are therefore mailbox comms: every GPU has an inbox with a
// permanent receiver on that GPU, and every flow is put by a helper actor on the source GPU,
// which waits for it: the lists a completion scans hold one comm. An actor that sends or
// receives must never suspend itself: SimGrid holds back the transfers of a suspended sender
// or receiver.
class Network {
 public:
  // `sinks`: a sink actor per GPU receives its inbox; without, the caller makes an actor on
  // each GPU its inbox's receiver (one that never suspends itself) and drains it.
  Network(const Cluster& c, const NetworkOptions& o, bool sinks = true)
      : engine_(start_engine(/*rate_caps=*/c.collectives == CollectiveModel::kNccl || c.measured_collectives)),
        hosts_(build_platform(c)),
        options_(o) {
    inbox_.reserve(hosts_.size());
    idle_.resize(hosts_.size());
    for (size_t g = 0; g < hosts_.size(); ++g) {
      inbox_.push_back(s4u::Mailbox::by_name("in-" + std::to_string(g)));
      if (!sinks) continue;
      s4u::Actor::create("sink-" + std::to_string(g), hosts_[g], [this, g] {
        inbox_[g]->set_receiver(s4u::Actor::self());
        for (;;) inbox_[g]->get<int>();
      })->daemonize();
    }
  }

  s4u::Host* host(int gpu) const { return hosts_.at(static_cast<size_t>(gpu)); }
  s4u::Mailbox* inbox(size_t gpu) const { return inbox_[gpu]; }
  int gpus() const { return static_cast<int>(hosts_.size()); }
  void run() { engine_.run(); }

  // Moves `bytes` from GPU `src` to `dst` in a helper actor, then calls `done` (in that actor,
  // at the simulated instant the data is there). Helpers are reused: an idle one waits
  // suspended (it has no comm in flight then) in its GPU's pool, since ending an actor costs
  // SimGrid an exception unwinding its stack.
  // `delay_s` > 0: the data starts moving that much later (a measured latency beyond the route's).
  void move(int src, int dst, double bytes, std::function<void()> done, double max_Bps = 0, double delay_s = 0) {
    const auto size = static_cast<std::uint64_t>(std::llround(bytes));
    if (max_Bps <= 0) {
      run_on(src, [this, dst, size, delay_s, done = std::move(done)] {
        if (delay_s > 0) s4u::this_actor::sleep_for(delay_s);
        inbox_[static_cast<size_t>(dst)]->put(&token, size);
        done();
      });
      return;
    }
    // A capped flow (NCCL's channels and protocol, or a measured time: collective_flows.h): its
    // comm's own rate, which SimGrid honours with TCP-gamma > 0 (start_engine), to the same
    // permanent receiver's inbox as any flow (a receiving helper per flow, as once, cost 1 GB
    // more at 1,024 GPUs and gave the same times).
    s4u::Mailbox* box = inbox_[static_cast<size_t>(dst)];
    run_on(src, [box, size, max_Bps, delay_s, done = std::move(done)] {
      if (delay_s > 0) s4u::this_actor::sleep_for(delay_s);
      box->put_init(&token, size)->set_rate(max_Bps)->wait();
      done();
    });
  }

  // Runs `job` in a helper actor on GPU `gpu`: an idle one of its pool, or a new one.
  void run_on(int gpu, std::function<void()> job) { start(idle_helper(gpu), gpu, std::move(job)); }

  // Runs `phases` one after another from the calling actor; each flow's ring steps beyond the
  // first pay the route latency again (a flow moves only once).
  void run_phases(const std::vector<FlowPhase>& given) {
    const std::vector<FlowPhase> phases = options_.ring_steps ? expand_ring_steps(given) : given;
    for (const FlowPhase& ph : phases) {
      double extra = 0, route = 0;
      for (const Flow& f : ph.flows) {
        extra = std::max(extra, (f.steps - 1) * latency(f.src, f.dst));
        route = std::max(route, latency(f.src, f.dst));
      }
      if (ph.latency_s > route) {  // the phase's latency beyond what its routes charge
        s4u::this_actor::sleep_for(ph.latency_s - route);
        ++stats.events;
      }
      move_all(ph.flows, nullptr);
      stats.flows += static_cast<std::int64_t>(ph.flows.size());
      stats.events += static_cast<std::int64_t>(ph.flows.size());
      if (extra > 0) {
        s4u::this_actor::sleep_for(extra);
        ++stats.events;
      }
    }
  }

  // Starts all `flows` now and returns when they are done (their end times into `*ends`).
  void move_all(const std::vector<Flow>& flows, std::vector<double>* ends) {
    if (flows.empty()) return;
    if (ends != nullptr) ends->assign(flows.size(), 0.0);
    struct Join {
      size_t left = 0;
      s4u::ActorPtr caller;
    };
    auto join = std::make_shared<Join>();
    join->caller = s4u::Actor::self();
    join->left = flows.size();
    for (size_t i = 0; i < flows.size(); ++i)
      move(
          flows[i].src, flows[i].dst, flows[i].bytes,
          [join, ends, i] {
            if (ends != nullptr) (*ends)[i] = s4u::Engine::get_clock();
            if (--join->left == 0) join->caller->resume();
          },
          flows[i].max_Bps);
    s4u::this_actor::suspend();  // until the last flow is done
  }

  ReplayStats stats;

  // The route latency from GPU src to dst (cached per pair used).
  double latency(int src, int dst) {
    auto [it, fresh] = latency_.insert({static_cast<std::int64_t>(src) << 32 | static_cast<std::uint32_t>(dst), 0.0});
    if (fresh) {
      std::vector<s4u::Link*> links;
      host(src)->route_to(host(dst), links, &it->second);
    }
    return it->second;
  }

 private:
  s4u::Engine& engine_;
  std::vector<s4u::Host*> hosts_;
  NetworkOptions options_;
  std::unordered_map<std::int64_t, double> latency_;  // by (src, dst), the pairs used

  std::vector<s4u::Mailbox*> inbox_;  // by GPU
  struct Helper {
    s4u::ActorPtr actor;
    std::function<void()> job;
  };

  // An idle helper of `gpu`'s pool (taken out of it), or a new one not yet running.
  Helper* idle_helper(int gpu) {
    std::vector<Helper*>& pool = idle_[static_cast<size_t>(gpu)];
    if (!pool.empty()) {
      Helper* h = pool.back();
      pool.pop_back();
      return h;
    }
    return &helpers_.emplace_back();
  }

  // Gives `h` (from idle_helper) its job and lets it run.
  void start(Helper* h, int gpu, std::function<void()> job) {
    h->job = std::move(job);
    if (h->actor) {
      h->actor->resume();
      return;
    }
    h->actor = s4u::Actor::create("flow", host(gpu), [this, h, gpu] {
      for (;;) {
        std::exchange(h->job, nullptr)();
        idle_[static_cast<size_t>(gpu)].push_back(h);
        s4u::this_actor::suspend();
      }
    });
    h->actor->daemonize();
  }
  std::deque<Helper> helpers_;               // stable addresses
  std::vector<std::vector<Helper*>> idle_;   // by GPU
};

struct CollectiveRun {
  const Instr* instr = nullptr;
  int arrived = 0;
  double start_s = 0, end_s = 0;  // all members arrived / flows done
  bool done = false;
  std::vector<size_t> waiters;  // devices parked until done
};

struct TensorSlot {  // one send/recv pair
  double posted_s = 0, arrived_s = -1;  // arrived_s < 0: not yet
  int waiter = -1;                      // a receiving device parked until the data arrives
  std::function<void()> rendezvous;     // a posted send past its link's eager limit, moved when the receiver arrives
};

class Replay {
 public:
  Replay(const Cluster& c, const Programs& p, const std::vector<std::vector<double>>& seconds, const NetworkOptions& o)
      : net_(c, o, false), cluster_(c), programs_(p), seconds_(seconds) {
    if (static_cast<int>(p.devices.size()) != net_.gpus() || seconds.size() != p.devices.size())
      throw InternalError("replay: programs for " + std::to_string(p.devices.size()) + " devices on a cluster of " +
                          std::to_string(net_.gpus()) + " GPUs");
    tensors_.resize(static_cast<size_t>(p.tensors));
    sends_in_flight_.resize(p.devices.size(), 0);
    end_waiting_.resize(p.devices.size(), false);
    for (size_t d = 0; d < p.devices.size(); ++d) parked_.push_back(s4u::Semaphore::create(0));
    result_.transfers.resize(static_cast<size_t>(p.tensors), TransferRecord{-1, 0, 0, 0, 0, 0});
    result_.devices.resize(p.devices.size());
    busy_.resize(p.devices.size());
    finished_.resize(p.devices.size(), false);
  }

  ReplayResult run() {
    for (size_t d = 0; d < programs_.devices.size(); ++d)
      s4u::Actor::create("gpu-" + std::to_string(d), net_.host(static_cast<int>(d)), [this, d] { device(d); });
    net_.run();
    for (size_t d = 0; d < finished_.size(); ++d)
      if (!finished_[d]) throw InternalError("simulation: device " + std::to_string(d) + " did not finish its program");
    result_.iteration_s = s4u::Engine::get_clock();
    result_.stats = net_.stats;
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
    net_.inbox(d)->set_receiver(s4u::Actor::self());
    DeviceTime& time = result_.devices[d];
    for (size_t i = 0; i < code.size(); ++i) {
      const Instr& in = code[i];
      drain(d);
      const double t0 = s4u::Engine::get_clock();
      // The time from `from` to now, in the instruction's category (busy_category).
      auto busy = [&](double from) {
        const double now = s4u::Engine::get_clock();
        const std::optional<Busy> what = busy_category(in.kind);
        if (now <= from || !what) return;
        busy_[d].push_back({static_cast<int>(d), static_cast<int>(i), *what, from, now});
        time.seconds(*what) += now - from;
      };
      switch (in.kind) {
        case InstrKind::kForward:
        case InstrKind::kBackward:
        case InstrKind::kCopy:
        case InstrKind::kGradNorm:
        case InstrKind::kStep:  // the optimizer and the gradient norm (category sync)
          s4u::this_actor::sleep_for(seconds_[d][i]);
          ++net_.stats.events;
          busy(t0);
          break;
        case InstrKind::kSend: {
          send(d, in);
          break;
        }
        case InstrKind::kRecv: {
          TensorSlot& slot = tensors_[static_cast<size_t>(in.tensor)];
          if (slot.arrived_s < 0) {
            slot.waiter = static_cast<int>(d);
            if (slot.rendezvous) std::exchange(slot.rendezvous, nullptr)();  // the data moves now
            park(d);
          }
          const double posted = slot.posted_s;
          busy(std::max(t0, posted));
          result_.transfers[static_cast<size_t>(in.tensor)] = {in.tensor, in.peer, static_cast<int>(d), in.bytes, posted,
                                                               slot.arrived_s};
          break;
        }
        case InstrKind::kGather:
        case InstrKind::kParamGather:
        case InstrKind::kTpReduce:
        case InstrKind::kClipNorm: {
          CollectiveRun& c = arrive(in, in.kind);
          wait(d, c);
          busy(std::max(t0, c.start_s));
          break;
        }
        case InstrKind::kSyncStart: arrive(in, in.kind); break;
        case InstrKind::kSyncWait: {
          CollectiveRun& c = collectives_.at({in.collective, static_cast<int>(InstrKind::kSyncStart)});
          wait(d, c);
          busy(std::max(t0, c.start_s));
          break;
        }
      }
    }
    if (sends_in_flight_[d] > 0) {
      end_waiting_[d] = true;
      park(d);
    }
    time.end_s = s4u::Engine::get_clock();
    drain(d);
    finished_[d] = true;
  }

  // A send moves in a helper actor (Network::move), which wakes the receiver (and the sender
  // waiting at its program's end) when the data is there. Past its link's eager limit it moves
  // only once the receiver has reached the receive (MPI's rendezvous, Link::eager_limit_B).
  void send(size_t d, const Instr& in) {
    TensorSlot& slot = tensors_[static_cast<size_t>(in.tensor)];
    slot.posted_s = s4u::Engine::get_clock();
    ++sends_in_flight_[d];
    ++net_.stats.flows;
    ++net_.stats.events;
    auto move = [this, d, peer = in.peer, bytes = static_cast<double>(in.bytes), &slot] {
      // As measured where the profile has such a transfer: after the larger of its latency and
      // the route's, capped to last the measured time (measured_point_to_point).
      const std::optional<PointToPoint> m = measured_point_to_point(static_cast<int>(d), peer, bytes, cluster_);
      const double delay = m ? std::max(0.0, m->latency_s - net_.latency(static_cast<int>(d), peer)) : 0.0;
      net_.move(
          static_cast<int>(d), peer, bytes,
          [this, d, &slot] {
            slot.arrived_s = s4u::Engine::get_clock();
            if (slot.waiter >= 0) wake(static_cast<size_t>(std::exchange(slot.waiter, -1)));
            if (--sends_in_flight_[d] == 0 && end_waiting_[d]) {
              end_waiting_[d] = false;
              wake(d);
            }
          },
          m ? m->max_Bps : 0, delay);
    };
    if (cluster_.link_between(static_cast<int>(d), in.peer).rendezvous(static_cast<double>(in.bytes)) && slot.waiter < 0)
      slot.rendezvous = std::move(move);
    else
      move();
  }

  CollectiveRun& arrive(const Instr& in, InstrKind kind) {
    const Key key{in.collective, static_cast<int>(kind)};
    CollectiveRun& c = collectives_[key];
    c.instr = &in;
    if (++c.arrived == static_cast<int>(in.group.size())) {
      c.start_s = s4u::Engine::get_clock();
      ++net_.stats.events;
      // The collectives of one group (one NCCL communicator) run one after another, in the order
      // their members all arrived, as NCCL runs a communicator's operations on its stream: one
      // actor per busy group runs them.
      GroupQueue& q = queues_[std::vector<int>(in.group.begin(), in.group.end())];
      q.waiting.push_back({key, collective_flows(instr_collective(in), in.group, static_cast<double>(in.bytes), cluster_)});
      if (!q.busy) {
        q.busy = true;
        s4u::Actor::create("collectives-" + std::to_string(in.collective), net_.host(in.group.front()), [this, &q] {
          while (!q.waiting.empty()) {
            const Queued next = std::move(q.waiting.front());
            q.waiting.pop_front();
            net_.run_phases(next.phases);
            CollectiveRun& run = collectives_.at(next.key);
            run.end_s = s4u::Engine::get_clock();
            run.done = true;
            for (size_t w : run.waiters) wake(w);
            run.waiters.clear();
          }
          q.busy = false;
        });
      }
    }
    return c;
  }

  void wait(size_t d, CollectiveRun& c) {
    if (c.done) return;
    c.waiters.push_back(d);
    park(d);
  }

  // A device waits on its own semaphore, never by suspending itself: it is its inbox's
  // receiver, and SimGrid holds back the transfers of a suspended receiver.
  void park(size_t d) {
    drain(d);
    parked_[d]->acquire();
  }
  void wake(size_t d) { parked_[d]->release(); }
  // Takes the data that arrived off the device's inbox (sizes are simulated; the data is not).
  void drain(size_t d) {
    s4u::Mailbox* in = net_.inbox(d);
    while (in->ready()) in->get<int>();
  }

  Network net_;
  const Cluster& cluster_;
  const Programs& programs_;
  const std::vector<std::vector<double>>& seconds_;
  std::vector<TensorSlot> tensors_;
  std::vector<int> sends_in_flight_;
  std::vector<bool> end_waiting_;         // senders at their program's end, waiting for sends
  std::vector<s4u::SemaphorePtr> parked_;  // by device
  std::map<Key, CollectiveRun> collectives_;
  struct Queued {
    Key key;
    std::vector<FlowPhase> phases;
  };
  struct GroupQueue {
    bool busy = false;
    std::deque<Queued> waiting;
  };
  std::map<std::vector<int>, GroupQueue> queues_;  // by member list
  std::vector<std::vector<BusyInterval>> busy_;
  std::vector<bool> finished_;
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
    net.move_all(flows, &out);
  });
  net.run();
  if (out.size() != flows.size()) throw InternalError("simulation: flows did not all finish");
  return out;
}

}  // namespace spindle
