// Greedy placement in order of planned start, and the traffic / memory accounting of a placed
// plan (see placement.h). Placing in start order can always succeed: a device free at a
// slice's start stays free for the whole slice, since every slice placed later starts later.
#include "planner/placement.h"

#include <algorithm>
#include <map>
#include <set>

#include "planner/memory_model.h"
#include "traces/errors.h"

namespace spindle {
namespace {

struct SliceRef {
  size_t wave = 0, slice = 0;
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

// Bytes per sample of what a MetaOp's operator `layer` writes (its output activation, bf16).
double out_bytes_per_sample(const Graph& g, const MetaOp& m, int layer) {
  const Operator& op = g.op(m.ops[static_cast<size_t>(layer)]);
  return 2.0 * static_cast<double>(op.out_seq) * static_cast<double>(op.out_hidden);
}

class Placer {
 public:
  Placer(const Scenario& s, const Graph& g, const MetaGraph& mg, PlacementPolicy policy)
      : s_(s), g_(g), mg_(mg), policy_(policy), gpus_(s.cluster.gpus()), gpn_(s.cluster.gpus_per_node),
        free_at_(static_cast<size_t>(gpus_), 0.0), mem_(static_cast<size_t>(gpus_), 0.0),
        held_(static_cast<size_t>(gpus_)), last_(mg.metaops.size(), nullptr), tasks_of_(tasks_per_weight_set(g)) {
    capacity_ = (s.cluster.gpu.memory_GiB() - s.planner.workspace_GiB) * kGiB;
  }

  void run(Plan& plan) {
    for (const SliceRef& r : in_start_order(plan)) place(plan.waves[r.wave].slices[r.slice]);
  }

 private:
  // New memory a device takes on by running `sl` (weights it does not hold yet, activations).
  double need(int d, const Slice& sl) const {
    const MetaOp& m = mg_.metaops[static_cast<size_t>(sl.metaop)];
    double bytes = 0;
    for (int l = sl.first_layer; l < sl.last_layer; ++l) {
      const Operator& op = g_.op(m.ops[static_cast<size_t>(l)]);
      if (!op.weights.empty() && !held_[static_cast<size_t>(d)].count(op.weights))
        bytes += (16.0 + (tasks_of_.at(op.weight_set) > 1 ? 4.0 : 0.0)) * static_cast<double>(op.cost.params);
      bytes += static_cast<double>(op.cost.activation_bytes) / sl.n;
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
          auto [r0, r1] = slice_rows(static_cast<int>(m.shape.batch), prev->n, k);
          return r1 - r0;
        }
      return 0;
    };
    if (sl.first_layer > 0) {
      bytes += rows_on(last_[static_cast<size_t>(m.id)]) * out_bytes_per_sample(g_, m, sl.first_layer - 1);
    } else {
      for (int p : m.preds) {
        const MetaOp& pm = mg_.metaops[static_cast<size_t>(p)];
        bytes += rows_on(last_[static_cast<size_t>(p)]) * out_bytes_per_sample(g_, pm, pm.L - 1);
      }
    }
    for (int l = sl.first_layer; l < sl.last_layer; ++l) {
      const Operator& op = g_.op(m.ops[static_cast<size_t>(l)]);
      if (!op.weights.empty() && held_[static_cast<size_t>(d)].count(op.weights))
        bytes += 0.25 * 2.0 * static_cast<double>(op.cost.params);  // shared weights stay put
    }
    return bytes - 1e-3 * mem_[static_cast<size_t>(d)];  // then the least loaded device
  }

  void place(Slice& sl) {
    std::vector<int> free;
    for (int d = 0; d < gpus_; ++d)
      if (free_at_[static_cast<size_t>(d)] <= sl.start_s + 1e-12) free.push_back(d);
    if (static_cast<int>(free.size()) < sl.n)
      throw InternalError("placement: " + std::to_string(free.size()) + " devices free for a slice of " +
                          std::to_string(sl.n));
    std::vector<int> chosen;
    if (policy_ == PlacementPolicy::kSequential) {
      chosen.assign(free.begin(), free.begin() + sl.n);
    } else {
      std::vector<int> fits;
      for (int d : free)
        if (mem_[static_cast<size_t>(d)] + need(d, sl) <= capacity_) fits.push_back(d);
      const std::vector<int>& pool = static_cast<int>(fits.size()) >= sl.n ? fits : free;
      chosen = pick(pool, sl);
    }
    chosen = align_rows(chosen, sl);
    for (int d : chosen) {
      mem_[static_cast<size_t>(d)] += need(d, sl);
      const MetaOp& m = mg_.metaops[static_cast<size_t>(sl.metaop)];
      for (int l = sl.first_layer; l < sl.last_layer; ++l) {
        const Operator& op = g_.op(m.ops[static_cast<size_t>(l)]);
        if (!op.weights.empty()) held_[static_cast<size_t>(d)].insert(op.weights);
      }
      free_at_[static_cast<size_t>(d)] = sl.end_s;
    }
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
      const double bytes = out_bytes_per_sample(g_, pm, pm.L - 1);
      if (last_[static_cast<size_t>(p)] != nullptr && bytes > best_bytes) {
        best_bytes = bytes;
        best = last_[static_cast<size_t>(p)];
      }
    }
    return best;
  }

  // Orders `chosen` so that each position's rows are, where possible, on the device (or at
  // least the node) that holds the middle of those rows in the source slice.
  std::vector<int> align_rows(const std::vector<int>& chosen, const Slice& sl) const {
    const Slice* src = source(sl);
    if (src == nullptr) return chosen;
    const int batch = static_cast<int>(mg_.metaops[static_cast<size_t>(sl.metaop)].shape.batch);
    std::vector<int> holder(static_cast<size_t>(sl.n));
    for (int j = 0; j < sl.n; ++j) {
      auto [r0, r1] = slice_rows(batch, sl.n, j);
      const int mid = (r0 + r1 - 1) / 2;
      holder[static_cast<size_t>(j)] = src->devices[static_cast<size_t>(std::min(src->n - 1, mid / (batch / src->n)))];
    }
    std::vector<int> out(static_cast<size_t>(sl.n), -1);
    std::vector<bool> used(chosen.size(), false);
    auto take = [&](auto match) {
      for (int j = 0; j < sl.n; ++j) {
        if (out[static_cast<size_t>(j)] >= 0) continue;
        for (size_t i = 0; i < chosen.size(); ++i)
          if (!used[i] && match(chosen[i], holder[static_cast<size_t>(j)])) {
            out[static_cast<size_t>(j)] = chosen[i];
            used[i] = true;
            break;
          }
      }
    };
    take([](int d, int h) { return d == h; });
    take([&](int d, int h) { return d / gpn_ == h / gpn_; });
    take([](int, int) { return true; });
    return out;
  }

  // n devices from `pool`: inside the best node when one node can hold the slice, otherwise
  // whole nodes first (those with most free devices), each by affinity.
  std::vector<int> pick(const std::vector<int>& pool, const Slice& sl) const {
    std::map<int, std::vector<int>> by_node;
    for (int d : pool) by_node[d / gpn_].push_back(d);
    auto ranked = [&](std::vector<int> v) {
      std::stable_sort(v.begin(), v.end(), [&](int a, int b) { return affinity(a, sl) > affinity(b, sl); });
      return v;
    };
    if (sl.n <= gpn_) {
      int best_node = -1;
      double best_score = 0;
      std::vector<int> best;
      for (auto& [node, devs] : by_node) {
        if (static_cast<int>(devs.size()) < sl.n) continue;
        std::vector<int> top = ranked(devs);
        top.resize(static_cast<size_t>(sl.n));
        double score = 0;
        for (int d : top) score += affinity(d, sl);
        if (best_node < 0 || score > best_score + 1e-9) {
          best_node = node;
          best_score = score;
          best = top;
        }
      }
      if (best_node >= 0) return best;
    }
    std::vector<std::pair<int, std::vector<int>>> nodes(by_node.begin(), by_node.end());
    std::stable_sort(nodes.begin(), nodes.end(), [](auto& a, auto& b) { return a.second.size() > b.second.size(); });
    std::vector<int> out;
    for (auto& [node, devs] : nodes)
      for (int d : ranked(devs))
        if (static_cast<int>(out.size()) < sl.n) out.push_back(d);
    return out;
  }

  const Scenario& s_;
  const Graph& g_;
  const MetaGraph& mg_;
  PlacementPolicy policy_;
  int gpus_, gpn_;
  double capacity_ = 0;
  std::vector<double> free_at_, mem_;
  std::vector<std::set<std::string>> held_;
  std::vector<const Slice*> last_;
  std::map<std::string, int> tasks_of_;
};

}  // namespace

const char* placement_name(PlacementPolicy p) { return p == PlacementPolicy::kSpindle ? "spindle" : "sequential"; }

std::pair<int, int> slice_rows(int batch, int n, int k) { return {k * (batch / n), (k + 1) * (batch / n)}; }

std::vector<RowOverlap> row_overlaps(int batch, const Slice& a, const Slice& b) {
  std::vector<RowOverlap> out;
  int i = 0, j = 0;
  while (i < a.n && j < b.n) {
    auto [a0, a1] = slice_rows(batch, a.n, i);
    auto [b0, b1] = slice_rows(batch, b.n, j);
    const int first = std::max(a0, b0), rows = std::min(a1, b1) - first;
    if (rows > 0) out.push_back(RowOverlap{i, j, first, rows});
    (a1 <= b1 ? i : j)++;
  }
  return out;
}

PlacementReport place(Plan& plan, const Scenario& s, const Graph& g, const MetaGraph& mg, PlacementPolicy policy) {
  Placer(s, g, mg, policy).run(plan);
  return measure_placement(plan, s, g, mg);
}

PlacementReport measure_placement(const Plan& plan, const Scenario& s, const Graph& g, const MetaGraph& mg) {
  const int gpn = s.cluster.gpus_per_node;
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
  std::set<std::tuple<int, int, int, int>> delivered;  // side inputs: once per (producer, device, rows)
  auto move = [&](int batch, const Slice& a, const Slice& b, double per_sample, int side_of = -1) {
    for (const RowOverlap& o : row_overlaps(batch, a, b)) {
      const int from = a.devices[static_cast<size_t>(o.from)], to = b.devices[static_cast<size_t>(o.to)];
      const int rows = o.rows;
      if (side_of >= 0 && !delivered.insert({side_of, to, o.first_row, o.rows}).second) continue;
      const double bytes = 2.0 * rows * per_sample;
      if (from == to) r.transfer_local_bytes += bytes;
      else if (from / gpn == to / gpn) r.transfer_intra_bytes += bytes;
      else r.transfer_inter_bytes += bytes;
    }
  };
  for (const MetaOp& m : mg.metaops) {
    const auto& own = slices[static_cast<size_t>(m.id)];
    const int batch = static_cast<int>(m.shape.batch);
    for (size_t k = 1; k < own.size(); ++k) move(batch, *own[k - 1], *own[k], out_bytes_per_sample(g, m, own[k]->first_layer - 1));
    for (int p : m.preds) {
      const MetaOp& pm = mg.metaops[static_cast<size_t>(p)];
      const Slice& from = *slices[static_cast<size_t>(p)].back();
      // A side input (cross-attention memory) is read by every slice; a data input by the first.
      const bool side = is_side_input(g, mg, p, m.id);
      const size_t readers = side ? own.size() : 1;
      for (size_t k = 0; k < readers; ++k) move(batch, from, *own[k], out_bytes_per_sample(g, pm, pm.L - 1), side ? p : -1);
    }
    if (m.kind == OpKind::kContrastiveLoss) {  // all-gather both embeddings over the loss's devices
      for (const Slice* sl : own) {
        // Forward all-gather and backward reduce-scatter of both embeddings.
        const double bytes = 2.0 * 2.0 * (sl->n - 1) * static_cast<double>(m.shape.batch) * 2.0 * static_cast<double>(m.shape.hidden);
        std::set<int> nodes;
        for (int d : sl->devices) nodes.insert(d / gpn);
        (nodes.size() > 1 ? r.transfer_inter_bytes : r.transfer_intra_bytes) += bytes;
      }
    }
  }
  // Weight groups: every device that ran a layer, for any task.
  std::map<std::string, std::set<int>> group;
  std::map<std::string, const Operator*> weight_op;
  const std::map<std::string, int> tasks_of = tasks_per_weight_set(g);
  for (const MetaOp& m : mg.metaops)
    for (const Slice* sl : slices[static_cast<size_t>(m.id)])
      for (int l = sl->first_layer; l < sl->last_layer; ++l) {
        const Operator& op = g.op(m.ops[static_cast<size_t>(l)]);
        if (op.weights.empty()) continue;
        group[op.weights].insert(sl->devices.begin(), sl->devices.end());
        weight_op[op.weights] = &op;
      }
  std::vector<double> mem(static_cast<size_t>(plan.gpus), s.planner.workspace_GiB * kGiB);
  for (const auto& [w, devs] : group) {
    const Operator& op = *weight_op[w];
    const double p = static_cast<double>(op.cost.params), ranks = static_cast<double>(devs.size());
    std::set<int> nodes;
    for (int d : devs) nodes.insert(d / gpn);
    // A ring all-reduce of S = 2p bytes (bf16 gradients) moves 2 (ranks - 1) S in all; a ring
    // ordered by node crosses the network once per node, each crossing carrying 2 S (ranks-1)/ranks.
    const double size = 2.0 * p, total = 2.0 * (ranks - 1) * size;
    const double inter = nodes.size() > 1 ? 2.0 * static_cast<double>(nodes.size()) * size * (ranks - 1) / ranks : 0.0;
    r.sync_inter_bytes += inter;
    r.sync_intra_bytes += total - inter;
    const double states = 4.0 * p + 12.0 * p / (s.planner.zero1 ? ranks : 1.0) +
                          (tasks_of.at(op.weight_set) > 1 ? 4.0 * p : 0.0);
    for (int d : devs) mem[static_cast<size_t>(d)] += states;
  }
  for (const MetaOp& m : mg.metaops)
    for (const Slice* sl : slices[static_cast<size_t>(m.id)])
      for (int l = sl->first_layer; l < sl->last_layer; ++l)
        for (int d : sl->devices)
          mem[static_cast<size_t>(d)] += static_cast<double>(g.op(m.ops[static_cast<size_t>(l)]).cost.activation_bytes) / sl->n;
  for (double b : mem) {
    r.mem_GiB.push_back(b / kGiB);
    r.peak_mem_GiB = std::max(r.peak_mem_GiB, b / kGiB);
    if (b / kGiB > s.cluster.gpu.memory_GiB()) ++r.over_memory_devices;
  }
  return r;
}

}  // namespace spindle
