// Plan -> per-device programs, and a replay that proves them complete (see lowering.h).
#include "planner/program/lowering.h"

#include <cstdio>

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <set>
#include <tuple>

#include "planner/graph/metaop_json.h"
#include "planner/cost/tensor_parallel.h"
#include "planner/place/placement.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

// Instructions are ordered per device by (phase, slice index in that phase, step, tie).
using Key = std::tuple<int, int, int, int>;
enum Phase { kForwardPhase = 0, kBackwardPhase = 1, kSyncPhase = 2 };
enum Step { kInputs = 0, kGatherStep = 1, kCompute = 2, kAfterCompute = 3, kOutputs = 4, kSyncStep = 5 };

struct Keyed {
  Key key;
  Instr instr;
};

}  // namespace

const char* instr_name(InstrKind k) {
  switch (k) {
    case InstrKind::kForward: return "fwd";
    case InstrKind::kBackward: return "bwd";
    case InstrKind::kSend: return "send";
    case InstrKind::kRecv: return "recv";
    case InstrKind::kCopy: return "copy";
    case InstrKind::kGather: return "gather";
    case InstrKind::kSyncStart: return "sync-start";
    case InstrKind::kSyncWait: return "sync-wait";
    case InstrKind::kStep: return "step";
    case InstrKind::kParamGather: return "param-gather";
    case InstrKind::kTpReduce: return "tp-all-reduce";
    case InstrKind::kClipNorm: return "clip-norm";
    case InstrKind::kGradNorm: return "grad-norm";
  }
  return "?";
}

Collective instr_collective(const Instr& in) {
  if (in.kind == InstrKind::kSyncStart) return in.zero1 ? Collective::kReduceScatter : Collective::kAllReduce;
  if (in.kind == InstrKind::kTpReduce || in.kind == InstrKind::kClipNorm) return Collective::kAllReduce;
  return Collective::kAllGather;
}

Programs lower(const Plan& plan, const Scenario& s, const Graph& g, const MetaGraph& mg) {
  Programs out;
  out.activation_bytes = s.cluster.gpu.activation_bytes();
  const double element_bytes = out.activation_bytes;
  std::vector<std::vector<Keyed>> stream(static_cast<size_t>(plan.gpus));
  // Slices in forward order; index = position in it.
  std::vector<const Slice*> order;
  for (const Wave& w : plan.waves)
    for (const Slice& sl : w.slices) {
      if (static_cast<int>(sl.devices.size()) != sl.n) throw InternalError("lowering an unplaced plan");
      order.push_back(&sl);
    }
  std::stable_sort(order.begin(), order.end(), [](const Slice* a, const Slice* b) {
    const double ka = a->order_s >= 0 ? a->order_s : a->start_s, kb = b->order_s >= 0 ? b->order_s : b->start_s;
    return std::tie(ka, a->metaop, a->first_layer) < std::tie(kb, b->metaop, b->first_layer);
  });
  std::map<const Slice*, int> fwd_index, bwd_index;
  for (size_t i = 0; i < order.size(); ++i) {
    fwd_index[order[i]] = static_cast<int>(i);
    bwd_index[order[i]] = static_cast<int>(order.size() - 1 - i);
  }
  std::vector<std::vector<const Slice*>> of_meta(mg.metaops.size());
  for (const Slice* sl : order) of_meta[static_cast<size_t>(sl->metaop)].push_back(sl);
  for (auto& v : of_meta)
    std::sort(v.begin(), v.end(), [](const Slice* a, const Slice* b) { return a->first_layer < b->first_layer; });
  auto emit = [&](int device, Key key, Instr in) { stream[static_cast<size_t>(device)].push_back(Keyed{key, std::move(in)}); };
  // Collectives are numbered in the order of their global keys once all are known, so every
  // rank issues them in ascending id order.
  struct PendingCollective {
    Key key;
    Instr instr;
    std::vector<std::pair<Key, InstrKind>> parts;  // same id, emitted at these keys as these kinds
  };
  std::vector<PendingCollective> pending;

  // Compute. A TP slice runs layer by layer, each layer followed by its TP all-reduces (the
  // same keys on every member of the TP group, so they agree on the order).
  for (const Slice* sl : order) {
    const MetaOp& m = mg.metaops[static_cast<size_t>(sl->metaop)];
    const int batch = static_cast<int>(m.shape.batch);
    if (sl->tp == 1) {
      for (int k = 0; k < sl->n; ++k) {
        auto [r0, r1] = device_rows(batch, *sl, k);
        Instr in;
        in.metaop = sl->metaop;
        in.first_layer = sl->first_layer;
        in.last_layer = sl->last_layer;
        in.first_row = r0;
        in.last_row = r1;
        in.planned_s = sl->start_s;
        in.layout_tp = weight_tp(plan, g.op(m.ops[static_cast<size_t>(sl->first_layer)]));
        in.kind = InstrKind::kForward;
        emit(sl->devices[static_cast<size_t>(k)], {kForwardPhase, fwd_index[sl], kCompute, 0}, in);
        in.kind = InstrKind::kBackward;
        emit(sl->devices[static_cast<size_t>(k)], {kBackwardPhase, bwd_index[sl], kCompute, 0}, in);
      }
      continue;
    }
    // The slices this one's input gradients go back to: the previous slice of its MetaOp (at its
    // first layer), its data predecessors' last slices (the MetaOp's first slice only) and its
    // side inputs (every layer); where a device of this slice does not send them, it drops them.
    const auto& own = of_meta[static_cast<size_t>(sl->metaop)];
    const auto at = std::find(own.begin(), own.end(), sl) - own.begin();
    std::map<int, std::set<int>> dropped;  // device -> MetaOps whose gradient it drops at the first layer
    std::map<int, std::set<int>> dropped_side;  // ... at every layer
    auto drop = [&](const Slice& producer, int producer_metaop, std::map<int, std::set<int>>& into) {
      // The producer's batch, as its moves below use.
      const int rows = static_cast<int>(mg.metaops[static_cast<size_t>(producer_metaop)].shape.batch);
      const std::set<int> senders = gradient_senders(rows, producer, *sl);
      for (int d : sl->devices)
        if (!senders.count(d)) into[d].insert(producer_metaop);
    };
    if (at > 0) drop(*own[static_cast<size_t>(at - 1)], sl->metaop, dropped);
    for (int p : m.preds) {
      const bool side = is_side_input(g, mg, p, m.id);
      if (!side && at > 0) continue;
      drop(*of_meta[static_cast<size_t>(p)].back(), p, side ? dropped_side : dropped);
    }
    // Per device, once: what its backward drops at the slice's first layer and at later ones.
    std::map<int, std::pair<SharedList<int>, SharedList<int>>> drops;
    for (int d : sl->devices) {
      std::set<int> first = dropped_side[d];
      first.insert(dropped[d].begin(), dropped[d].end());
      drops[d] = {std::vector<int>(first.begin(), first.end()),
                  std::vector<int>(dropped_side[d].begin(), dropped_side[d].end())};
    }
    for (int group = 0; group < sl->dp(); ++group) {
      auto [r0, r1] = slice_rows(batch, sl->dp(), group);
      const std::vector<int> members(sl->devices.begin() + group * sl->tp, sl->devices.begin() + (group + 1) * sl->tp);
      for (int l = sl->first_layer; l < sl->last_layer; ++l) {
        const Operator& op = g.op(m.ops[static_cast<size_t>(l)]);
        const TpReductions red = tp_reductions(op, r1 - r0, sl->tp, out.activation_bytes);
        for (bool backward : {false, true}) {
          const std::vector<std::int64_t>& sizes = backward ? red.bwd : red.fwd;
          const int pos = backward ? sl->last_layer - 1 - l : l - sl->first_layer;
          const int per_layer = 1 + static_cast<int>(std::max(red.fwd.size(), red.bwd.size()));
          const int phase = backward ? kBackwardPhase : kForwardPhase;
          const int idx = backward ? bwd_index[sl] : fwd_index[sl];
          Instr in;
          in.kind = backward ? InstrKind::kBackward : InstrKind::kForward;
          in.metaop = sl->metaop;
          in.first_layer = l;
          in.last_layer = l + 1;
          in.first_row = r0;
          in.last_row = r1;
          in.planned_s = sl->start_s;
          in.group = members;
          in.layout_tp = weight_tp(plan, op);
          for (int d : members) {
            Instr mine = in;
            if (backward) mine.drops_grad_of = l == sl->first_layer ? drops.at(d).first : drops.at(d).second;
            emit(d, {phase, idx, kCompute, pos * per_layer}, mine);
          }
          for (size_t j = 0; j < sizes.size(); ++j) {
            Instr red_in = in;
            red_in.kind = InstrKind::kTpReduce;
            red_in.bytes = sizes[j];
            red_in.for_backward = backward;
            const Key key{phase, idx, kCompute, pos * per_layer + 1 + static_cast<int>(j)};
            pending.push_back({key, red_in, {{key, InstrKind::kTpReduce}}});
          }
        }
      }
    }
  }

  // Data between slices: activations forward, their gradients backward. Sends and receives
  // wait in `sends` until every transfer is known, for their channels (below).
  struct PendingSend {
    Key key, recv_key;
    int src = 0;
    Instr instr;
  };
  std::vector<PendingSend> sends;
  DeliveredRows delivered;
  auto move = [&](const Slice& from, const Slice& to, const MetaOp& carried, int layer, bool side) {
    const Operator& op = g.op(carried.ops[static_cast<size_t>(layer)]);
    const double per_row = element_bytes * static_cast<double>(op.out_seq) * static_cast<double>(op.out_hidden);
    const int batch = static_cast<int>(carried.shape.batch);
    for (const DataMove& dm : data_moves(batch, from, to, side ? carried.id : -1, delivered)) {
      // Forward: from -> to. Backward: the gradient goes to -> from.
      const bool backward = dm.backward;
      const int src = dm.move.src, dst = dm.move.dst;
      const RowMove& mv = dm.move;
      const Slice& producer = backward ? to : from;
      const Slice& consumer = backward ? from : to;
      const int phase = backward ? kBackwardPhase : kForwardPhase;
      auto index = [&](const Slice& sl) { return backward ? bwd_index[&sl] : fwd_index[&sl]; };
      Instr in;
      in.metaop = carried.id;
      in.first_layer = layer;
      in.last_layer = layer + 1;
      in.first_row = mv.first_row;
      in.last_row = mv.first_row + mv.rows;
      in.bytes = static_cast<std::int64_t>(mv.rows * per_row);
      in.tensor = out.tensors++;
      in.planned_s = consumer.start_s;
      in.for_metaop = consumer.metaop;
      in.for_first_layer = consumer.first_layer;
      in.for_backward = backward;
      if (src == dst) {
        in.kind = InstrKind::kCopy;
        in.peer = src;
        emit(dst, {phase, index(consumer), kInputs, in.tensor}, in);
      } else {
        in.kind = InstrKind::kSend;
        in.peer = dst;
        sends.push_back({{phase, index(producer), kOutputs, in.tensor}, {phase, index(consumer), kInputs, in.tensor}, src, in});
      }
    }
  };
  for (const MetaOp& m : mg.metaops) {
    const auto& own = of_meta[static_cast<size_t>(m.id)];
    for (size_t k = 1; k < own.size(); ++k) move(*own[k - 1], *own[k], m, own[k]->first_layer - 1, false);
    for (int p : m.preds) {
      const MetaOp& pm = mg.metaops[static_cast<size_t>(p)];
      const bool side = is_side_input(g, mg, p, m.id);
      const size_t readers = side ? own.size() : 1;
      for (size_t k = 0; k < readers; ++k) move(*of_meta[static_cast<size_t>(p)].back(), *own[k], pm, pm.L - 1, side);
    }
    if (m.kind == OpKind::kContrastiveLoss)  // both embeddings of the whole batch, forward and backward
      for (const Slice* sl : own) {
        std::vector<int> group(sl->devices.begin(), sl->devices.end());
        std::sort(group.begin(), group.end());
        std::vector<std::pair<int, int>> rows_of;
        for (int d : group) {
          const auto k = std::find(sl->devices.begin(), sl->devices.end(), d) - sl->devices.begin();
          rows_of.push_back(device_rows(static_cast<int>(m.shape.batch), *sl, static_cast<int>(k)));
        }
        for (bool backward : {false, true}) {
          Instr in;
          in.kind = InstrKind::kGather;
          in.for_backward = backward;  // forward: all-gather; backward: reduce-scatter
          in.metaop = m.id;
          in.group = group;
          in.rows_of = rows_of;
          in.bytes = static_cast<std::int64_t>(2.0 * element_bytes * static_cast<double>(m.shape.batch * m.shape.hidden));
          in.planned_s = sl->start_s;
          // Forward: gather the embeddings before the loss. Backward: reduce-scatter their
          // gradients after it. Keys are global (the slice's index), so every member agrees.
          const Key key{backward ? kBackwardPhase : kForwardPhase, backward ? bwd_index[sl] : fwd_index[sl],
                        backward ? kAfterCompute : kGatherStep, m.id};
          pending.push_back({key, in, {{key, InstrKind::kGather}}});
        }
      }
  }

  // Each ordered pair's transfers go on queues (channels) on which the sends and the receives
  // come in the same order, as NCCL matches a pair's point-to-point by order (lowering.h
  // kPeerQueue): in send order, a transfer joins the first channel whose last receive comes
  // before its own, else opens one (patience sorting: as few channels as the longest run of
  // transfers received in the reverse of their send order). No send waits for another.
  std::stable_sort(sends.begin(), sends.end(),
                   [](const PendingSend& a, const PendingSend& b) { return a.key < b.key; });
  std::map<std::pair<int, int>, std::vector<Key>> channel_last;  // (src, dst) -> per channel, its last receive
  for (PendingSend& ps : sends) {
    std::vector<Key>& last = channel_last[{ps.src, ps.instr.peer}];
    const auto c = std::find_if(last.begin(), last.end(), [&](const Key& k) { return k < ps.recv_key; });
    ps.instr.channel = static_cast<int>(c - last.begin());
    if (c == last.end()) last.push_back(ps.recv_key);
    else *c = ps.recv_key;
    emit(ps.src, ps.key, ps.instr);
    Instr recv = ps.instr;
    recv.kind = InstrKind::kRecv;
    recv.peer = ps.src;
    emit(ps.instr.peer, ps.recv_key, recv);
  }

  // Weight sync in buckets of layers with the same device group, in one global order: by the
  // backward index at which the bucket's last gradient is ready. Under TP each of the layout's
  // t shards syncs over its own group: the rank r of a slice's TP group of e <= t holds shards
  // [r t / e, (r + 1) t / e) (e < t where a slice has fewer devices than t: the shards nest).
  using Shard = std::pair<std::string, int>;  // (weights, shard of the layout's degree)
  std::map<Shard, std::set<int>> group_of;
  std::map<Shard, std::int64_t> params_of;
  std::map<Shard, int> tensors_of;
  std::map<Shard, int> degree_of;  // the layout's degree t
  std::map<Shard, std::map<int, int>> last_bwd;  // shard -> device -> latest backward index
  for (const Slice* sl : order) {
    const MetaOp& m = mg.metaops[static_cast<size_t>(sl->metaop)];
    for (int l = sl->first_layer; l < sl->last_layer; ++l) {
      const Operator& op = g.op(m.ops[static_cast<size_t>(l)]);
      if (op.weights.empty()) continue;
      const int t = weight_tp(plan, op);
      for (size_t k = 0; k < sl->devices.size(); ++k) {
        const int d = sl->devices[k];
        const auto [first, last] = held_shards(*sl, static_cast<int>(k), t);
        for (int j = first; j < last; ++j) {
          const Shard shard{op.weights, j};
          params_of[shard] = op.cost.params / t;
          tensors_of[shard] = op.cost.weight_tensors;  // a TP shard holds a part of each
          degree_of[shard] = t;
          group_of[shard].insert(d);
          int& b = last_bwd[shard][d];
          b = std::max(b, bwd_index[sl]);
        }
      }
    }
  }
  struct Bucket {
    std::vector<int> group;
    std::vector<std::string> weights;  // ascending
    std::int64_t params = 0;
    int global = 0;  // backward index after which its last gradient anywhere is ready
  };
  // Each device group's weights in the order their gradients become ready (the global backward
  // index of the last one), filled into buckets up to the policy's cap.
  std::map<std::vector<int>, std::vector<std::pair<int, Shard>>> ready_of_group;
  for (const auto& [shard, devs] : group_of) {
    int global = 0;
    for (auto [d, idx] : last_bwd[shard]) global = std::max(global, idx);
    ready_of_group[std::vector<int>(devs.begin(), devs.end())].push_back({global, shard});
  }
  const SyncPolicy& policy = plan.sync;
  std::vector<Bucket> buckets;
  for (auto& entry : ready_of_group) {
    const std::vector<int>& group = entry.first;  // a named reference: lambdas may capture it
    auto& ready = entry.second;
    std::stable_sort(ready.begin(), ready.end());
    const std::int64_t cap = policy.cap_params(static_cast<int>(group.size()));
    bool first = true;
    Bucket b;
    auto close = [&] {
      std::sort(b.weights.begin(), b.weights.end());
      b.group = group;
      buckets.push_back(std::move(b));
      b = Bucket{};
      first = false;
    };
    for (const auto& [global, shard] : ready) {
      b.weights.push_back(tp_shard_group(shard.first, shard.second, degree_of[shard]));
      b.params += params_of[shard];
      b.global = std::max(b.global, global);
      const std::int64_t limit = first && policy.first_bucket_params > 0 ? policy.first_bucket_params : cap;
      if (limit > 0 && b.params >= limit) close();
    }
    if (!b.weights.empty()) close();
  }
  std::vector<Bucket*> sorted;
  for (Bucket& b : buckets) sorted.push_back(&b);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Bucket* a, const Bucket* b) { return a->global < b->global; });
  for (size_t k = 0; k < sorted.size(); ++k) {
    Bucket& b = *sorted[k];
    if (b.group.size() < 2) continue;  // weights on one device need no sync
    Instr in;
    in.group = b.group;
    in.weights = b.weights;
    in.bytes = policy.grad_bytes * b.params;
    in.zero1 = plan.zero1;
    // Every member starts the bucket at the same global point: after the backward slice at
    // which the bucket's last gradient anywhere is ready (its local gradients are ready by
    // then too), so all ranks order their collectives alike.
    const Key start{kBackwardPhase, b.global, kSyncStep, static_cast<int>(k)};
    PendingCollective pc{start, in, {{start, InstrKind::kSyncStart}, {{kSyncPhase, 0, 0, static_cast<int>(k)}, InstrKind::kSyncWait}}};
    if (plan.zero1) pc.parts.push_back({{kSyncPhase, 2, 0, static_cast<int>(k)}, InstrKind::kParamGather});
    pending.push_back(pc);
  }
  std::stable_sort(pending.begin(), pending.end(), [](const PendingCollective& a, const PendingCollective& b) { return a.key < b.key; });
  for (PendingCollective& pc : pending) {
    pc.instr.collective = out.collectives++;
    for (auto [key, kind] : pc.parts) {
      Instr in = pc.instr;
      in.kind = kind;
      for (int d : in.group) emit(d, key, in);
    }
  }
  // What each device counts in the gradient norm (each weight once over all devices: a
  // bucket's on its group's first member, under ZeRO-1 each member's share) and updates in the
  // step (under ZeRO-1 its share of each synced weight), in parameters and tensors.
  std::vector<double> counted(static_cast<size_t>(plan.gpus), 0.0), updated(counted.size(), 0.0);
  std::vector<double> counted_tensors(counted.size(), 0.0), updated_tensors(counted.size(), 0.0);
  for (const auto& [shard, devs] : group_of) {
    const bool split = plan.zero1 && devs.size() > 1;
    const double share = split ? static_cast<double>(devs.size()) : 1.0;
    const double params = static_cast<double>(params_of[shard]), tensors = tensors_of[shard];
    for (int d : devs) {
      const auto i = static_cast<size_t>(d);
      updated[i] += params / share;
      updated_tensors[i] += tensors / share;
      if (split || d == *devs.begin()) {
        counted[i] += params / share;
        counted_tensors[i] += tensors / share;
      }
    }
  }
  // The local sum of squares, then the global gradient norm for clipping: one fp32 over every
  // device, after every sync-wait and before the step.
  for (int d = 0; d < plan.gpus; ++d) {
    Instr norm;
    norm.kind = InstrKind::kGradNorm;
    norm.params = std::llround(counted[static_cast<size_t>(d)]);
    norm.tensors = static_cast<int>(std::ceil(counted_tensors[static_cast<size_t>(d)]));
    emit(d, {kSyncPhase, 0, 1, 0}, norm);
  }
  Instr clip;
  clip.kind = InstrKind::kClipNorm;
  clip.collective = out.collectives++;
  clip.bytes = 4;
  std::vector<int> everyone(static_cast<size_t>(plan.gpus));
  for (int d = 0; d < plan.gpus; ++d) everyone[static_cast<size_t>(d)] = d;
  clip.group = everyone;
  for (int d = 0; d < plan.gpus; ++d) emit(d, {kSyncPhase, 0, 1, 1}, clip);
  // The step's memory traffic: every parameter the device updates at its gradient's bytes and
  // kOptimizerStepBytesPerParam.
  for (int d = 0; d < plan.gpus; ++d) {
    Instr step;
    step.kind = InstrKind::kStep;
    step.zero1 = plan.zero1;
    step.params = std::llround(updated[static_cast<size_t>(d)]);
    step.tensors = static_cast<int>(std::ceil(updated_tensors[static_cast<size_t>(d)]));
    step.bytes = step.params * (kOptimizerStepBytesPerParam + static_cast<std::int64_t>(policy.grad_bytes));
    emit(d, {kSyncPhase, 1, 0, 0}, step);
  }
  for (int d = 0; d < plan.gpus; ++d) {
    auto& v = stream[static_cast<size_t>(d)];
    std::stable_sort(v.begin(), v.end(), [](const Keyed& a, const Keyed& b) { return a.key < b.key; });
    DeviceProgram p;
    p.device = d;
    p.activation_bytes = out.activation_bytes;
    for (Keyed& k : v) p.instrs.push_back(std::move(k.instr));
    out.devices.push_back(std::move(p));
  }
  return out;
}

std::pair<int, int> instr_shards(const Instr& in, int device) {
  const auto e = static_cast<int>(std::max<size_t>(1, in.group.size()));
  const auto r = in.group.size() == 0
                     ? 0
                     : static_cast<int>(std::find(in.group.begin(), in.group.end(), device) - in.group.begin());
  if (r >= e) throw InternalError("device " + std::to_string(device) + " runs a TP slice of a group without it");
  return held_shard_range(r, e, in.layout_tp);
}

std::string programs_fingerprint(const Programs& programs, const Scenario& s, const MetaGraph& mg) {
  std::uint64_t h = 14695981039346656037ULL;
  for (DeviceProgram p : programs.devices) {
    for (Instr& in : p.instrs) in.planned_s = 0;  // the cost model's times, not the plan's structure
    for (unsigned char ch : program_text(p, s, mg)) h = (h ^ ch) * 1099511628211ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

std::string program_text(const DeviceProgram& p, const Scenario& s, const MetaGraph& mg) {
  std::string out = "device " + std::to_string(p.device) + " (node " +
                    std::to_string(p.device / s.cluster.gpus_per_node) + ")\n";
  auto group_text = [](const std::vector<int>& g) {
    std::string t = "{";
    for (size_t i = 0; i < g.size(); ++i) t += (i ? "," : "") + std::to_string(g[i]);
    return t + "}";
  };
  for (const Instr& in : p.instrs) {
    std::string line = "  " + std::string(instr_name(in.kind));
    line.resize(14, ' ');
    auto what = [&] {
      const MetaOp& m = mg.metaops[static_cast<size_t>(in.metaop)];
      return "metaop " + std::to_string(m.id) + " " + component_name(s, m) + "/" +
             s.tasks[static_cast<size_t>(m.tasks.front())].name + " layers [" + std::to_string(in.first_layer) + "," +
             std::to_string(in.last_layer) + ") rows [" + std::to_string(in.first_row) + "," +
             std::to_string(in.last_row) + ")";
    };
    switch (in.kind) {
      case InstrKind::kForward:
      case InstrKind::kBackward:
        line += what() + (in.group.size() == 0 ? "" : " tp " + group_text(in.group));
        if (in.layout_tp > 1) {  // the shards this rank holds
          const auto [first, last] = instr_shards(in, p.device);
          line += " shards [" + std::to_string(first) + "," + std::to_string(last) + ") of " + std::to_string(in.layout_tp);
        }
        line += "  planned " + fixed(in.planned_s * 1e3, 3) + " ms";
        break;
      case InstrKind::kTpReduce:
        line += group_text(in.group) + " " + with_commas(in.bytes) + " B  " + (in.for_backward ? "backward of " : "") + what();
        break;
      case InstrKind::kSend:
      case InstrKind::kRecv:
        line += (in.kind == InstrKind::kSend ? "to " : "from ") + std::to_string(in.peer) +
                (in.channel > 0 ? " channel " + std::to_string(in.channel) : "") + " tensor " +
                std::to_string(in.tensor) + " " + with_commas(in.bytes) + " B  " + what();
        break;
      case InstrKind::kCopy: line += "local tensor " + std::to_string(in.tensor) + " " + with_commas(in.bytes) + " B  " + what(); break;
      case InstrKind::kGather: line += "all-gather " + group_text(in.group) + " " + with_commas(in.bytes) + " B  metaop " + std::to_string(in.metaop); break;
      case InstrKind::kSyncStart:
        line += std::string(in.zero1 ? "reduce-scatter " : "all-reduce ") + group_text(in.group) + " " + with_commas(in.bytes) +
                " B  bucket " + std::to_string(in.collective);
        break;
      case InstrKind::kSyncWait: line += "bucket " + std::to_string(in.collective); break;
      case InstrKind::kParamGather:
        line += "all-gather of the updated shards " + group_text(in.group) + " " + with_commas(in.bytes) + " B  bucket " +
                std::to_string(in.collective);
        break;
      case InstrKind::kClipNorm: line += "all-reduce " + group_text(in.group) + " " + with_commas(in.bytes) + " B  squared gradient norm"; break;
      case InstrKind::kStep:
        line += std::string(in.zero1 ? "optimizer on the own shard of each bucket" : "optimizer") + "  " +
                with_commas(in.params) + " parameters in " + std::to_string(in.tensors) + " tensors";
        break;
      case InstrKind::kGradNorm:
        line += "sum of squares of " + with_commas(in.params) + " gradients in " + std::to_string(in.tensors) + " tensors";
        break;
    }
    out += line + "\n";
  }
  return out;
}

std::string replay(const Programs& programs, SendMode mode) {
  const size_t n = programs.devices.size();
  // Static checks: inputs of a compute come before it; collective ids are consistent.
  struct Coll {
    InstrKind kind;
    Group group;
    std::int64_t bytes;
  };
  std::map<std::pair<int, InstrKind>, Coll> colls;  // sync-start/wait/param-gather share an id
  for (size_t d = 0; d < n; ++d) {
    const auto& code = programs.devices[d].instrs;
    std::set<std::tuple<int, int, bool>> computed;
    std::vector<int> order, param_order;  // collective ids in program order
    for (size_t i = 0; i < code.size(); ++i) {
      const Instr& in = code[i];
      if (in.kind == InstrKind::kForward || in.kind == InstrKind::kBackward)
        computed.insert({in.metaop, in.first_layer, in.kind == InstrKind::kBackward});
      if ((in.kind == InstrKind::kRecv || in.kind == InstrKind::kCopy) &&
          computed.count({in.for_metaop, in.for_first_layer, in.for_backward}))
        return "device " + std::to_string(d) + ": tensor " + std::to_string(in.tensor) +
               " arrives after the compute that needs it";
      if (in.collective >= 0) {
        if (!std::binary_search(in.group.begin(), in.group.end(), static_cast<int>(d)))
          return "device " + std::to_string(d) + " is not a member of collective " + std::to_string(in.collective);
        auto [it, fresh] = colls.insert({{in.collective, in.kind}, Coll{in.kind, in.group, in.bytes}});
        if (!fresh && (!(it->second.group == in.group) || it->second.bytes != in.bytes))
          return "collective " + std::to_string(in.collective) + " differs between its members";
        if (in.kind == InstrKind::kParamGather) param_order.push_back(in.collective);
        else if (in.kind != InstrKind::kSyncWait) order.push_back(in.collective);
      }
    }
    // Collectives issued in ascending id order: ids follow the one global order.
    for (const auto* seq : {&order, &param_order})
      for (size_t i = 1; i < seq->size(); ++i)
        if ((*seq)[i] < (*seq)[i - 1])
          return "device " + std::to_string(d) + " issues collective " + std::to_string((*seq)[i]) + " after " +
                 std::to_string((*seq)[i - 1]) + ": ranks would disagree on the order";
  }
  std::vector<size_t> pc(n, 0);
  std::map<int, std::tuple<int, int, std::int64_t>> mailbox;  // tensor -> (from, to, bytes)
  std::map<std::pair<int, InstrKind>, int> arrivals;
  std::set<std::tuple<int, int, InstrKind>> arrived;  // (device, collective, kind)
  std::set<std::pair<size_t, size_t>> posted;  // (device, instruction) of sends posted (blocking: not yet returned)
  std::map<std::tuple<int, int, int>, std::deque<int>> queues;  // (from, to, channel) -> tensors posted, oldest first
  auto arrive = [&](int d, const Instr& in, InstrKind as) {
    if (arrived.insert({d, in.collective, as}).second) ++arrivals[{in.collective, as}];
    return arrivals[{in.collective, as}] >= static_cast<int>(in.group.size());
  };
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t d = 0; d < n; ++d) {
      const auto& code = programs.devices[d].instrs;
      while (pc[d] < code.size()) {
        const Instr& in = code[pc[d]];
        bool done = true;
        switch (in.kind) {
          case InstrKind::kSend:
            if (posted.insert({d, pc[d]}).second) {
              if (mailbox.count(in.tensor)) return "tensor " + std::to_string(in.tensor) + " sent twice";
              mailbox[in.tensor] = {static_cast<int>(d), in.peer, in.bytes};
              queues[{static_cast<int>(d), in.peer, in.channel}].push_back(in.tensor);
            }
            done = mode != SendMode::kBlocking || !mailbox.count(in.tensor);  // blocking: until received
            break;
          case InstrKind::kRecv: {
            std::deque<int>& queue = queues[{in.peer, static_cast<int>(d), in.channel}];
            if (mode == SendMode::kPeerQueue && !queue.empty() && queue.front() != in.tensor)
              return "device " + std::to_string(d) + " receives tensor " + std::to_string(in.tensor) + " from " +
                     std::to_string(in.peer) + " on channel " + std::to_string(in.channel) +
                     " while the oldest unmatched send there is tensor " + std::to_string(queue.front()) +
                     ": the channel's sends and receives come in different orders";
            auto it = mailbox.find(in.tensor);
            if (it == mailbox.end()) {
              done = false;
              break;
            }
            auto [from, to, bytes] = it->second;
            if (to != static_cast<int>(d) || from != in.peer || bytes != in.bytes)
              return "device " + std::to_string(d) + " receives tensor " + std::to_string(in.tensor) + " of " +
                     std::to_string(in.bytes) + " B from " + std::to_string(in.peer) + ", sent by " +
                     std::to_string(from) + " to " + std::to_string(to) + " with " + std::to_string(bytes) + " B";
            queue.erase(std::find(queue.begin(), queue.end(), in.tensor));
            mailbox.erase(it);
            break;
          }
          case InstrKind::kGather:
          case InstrKind::kParamGather:
          case InstrKind::kTpReduce:
          case InstrKind::kClipNorm:
            done = arrive(static_cast<int>(d), in, in.kind);
            break;
          case InstrKind::kSyncStart:
            arrive(static_cast<int>(d), in, InstrKind::kSyncStart);
            break;
          case InstrKind::kSyncWait:
            done = arrivals[{in.collective, InstrKind::kSyncStart}] >= static_cast<int>(in.group.size());
            break;
          default:
            break;
        }
        if (!done) break;
        ++pc[d];
        progress = true;
      }
    }
  }
  for (size_t d = 0; d < n; ++d)
    if (pc[d] < programs.devices[d].instrs.size()) {
      const Instr& in = programs.devices[d].instrs[pc[d]];
      return "deadlock: device " + std::to_string(d) + " waits at instruction " + std::to_string(pc[d]) + " (" +
             instr_name(in.kind) + (in.tensor >= 0 ? " tensor " + std::to_string(in.tensor) : "") +
             (in.collective >= 0 ? " collective " + std::to_string(in.collective) : "") + ")";
    }
  if (!mailbox.empty()) return "tensor " + std::to_string(mailbox.begin()->first) + " sent but never received";
  return "";
}

}  // namespace spindle
