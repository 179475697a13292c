// Greedy placement in order of planned start, and the traffic / memory accounting of a placed
// plan (see placement.h). Placing in start order can always succeed: a device free at a
// slice's start stays free for the whole slice, since every slice placed later starts later.
#include "planner/place/placement.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "planner/cost/memory_model.h"
#include "planner/cost/tensor_parallel.h"
#include "traces/errors.h"

namespace spindle {
namespace {

// Re-placements tried by the topology repair of place() (each places the whole plan again).
constexpr int kTopologyRepairRounds = 8;

struct SliceRef {
  size_t wave = 0, slice = 0;
  bool operator<(const SliceRef& o) const { return wave != o.wave ? wave < o.wave : slice < o.slice; }
};

std::vector<SliceRef> in_start_order(const Plan& plan) {
  std::vector<SliceRef> order;
  for (size_t w = 0; w < plan.waves.size(); ++w)
    for (size_t k = 0; k < plan.waves[w].slices.size(); ++k) order.push_back({w, k});
  std::stable_sort(order.begin(), order.end(), [&](const SliceRef& a, const SliceRef& b) {
    const Slice &x = plan.waves[a.wave].slices[a.slice], &y = plan.waves[b.wave].slices[b.slice];
    return x.start_s != y.start_s ? x.start_s < y.start_s : x.n > y.n;
  });
  return order;
}

// Bytes per sample of what a MetaOp's operator `layer` writes (its output activation, in the
// device's activation bytes: GpuSpec::activation_bytes).
double out_bytes_per_sample(const Scenario& s, const Graph& g, const MetaOp& m, int layer) {
  const Operator& op = g.op(m.ops[static_cast<size_t>(layer)]);
  return s.cluster.gpu.activation_bytes() * static_cast<double>(op.out_seq) * static_cast<double>(op.out_hidden);
}

bool holds_weights(const Slice& sl, const Graph& g, const MetaGraph& mg) {
  const MetaOp& m = mg.metaops[static_cast<size_t>(sl.metaop)];
  for (int l = sl.first_layer; l < sl.last_layer; ++l)
    if (!g.op(m.ops[static_cast<size_t>(l)]).weights.empty()) return true;
  return false;
}

// A slice that holds weights and would fit in one node (n <= GPUs per node) but spans several
// syncs its gradients across the network, the costliest traffic of an iteration. `node` is
// where it has most devices; `blockers` the slices placed before it still running there at
// its start (what kept it out).
struct Split {
  SliceRef slice;
  int node = -1;
  std::vector<SliceRef> blockers;
};

std::vector<Split> needless_splits(const Plan& plan, const Graph& g, const MetaGraph& mg, int gpn) {
  std::vector<Split> out;
  const std::vector<SliceRef> order = in_start_order(plan);
  for (size_t i = 0; i < order.size(); ++i) {
    const Slice& sl = plan.waves[order[i].wave].slices[order[i].slice];
    if (sl.n > gpn || !holds_weights(sl, g, mg)) continue;
    std::map<int, int> per_node;
    for (int d : sl.devices) ++per_node[d / gpn];
    if (per_node.size() < 2) continue;
    Split sp{order[i], -1, {}};
    int most = 0;
    for (const auto& [node, count] : per_node)
      if (count > most) {
        most = count;
        sp.node = node;
      }
    for (size_t j = 0; j < i; ++j) {
      const Slice& t = plan.waves[order[j].wave].slices[order[j].slice];
      if (t.end_s <= sl.start_s + 1e-12) continue;
      if (std::any_of(t.devices.begin(), t.devices.end(), [&](int d) { return d / gpn == sp.node; }))
        sp.blockers.push_back(order[j]);
    }
    if (!sp.blockers.empty()) out.push_back(std::move(sp));
  }
  return out;
}

class Placer {
 public:
  Placer(const Scenario& s, const Graph& g, const MetaGraph& mg, PlacementPolicy policy)
      : s_(s), g_(g), mg_(mg), policy_(policy), gpus_(s.cluster.gpus()), gpn_(s.cluster.gpus_per_node),
        free_at_(static_cast<size_t>(gpus_), 0.0), mem_(static_cast<size_t>(gpus_), 0.0),
        held_(static_cast<size_t>(gpus_)), last_(mg.metaops.size(), nullptr), tasks_of_(tasks_per_weight_set(g)) {
    capacity_ = (s.cluster.gpu.memory_GiB() - s.planner.workspace_GiB) * kGiB;
    storage_ = device_storage(s.cluster.gpu);
  }

  // Places every slice. The spindle policy first tries its preferred (affinity) device set
  // for each slice; when a slice finds fewer than n free devices with room, it backjumps to
  // the latest earlier slice that filled one of those devices and still has an untried
  // alternative (the n devices with most free memory), re-placing everything after it. If
  // the search runs out of alternatives or budget, the preferred sets are kept and devices
  // run over memory (the report counts them).
  // Slices asked to stay off nodes when they have enough devices elsewhere.
  void set_avoid(std::map<SliceRef, std::set<int>> avoid) { avoid_ = std::move(avoid); }

  int run(Plan& plan, bool backtrack) {
    zero1_ = plan.zero1;
    slices_.clear();
    avoiding_.clear();
    for (const SliceRef& r : in_start_order(plan)) {
      slices_.push_back(&plan.waves[r.wave].slices[r.slice]);
      auto it = avoid_.find(r);
      if (it != avoid_.end()) avoiding_[slices_.back()] = it->second;
    }
    min_group_.clear();
    reset(0);
    for (const Slice* sl : slices_) {
      const MetaOp& m = mg_.metaops[static_cast<size_t>(sl->metaop)];
      for (int l = sl->first_layer; l < sl->last_layer; ++l) {
        const std::string& w = g_.op(m.ops[static_cast<size_t>(l)]).weights;
        if (!w.empty()) min_group_[w] = std::max(min_group_[w], sl->dp());
      }
    }
    if (policy_ == PlacementPolicy::kSequential) {
      for (Slice* sl : slices_) commit(*sl, sequential_pick(*sl));
      return 0;
    }
    int backtracks = 0;
    std::vector<int> choice(slices_.size(), 0);
    long budget = 64L * static_cast<long>(slices_.size());
    size_t k = 0;
    while (k < slices_.size()) {
      const std::vector<std::vector<int>> options = candidates(*slices_[k]);
      if (static_cast<size_t>(choice[k]) < options.size()) {
        commit(*slices_[k], options[static_cast<size_t>(choice[k])]);
        ++k;
        continue;
      }
      const int j = backtrack ? culprit(k, choice) : -1;
      if (j < 0 || budget-- <= 0) {  // no memory-feasible placement found: best effort
        reset(0);
        for (Slice* sl : slices_) commit(*sl, best_effort(*sl));
        return -1;
      }
      ++backtracks;
      ++choice[static_cast<size_t>(j)];
      std::fill(choice.begin() + j + 1, choice.end(), 0);
      reset(static_cast<size_t>(j));
      for (size_t i = 0; i < static_cast<size_t>(j); ++i)
        commit(*slices_[i], candidates(*slices_[i])[static_cast<size_t>(choice[i])]);
      k = static_cast<size_t>(j);
    }
    return backtracks;
  }

 private:
  std::vector<int> free_devices(const Slice& sl) const {
    std::vector<int> free;
    for (int d = 0; d < gpus_; ++d)
      if (free_at_[static_cast<size_t>(d)] <= sl.start_s + 1e-12) free.push_back(d);
    if (static_cast<int>(free.size()) < sl.n)
      throw InternalError("placement: " + std::to_string(free.size()) + " devices free for a slice of " +
                          std::to_string(sl.n));
    return free;
  }

  bool fits(int d, const Slice& sl) const { return mem_[static_cast<size_t>(d)] + need(d, sl) <= capacity_; }

  std::vector<int> sequential_pick(const Slice& sl) const {
    std::vector<int> free = whole_blocks(free_devices(sl), sl.tp);
    if (static_cast<int>(free.size()) < sl.n) free = free_devices(sl);  // TP groups across nodes: the last resort
    if (static_cast<int>(free.size()) < sl.n)
      throw InternalError("placement: " + std::to_string(free.size() / static_cast<size_t>(sl.tp)) + " free TP groups of " +
                          std::to_string(sl.tp) + " for a slice of " + std::to_string(sl.n));
    free.resize(static_cast<size_t>(sl.n));
    return align_rows(free, sl);
  }

  // The TP groups `list` (ascending) can form: each node's devices in id order, cut into
  // groups of `tp` (a group stays inside one node, on its NVLink); the rest left out.
  std::vector<std::vector<int>> tp_groups(const std::vector<int>& list, int tp) const {
    std::vector<std::vector<int>> out;
    for (size_t i = 0; i < list.size();) {
      size_t j = i;
      while (j < list.size() && list[j] / gpn_ == list[i] / gpn_) ++j;
      for (size_t k = i; k + static_cast<size_t>(tp) <= j; k += static_cast<size_t>(tp))
        out.emplace_back(list.begin() + static_cast<std::ptrdiff_t>(k), list.begin() + static_cast<std::ptrdiff_t>(k) + tp);
      i = j;
    }
    return out;
  }

  // The devices of `list` (ascending) that form whole TP groups, group after group.
  std::vector<int> whole_blocks(const std::vector<int>& list, int tp) const {
    if (tp <= 1) return list;
    std::vector<int> out;
    for (const std::vector<int>& grp : tp_groups(list, tp)) out.insert(out.end(), grp.begin(), grp.end());
    return out;
  }

  // The free devices at the slice's start that have room for it, in id order; off the nodes
  // the slice is asked to avoid while enough devices remain without them.
  std::vector<int> with_room(const Slice& sl, const std::vector<int>& free) const {
    std::vector<int> room;
    for (int d : free)
      if (fits(d, sl)) room.push_back(d);
    room = whole_blocks(room, sl.tp);
    auto it = avoiding_.find(&sl);
    if (it == avoiding_.end()) return room;
    std::vector<int> away;
    for (int d : room)
      if (!it->second.count(d / gpn_)) away.push_back(d);
    return static_cast<int>(away.size()) >= sl.n ? away : room;
  }

  // The device sets that keep every device within memory, preferred first: by affinity, then
  // the n devices with most memory left after taking the slice. Empty when fewer than n fit.
  std::vector<std::vector<int>> candidates(const Slice& sl) const {
    std::vector<int> room = with_room(sl, free_devices(sl));
    if (static_cast<int>(room.size()) < sl.n) return {};
    std::vector<std::vector<int>> out{align_rows(pick(room, sl), sl)};
    // Memory in use once a TP group takes the slice: its fullest device's.
    std::vector<std::vector<int>> groups = tp_groups(room, sl.tp);
    std::vector<double> after(groups.size(), 0.0);
    for (size_t i = 0; i < groups.size(); ++i)
      for (int d : groups[i]) after[i] = std::max(after[i], mem_[static_cast<size_t>(d)] + need(d, sl));
    std::vector<size_t> order(groups.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return after[a] < after[b]; });
    room.clear();
    for (size_t b = 0; b < static_cast<size_t>(sl.dp()); ++b)
      room.insert(room.end(), groups[order[b]].begin(), groups[order[b]].end());
    std::sort(room.begin(), room.end());
    std::vector<int> roomiest = align_rows(pick(room, sl), sl);
    auto as_set = [](std::vector<int> v) {
      std::sort(v.begin(), v.end());
      return v;
    };
    if (as_set(roomiest) != as_set(out.front())) out.push_back(std::move(roomiest));
    return out;
  }

  // The preferred set among devices with room, or among all free devices when too few have it.
  std::vector<int> best_effort(const Slice& sl) const {
    const std::vector<int> free = whole_blocks(free_devices(sl), sl.tp), room = with_room(sl, free_devices(sl));
    if (static_cast<int>(free.size()) < sl.n) {  // too few whole TP groups in nodes: groups across nodes, the last resort
      std::vector<int> any = free_devices(sl);
      any.resize(static_cast<size_t>(sl.n));
      return align_rows(any, sl);
    }
    return align_rows(pick(static_cast<int>(room.size()) >= sl.n ? room : free, sl), sl);
  }

  // The latest slice before k that placed work on a device free at slice k's start but
  // without room for it, and that has not tried its alternative yet; -1 when none.
  int culprit(size_t k, const std::vector<int>& choice) const {
    const Slice& sl = *slices_[k];
    std::set<int> full;
    for (int d : free_devices(sl))
      if (!fits(d, sl)) full.insert(d);
    for (size_t i = k; i-- > 0;) {
      if (choice[i] > 0) continue;
      for (int d : slices_[i]->devices)
        if (full.count(d)) return static_cast<int>(i);
    }
    return -1;
  }

  // Forgets every placement (the caller replays those before `from`) and clears the devices
  // of slices from position `from` on.
  void reset(size_t from) {
    std::fill(free_at_.begin(), free_at_.end(), 0.0);
    std::fill(mem_.begin(), mem_.end(), 0.0);
    for (auto& h : held_) h.clear();
    group_.clear();
    std::fill(last_.begin(), last_.end(), nullptr);
    for (size_t i = from; i < slices_.size(); ++i) slices_[i]->devices.clear();
  }

  // What a device keeps for weight set w: its sync group is the devices holding it so far
  // (`members` of them), and at least the largest slice of the layer, so this only shrinks
  // as placement goes on (ZeRO-1 shards over the group).
  // Under TP a device holds one shard (1 / tp of the weights), synced over the devices
  // holding the same shard (members / tp).
  double state_bytes(const Operator& op, size_t members, int tp) const {
    const int group = std::max(static_cast<int>(members) / tp, min_group_.at(op.weights));
    return weight_state_bytes(static_cast<double>(op.cost.params) / tp, group, zero1_,
                              tasks_of_.at(op.weight_set) > 1, storage_);
  }

  size_t members(const std::string& w) const {
    auto it = group_.find(w);
    return it == group_.end() ? 0 : it->second.size();
  }

  // New memory a device takes on by running `sl` (weights it does not hold yet, activations).
  double need(int d, const Slice& sl) const {
    const MetaOp& m = mg_.metaops[static_cast<size_t>(sl.metaop)];
    double bytes = 0;
    for (int l = sl.first_layer; l < sl.last_layer; ++l) {
      const Operator& op = g_.op(m.ops[static_cast<size_t>(l)]);
      if (!op.weights.empty() && !held_[static_cast<size_t>(d)].count(op.weights))
        bytes += state_bytes(op, members(op.weights) + 1, sl.tp);
      bytes += stored_activation_bytes(op, sl, storage_);
    }
    return bytes;
  }

  // Bytes of the slice's inputs already on device d, plus weights it would not need to fetch.
  double affinity(int d, const Slice& sl) const {
    const MetaOp& m = mg_.metaops[static_cast<size_t>(sl.metaop)];
    double bytes = 0;
    auto rows_on = [&](const Slice* prev) {
      if (prev == nullptr) return 0;
      for (int k = 0; k < prev->n; ++k)
        if (prev->devices[static_cast<size_t>(k)] == d) {
          auto [r0, r1] = device_rows(static_cast<int>(m.shape.batch), *prev, k);
          return r1 - r0;
        }
      return 0;
    };
    if (sl.first_layer > 0) {
      bytes += rows_on(last_[static_cast<size_t>(m.id)]) * out_bytes_per_sample(s_, g_, m, sl.first_layer - 1);
    } else {
      for (int p : m.preds) {
        const MetaOp& pm = mg_.metaops[static_cast<size_t>(p)];
        bytes += rows_on(last_[static_cast<size_t>(p)]) * out_bytes_per_sample(s_, g_, pm, pm.L - 1);
      }
    }
    for (int l = sl.first_layer; l < sl.last_layer; ++l) {
      const Operator& op = g_.op(m.ops[static_cast<size_t>(l)]);
      if (!op.weights.empty() && held_[static_cast<size_t>(d)].count(op.weights))
        bytes += 0.25 * 2.0 * static_cast<double>(op.cost.params);  // shared weights stay put
    }
    return bytes;
  }

  // Higher affinity first; among equals, the device with the least memory in use.
  bool preferred(int a, int b, const Slice& sl) const {
    const double x = affinity(a, sl), y = affinity(b, sl);
    if (x != y) return x > y;
    return mem_[static_cast<size_t>(a)] < mem_[static_cast<size_t>(b)];
  }

  void commit(Slice& sl, const std::vector<int>& chosen) {
    const MetaOp& m = mg_.metaops[static_cast<size_t>(sl.metaop)];
    for (int l = sl.first_layer; l < sl.last_layer; ++l) {
      const Operator& op = g_.op(m.ops[static_cast<size_t>(l)]);
      for (int d : chosen) mem_[static_cast<size_t>(d)] += stored_activation_bytes(op, sl, storage_);
      if (op.weights.empty()) continue;
      std::vector<int>& group = group_[op.weights];
      const double before = group.empty() ? 0.0 : state_bytes(op, group.size(), sl.tp);
      const size_t old_members = group.size();
      for (int d : chosen)
        if (held_[static_cast<size_t>(d)].insert(op.weights).second) group.push_back(d);
      const double after = state_bytes(op, group.size(), sl.tp);
      for (size_t i = 0; i < group.size(); ++i)
        mem_[static_cast<size_t>(group[i])] += i < old_members ? after - before : after;
    }
    for (int d : chosen) free_at_[static_cast<size_t>(d)] = sl.end_s;
    sl.devices = chosen;
    last_[static_cast<size_t>(sl.metaop)] = &sl;
  }

  // Where the slice's input rows come from: its MetaOp's previous slice, or for a first slice
  // the predecessor sending the most bytes.
  const Slice* source(const Slice& sl) const {
    const MetaOp& m = mg_.metaops[static_cast<size_t>(sl.metaop)];
    if (sl.first_layer > 0) return last_[static_cast<size_t>(m.id)];
    const Slice* best = nullptr;
    double best_bytes = 0;
    for (int p : m.preds) {
      const MetaOp& pm = mg_.metaops[static_cast<size_t>(p)];
      const double bytes = out_bytes_per_sample(s_, g_, pm, pm.L - 1);
      if (last_[static_cast<size_t>(p)] != nullptr && bytes > best_bytes) {
        best_bytes = bytes;
        best = last_[static_cast<size_t>(p)];
      }
    }
    return best;
  }

  // Orders `chosen` so that each position's rows are, where possible, on the device (or at
  // least the node) that holds the middle of those rows in the source slice.
  // Under TP the unit is a TP group (an aligned block, kept in id order), matched by its
  // group's rows.
  std::vector<int> align_rows(const std::vector<int>& chosen, const Slice& sl) const {
    const int t = sl.tp, dp = sl.dp();
    // One unit per TP group: `chosen` holds whole groups, one after another.
    std::vector<std::vector<int>> units;
    for (size_t i = 0; i + static_cast<size_t>(t) <= chosen.size(); i += static_cast<size_t>(t))
      units.emplace_back(chosen.begin() + static_cast<std::ptrdiff_t>(i), chosen.begin() + static_cast<std::ptrdiff_t>(i) + t);
    if (static_cast<int>(units.size()) != dp)
      throw InternalError("placement: " + std::to_string(chosen.size()) + " devices for " + std::to_string(dp) +
                          " TP groups of " + std::to_string(t));
    const Slice* src = source(sl);
    if (src == nullptr) return chosen;
    const int batch = static_cast<int>(mg_.metaops[static_cast<size_t>(sl.metaop)].shape.batch);
    std::vector<int> holder(static_cast<size_t>(dp));
    for (int j = 0; j < dp; ++j) {
      auto [r0, r1] = slice_rows(batch, dp, j);
      const int mid = (r0 + r1 - 1) / 2;
      const int g = std::min(src->dp() - 1, mid / (batch / src->dp()));
      holder[static_cast<size_t>(j)] = src->devices[static_cast<size_t>(g * src->tp)];
    }
    std::vector<int> out(static_cast<size_t>(dp), -1);  // unit index per group position
    std::vector<bool> used(units.size(), false);
    auto take = [&](auto match) {
      for (int j = 0; j < dp; ++j) {
        if (out[static_cast<size_t>(j)] >= 0) continue;
        for (size_t i = 0; i < units.size(); ++i)
          if (!used[i] && match(units[i], holder[static_cast<size_t>(j)])) {
            out[static_cast<size_t>(j)] = static_cast<int>(i);
            used[i] = true;
            break;
          }
      }
    };
    take([](const std::vector<int>& u, int h) { return std::find(u.begin(), u.end(), h) != u.end(); });
    take([&](const std::vector<int>& u, int h) { return u.front() / gpn_ == h / gpn_; });
    take([](const std::vector<int>&, int) { return true; });
    std::vector<int> devices;
    for (int i : out) devices.insert(devices.end(), units[static_cast<size_t>(i)].begin(), units[static_cast<size_t>(i)].end());
    return devices;
  }

  // n devices from `pool`: inside the best node when one node can hold the slice, otherwise
  // whole nodes first (those with most free devices), each by affinity.
  std::vector<int> pick(const std::vector<int>& pool, const Slice& sl) const {
    if (sl.tp > 1) return pick_groups(pool, sl);
    std::map<int, std::vector<int>> by_node;
    for (int d : pool) by_node[d / gpn_].push_back(d);
    auto ranked = [&](std::vector<int> v) {
      std::stable_sort(v.begin(), v.end(), [&](int a, int b) { return preferred(a, b, sl); });
      return v;
    };
    if (sl.n <= gpn_) {
      int best_node = -1;
      double best_score = 0, best_mem = 0;
      std::vector<int> best;
      for (auto& [node, devs] : by_node) {  // most affinity, then least memory in use
        if (static_cast<int>(devs.size()) < sl.n) continue;
        std::vector<int> top = ranked(devs);
        top.resize(static_cast<size_t>(sl.n));
        double score = 0, mem = 0;
        for (int d : top) {
          score += affinity(d, sl);
          mem += mem_[static_cast<size_t>(d)];
        }
        if (best_node < 0 || score > best_score + 1e-9 || (score >= best_score - 1e-9 && mem < best_mem)) {
          best_node = node;
          best_score = score;
          best_mem = mem;
          best = top;
        }
      }
      if (best_node >= 0) return best;
    }
    // Fewest nodes: those with most free devices first; among equals, most affinity.
    std::vector<std::pair<int, std::vector<int>>> nodes(by_node.begin(), by_node.end());
    std::map<int, double> node_affinity;
    for (auto& [node, devs] : nodes)
      for (int d : devs) node_affinity[node] += affinity(d, sl);
    std::stable_sort(nodes.begin(), nodes.end(), [&](auto& a, auto& b) {
      if (a.second.size() != b.second.size()) return a.second.size() > b.second.size();
      return node_affinity[a.first] > node_affinity[b.first];
    });
    std::vector<int> out;
    for (auto& [node, devs] : nodes)
      for (int d : ranked(devs))
        if (static_cast<int>(out.size()) < sl.n) out.push_back(d);
    return out;
  }

  // pick() for a TP slice: dp whole TP groups (aligned blocks of `pool`), ranked by their
  // devices' summed affinity, then least memory in use; inside one node when one can hold them,
  // else the nodes with most free groups first.
  std::vector<int> pick_groups(const std::vector<int>& pool, const Slice& sl) const {
    const int t = sl.tp, dp = sl.dp();
    std::vector<int> sorted = pool;
    std::sort(sorted.begin(), sorted.end());
    const std::vector<std::vector<int>> groups = tp_groups(sorted, t);
    std::map<int, double> score, mem;         // per group index
    std::map<int, std::vector<int>> by_node;  // node -> its whole groups
    for (size_t i = 0; i < groups.size(); ++i) {
      const int gi = static_cast<int>(i);
      for (int d : groups[i]) {
        score[gi] += affinity(d, sl);
        mem[gi] += mem_[static_cast<size_t>(d)];
      }
      by_node[groups[i].front() / gpn_].push_back(gi);
    }
    auto ranked = [&](std::vector<int> v) {
      std::stable_sort(v.begin(), v.end(), [&](int a, int b) {
        if (score[a] != score[b]) return score[a] > score[b];
        return mem[a] < mem[b];
      });
      return v;
    };
    std::vector<int> units;
    if (sl.n <= gpn_) {
      double best_score = 0, best_mem = 0;
      for (auto& [node, firsts] : by_node) {
        if (static_cast<int>(firsts.size()) < dp) continue;
        std::vector<int> top = ranked(firsts);
        top.resize(static_cast<size_t>(dp));
        double sc = 0, me = 0;
        for (int f : top) {
          sc += score[f];
          me += mem[f];
        }
        if (units.empty() || sc > best_score + 1e-9 || (sc >= best_score - 1e-9 && me < best_mem)) {
          best_score = sc;
          best_mem = me;
          units = top;
        }
      }
    }
    if (units.empty()) {
      std::vector<std::pair<int, std::vector<int>>> nodes(by_node.begin(), by_node.end());
      std::map<int, double> node_score;
      for (auto& [node, firsts] : nodes)
        for (int f : firsts) node_score[node] += score[f];
      std::stable_sort(nodes.begin(), nodes.end(), [&](auto& a, auto& b) {
        if (a.second.size() != b.second.size()) return a.second.size() > b.second.size();
        return node_score[a.first] > node_score[b.first];
      });
      for (auto& [node, firsts] : nodes)
        for (int f : ranked(firsts))
          if (static_cast<int>(units.size()) < dp) units.push_back(f);
    }
    std::vector<int> out;
    for (int f : units) out.insert(out.end(), groups[static_cast<size_t>(f)].begin(), groups[static_cast<size_t>(f)].end());
    return out;
  }

  const Scenario& s_;
  const Graph& g_;
  const MetaGraph& mg_;
  PlacementPolicy policy_;
  int gpus_, gpn_;
  double capacity_ = 0;
  Storage storage_;
  bool zero1_ = false;  // the plan's
  std::vector<double> free_at_, mem_;
  std::vector<std::set<std::string>> held_;
  std::vector<const Slice*> last_;
  std::map<std::string, int> tasks_of_;
  std::vector<Slice*> slices_;  // in start order
  std::map<SliceRef, std::set<int>> avoid_;           // nodes a slice should stay off (topology repair)
  std::map<const Slice*, std::set<int>> avoiding_;    // the same, by the slices of the plan being placed
  std::map<std::string, int> min_group_;  // per weight set: its largest slice's devices
  std::map<std::string, std::vector<int>> group_;  // per weight set: the devices holding it so far
};

}  // namespace

const char* placement_name(PlacementPolicy p) { return p == PlacementPolicy::kSpindle ? "spindle" : "sequential"; }

std::pair<int, int> slice_rows(int batch, int n, int k) { return {k * (batch / n), (k + 1) * (batch / n)}; }

std::pair<int, int> device_rows(int batch, const Slice& sl, int k) { return slice_rows(batch, sl.dp(), k / sl.tp); }

std::vector<RowMove> row_moves(int batch, const Slice& a, const Slice& b, bool backward) {
  std::vector<RowMove> out;
  const std::vector<RowOverlap> overlaps = row_overlaps(batch, a, b);
  // Backward, every rank of a TP group holds its rows' gradients whole. Where b continues a's
  // MetaOp, b is the only reader of a's output: a device of b's group that needs rows keeps its
  // own copy, the others get them from b's rank r modulo b's tp. Otherwise a device sums what
  // it sends for several readers in one buffer, so one rank of each of b's groups sends to all
  // of the group's destinations and the others send nothing: the first rank that needs some
  // of the rows itself (a local copy), else rank 0.
  const bool continues = a.metaop == b.metaop;
  std::vector<int> sender;
  if (backward && !continues)
    for (int g = 0; g < b.dp(); ++g) {
      std::set<int> dsts;
      for (const RowOverlap& o : overlaps)
        if (o.to == g)
          for (int r = 0; r < a.tp; ++r) dsts.insert(a.devices[static_cast<size_t>(o.from * a.tp + r)]);
      const auto first = b.devices.begin() + g * b.tp, last = first + b.tp;
      const auto it = std::find_if(first, last, [&](int d) { return dsts.count(d) > 0; });
      sender.push_back(it != last ? *it : *first);
    }
  for (size_t i = 0; i < overlaps.size(); ++i) {
    const RowOverlap& o = overlaps[i];
    const Slice& to = backward ? a : b;
    const Slice& from = backward ? b : a;
    const int to_group = backward ? o.from : o.to, from_group = backward ? o.to : o.from;
    for (int r = 0; r < to.tp; ++r) {
      const int dst = to.devices[static_cast<size_t>(to_group * to.tp + r)];
      const auto first = from.devices.begin() + from_group * from.tp, last = first + from.tp;
      int src = *(first + r % from.tp);
      if (backward && continues) src = std::find(first, last, dst) != last ? dst : src;
      else if (backward) src = sender[static_cast<size_t>(from_group)];
      out.push_back(RowMove{static_cast<int>(i), src, dst, o.first_row, o.rows});
    }
  }
  return out;
}

std::set<int> gradient_senders(int batch, const Slice& a, const Slice& b) {
  std::set<int> out;
  for (const RowMove& mv : row_moves(batch, a, b, true)) out.insert(mv.src);
  return out;
}

std::vector<DataMove> data_moves(int batch, const Slice& a, const Slice& b, int side_of, DeliveredRows& delivered) {
  std::vector<DataMove> out;
  for (bool backward : {false, true})
    for (const RowMove& mv : row_moves(batch, a, b, backward)) {
      // A side input's rows reach a device once; their gradient leaves a device once for each
      // device it goes to, from the first reader there that sends it (a whole slice, or the TP
      // rank row_moves designates: the last to run backward there, so every later reader's
      // contribution is in).
      if (side_of >= 0 &&
          !delivered.insert({side_of, backward ? mv.src : mv.dst, backward ? mv.dst : -1, mv.first_row, mv.rows}).second)
        continue;
      out.push_back(DataMove{mv, backward});
    }
  return out;
}

int weight_tp(const Plan& plan, const Operator& op) {
  const auto layout = plan.tp.find(op.weight_set);
  return tp_splittable(op) && layout != plan.tp.end() ? layout->second : 1;
}

std::pair<int, int> held_shards(const Slice& sl, int k, int t) { return held_shard_range(k % sl.tp, sl.tp, t); }

double stored_activation_bytes(const Operator& op, const Slice& sl, const Storage& storage) {
  return layer_memory(op, 1, ParallelConfig{sl.dp(), sl.tp, false}, 1, false, storage).activations;
}

std::vector<RowOverlap> row_overlaps(int batch, const Slice& a, const Slice& b) {
  std::vector<RowOverlap> out;
  int i = 0, j = 0;
  while (i < a.dp() && j < b.dp()) {
    auto [a0, a1] = slice_rows(batch, a.dp(), i);
    auto [b0, b1] = slice_rows(batch, b.dp(), j);
    const int first = std::max(a0, b0), rows = std::min(a1, b1) - first;
    if (rows > 0) out.push_back(RowOverlap{i, j, first, rows});
    (a1 <= b1 ? i : j)++;
  }
  return out;
}

PlacementReport place(Plan& plan, const Scenario& s, const Graph& g, const MetaGraph& mg, PlacementPolicy policy,
                      bool backtrack) {
  Placer placer(s, g, mg, policy);
  const int backtracks = placer.run(plan, backtrack);
  PlacementReport r = measure_placement(plan, s, g, mg);
  r.backtracks = backtracks;
  if (policy == PlacementPolicy::kSequential) return r;
  // Placements compare by memory first, then the bytes crossing nodes (activations and weight
  // sync), then those inside nodes.
  auto key = [](const PlacementReport& x) {
    return std::make_tuple(x.over_memory_devices > 0, x.transfer_inter_bytes + x.sync_inter_bytes,
                           x.transfer_intra_bytes + x.sync_intra_bytes);
  };
  // Topology repair: the greedy places in start order, so a slice that starts early can take a
  // device of the node a wider slice starting later needed whole. For each needlessly split
  // slice (a few rounds), the slices that blocked its node are asked to stay off it, everything
  // is placed again, and the result is kept when it moves fewer bytes across nodes.
  std::map<SliceRef, std::set<int>> avoid;
  std::set<SliceRef> tried;
  for (int round = 0; round < kTopologyRepairRounds; ++round) {
    const Split* next = nullptr;
    const std::vector<Split> splits = needless_splits(plan, g, mg, s.cluster.gpus_per_node);
    for (const Split& sp : splits)
      if (!tried.count(sp.slice)) {
        next = &sp;
        break;
      }
    if (next == nullptr) break;
    tried.insert(next->slice);
    std::map<SliceRef, std::set<int>> trial_avoid = avoid;
    for (const SliceRef& b : next->blockers) trial_avoid[b].insert(next->node);
    Plan trial = plan;
    placer.set_avoid(trial_avoid);
    const int bt = placer.run(trial, backtrack);
    PlacementReport t = measure_placement(trial, s, g, mg);
    t.backtracks = bt;
    if (key(t) < key(r)) {
      t.topology_repairs = r.topology_repairs + 1;
      plan = std::move(trial);
      r = std::move(t);
      avoid = std::move(trial_avoid);
    }
  }
  // The greedy is a heuristic: where device ids in order fit in memory and move fewer bytes
  // across nodes (then inside nodes), that placement is kept instead, and the report says so.
  Plan in_order = plan;
  Placer(s, g, mg, PlacementPolicy::kSequential).run(in_order, false);
  PlacementReport o = measure_placement(in_order, s, g, mg);
  if (key(o) < key(r)) {
    plan = std::move(in_order);
    o.backtracks = 0;
    o.in_order_kept = true;
    return o;
  }
  return r;
}

bool is_placed(const Plan& plan) {
  return std::all_of(plan.waves.begin(), plan.waves.end(), [](const Wave& w) {
    return std::all_of(w.slices.begin(), w.slices.end(), [](const Slice& sl) { return !sl.devices.empty(); });
  });
}

PlacementReport measure_placement(const Plan& plan, const Scenario& s, const Graph& g, const MetaGraph& mg) {
  const int gpn = s.cluster.gpus_per_node;
  const Storage storage = device_storage(s.cluster.gpu);
  PlacementReport r;
  // Slices of each MetaOp in layer order.
  std::vector<std::vector<const Slice*>> slices(mg.metaops.size());
  for (const Wave& w : plan.waves)
    for (const Slice& sl : w.slices) {
      if (static_cast<int>(sl.devices.size()) != sl.n) throw InternalError("measuring an unplaced plan");
      slices[static_cast<size_t>(sl.metaop)].push_back(&sl);
    }
  for (auto& v : slices)
    std::sort(v.begin(), v.end(), [](const Slice* a, const Slice* b) { return a->first_layer < b->first_layer; });
  // Activations forward and their gradients backward: twice the bytes.
  DeliveredRows delivered;
  auto move = [&](int batch, const Slice& a, const Slice& b, double per_sample, int side_of = -1) {
    for (const DataMove& dm : data_moves(batch, a, b, side_of, delivered)) {
      const RowMove& mv = dm.move;
      const double bytes = mv.rows * per_sample;
      if (mv.src == mv.dst) r.transfer_local_bytes += bytes;
      else if (mv.src / gpn == mv.dst / gpn) r.transfer_intra_bytes += bytes;
      else r.transfer_inter_bytes += bytes;
    }
  };
  for (const MetaOp& m : mg.metaops) {
    const auto& own = slices[static_cast<size_t>(m.id)];
    const int batch = static_cast<int>(m.shape.batch);
    for (size_t k = 1; k < own.size(); ++k) move(batch, *own[k - 1], *own[k], out_bytes_per_sample(s, g, m, own[k]->first_layer - 1));
    for (int p : m.preds) {
      const MetaOp& pm = mg.metaops[static_cast<size_t>(p)];
      const Slice& from = *slices[static_cast<size_t>(p)].back();
      // A side input (cross-attention memory) is read by every slice; a data input by the first.
      const bool side = is_side_input(g, mg, p, m.id);
      const size_t readers = side ? own.size() : 1;
      for (size_t k = 0; k < readers; ++k) move(batch, from, *own[k], out_bytes_per_sample(s, g, pm, pm.L - 1), side ? p : -1);
    }
    if (m.kind == OpKind::kContrastiveLoss) {  // all-gather both embeddings over the loss's devices
      for (const Slice* sl : own) {
        // Forward all-gather and backward reduce-scatter of both embeddings.
        const double bytes = 2.0 * 2.0 * (sl->n - 1) * static_cast<double>(m.shape.batch) *
                             s.cluster.gpu.activation_bytes() * static_cast<double>(m.shape.hidden);
        std::set<int> nodes;
        for (int d : sl->devices) nodes.insert(d / gpn);
        (nodes.size() > 1 ? r.transfer_inter_bytes : r.transfer_intra_bytes) += bytes;
      }
    }
  }
  // Weight groups: every device that ran a layer, for any task; under TP each shard of the
  // layout over the devices holding it, as lowering syncs them.
  std::map<std::pair<std::string, int>, std::set<int>> holders;
  std::map<std::string, const Operator*> weight_op;
  const std::map<std::string, int> tasks_of = tasks_per_weight_set(g);
  for (const MetaOp& m : mg.metaops)
    for (const Slice* sl : slices[static_cast<size_t>(m.id)])
      for (int l = sl->first_layer; l < sl->last_layer; ++l) {
        const Operator& op = g.op(m.ops[static_cast<size_t>(l)]);
        if (op.weights.empty()) continue;
        weight_op[op.weights] = &op;
        for (size_t k = 0; k < sl->devices.size(); ++k) {
          const auto [first, last] = held_shards(*sl, static_cast<int>(k), weight_tp(plan, op));
          for (int j = first; j < last; ++j) holders[{op.weights, j}].insert(sl->devices[k]);
        }
      }
  std::vector<double> mem(static_cast<size_t>(plan.gpus), s.planner.workspace_GiB * kGiB);
  for (const auto& [shard, devs] : holders) {
    const Operator& op = *weight_op[shard.first];
    const double p = static_cast<double>(op.cost.params) / weight_tp(plan, op), ranks = static_cast<double>(devs.size());
    std::set<int> nodes;
    for (int d : devs) nodes.insert(d / gpn);
    // A ring all-reduce of S = 2p bytes (bf16 gradients) moves 2 (ranks - 1) S in all; a ring
    // ordered by node crosses the network once per node, each crossing carrying 2 S (ranks-1)/ranks.
    const double size = 2.0 * p, total = 2.0 * (ranks - 1) * size;
    const double inter = nodes.size() > 1 ? 2.0 * static_cast<double>(nodes.size()) * size * (ranks - 1) / ranks : 0.0;
    r.sync_inter_bytes += inter;
    r.sync_intra_bytes += total - inter;
    const double states = weight_state_bytes(p, static_cast<int>(devs.size()), plan.zero1,
                                             tasks_of.at(op.weight_set) > 1, storage);
    for (int d : devs) mem[static_cast<size_t>(d)] += states;
  }
  for (const MetaOp& m : mg.metaops)
    for (const Slice* sl : slices[static_cast<size_t>(m.id)])
      for (int l = sl->first_layer; l < sl->last_layer; ++l)
        for (int d : sl->devices)
          mem[static_cast<size_t>(d)] += stored_activation_bytes(g.op(m.ops[static_cast<size_t>(l)]), *sl, storage);
  for (double b : mem) {
    r.mem_GiB.push_back(b / kGiB);
    r.peak_mem_GiB = std::max(r.peak_mem_GiB, b / kGiB);
    if (b / kGiB > s.cluster.gpu.memory_GiB()) ++r.over_memory_devices;
  }
  return r;
}

}  // namespace spindle
