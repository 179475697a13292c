// A device's memory from its program (see program_memory.h).
#include "planner/program/program_memory.h"

#include <algorithm>
#include <map>
#include <set>

#include "planner/cost/tensor_parallel.h"
#include "traces/errors.h"

namespace spindle {

MemoryBreakdown program_memory(const DeviceProgram& program, const Graph& g, const MetaGraph& mg,
                               const Storage& storage) {
  const std::map<std::string, int> tasks_of = tasks_per_weight_set(g);
  // ZeRO-1 shards each bucket's optimizer state over its group: weight group -> group size.
  std::map<std::string, int> zero1_group;
  for (const Instr& in : program.instrs)
    if (in.kind == InstrKind::kSyncStart && in.zero1)
      for (const std::string& w : in.weights) zero1_group[w] = static_cast<int>(in.group.size());
  MemoryBreakdown m;
  std::set<std::string> held;  // weight groups (a TP shard's by its shard name), each counted once
  std::map<int, double> kept;  // operator -> bytes its forward keeps until its backward
  double live = 0;
  for (const Instr& in : program.instrs) {
    if (in.kind != InstrKind::kForward && in.kind != InstrKind::kBackward) continue;
    const MetaOp& meta = mg.metaops[static_cast<size_t>(in.metaop)];
    for (int l = in.first_layer; l < in.last_layer; ++l) {
      const int id = meta.ops[static_cast<size_t>(l)];
      const Operator& op = g.op(id);
      const bool split = in.layout_tp > 1 && tp_splittable(op);
      const auto [first, last] = split ? instr_shards(in, program.device) : std::pair<int, int>{0, 1};
      const double share = split ? static_cast<double>(last - first) / in.layout_tp : 1.0;
      if (in.kind == InstrKind::kBackward) {
        auto it = kept.find(id);
        if (it == kept.end())
          throw InternalError("device " + std::to_string(program.device) + ": backward of " + op.name +
                              " before its forward");
        live -= it->second;
        kept.erase(it);
        continue;
      }
      // Weights: each shard (or the whole group) once, however many tasks use it.
      if (!op.weights.empty())
        for (int j = first; j < last; ++j) {
          const std::string group = split ? tp_shard_group(op.weights, j, in.layout_tp) : op.weights;
          if (!held.insert(group).second) continue;
          const double p = static_cast<double>(op.cost.params) / (split ? in.layout_tp : 1);
          const bool shared = tasks_of.at(op.weight_set) > 1;
          m.weights += storage.weight_bytes * p;
          (shared ? m.accumulation : m.grads) += (shared ? storage.shared_grad_bytes : storage.grad_bytes) * p;
          const auto z = zero1_group.find(group);
          m.optimizer += (storage.master_bytes + storage.moment_bytes) * p / (z == zero1_group.end() ? 1 : z->second);
        }
      // Activations: the rows it computes (a contrastive loss keeps the whole batch's), the
      // split part by the shards held.
      const StoredElements act = stored_bytes(op, storage);
      const double rows = op.kind == OpKind::kContrastiveLoss
                              ? 1.0
                              : static_cast<double>(in.last_row - in.first_row) / static_cast<double>(op.shape.batch);
      const double bytes = rows * (split ? act.replicated + (act.total - act.replicated) * share : act.total);
      kept[id] += bytes;
      live += bytes;
      m.activations = std::max(m.activations, live);
    }
  }
  return m;
}

}  // namespace spindle
