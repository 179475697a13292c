// Which operators split, their TP all-reduces and replicated memory (see tensor_parallel.h).
#include "planner/cost/tensor_parallel.h"

#include "planner/cost/collective_cost.h"
#include "planner/cost/collective_flows.h"
#include "planner/cost/collective_table.h"

namespace spindle {

bool tp_splittable(const Operator& op) {
  return op.kind == OpKind::kEncoderLayer || op.kind == OpKind::kDecoderLayer || op.kind == OpKind::kCrossAttention;
}

std::string tp_shard_group(const std::string& weights, int shard, int of) {
  if (of <= 1) return weights;
  return weights + "@" + std::to_string(shard) + "of" + std::to_string(of);
}

std::string tp_unfit(const Operator& op, int tp) {
  if (tp == 1) return "";
  if (!tp_splittable(op)) return std::string(op_kind_name(op.kind)) + " does not split";
  if (op.heads % tp != 0) return std::to_string(op.heads) + " heads do not divide by " + std::to_string(tp);
  if (op.kind == OpKind::kCrossAttention) {
    if (op.out_hidden % tp != 0) return "width " + std::to_string(op.out_hidden) + " does not divide by " + std::to_string(tp);
  } else if (op.ffn % tp != 0) {
    return "ffn " + std::to_string(op.ffn) + " does not divide by " + std::to_string(tp);
  }
  return "";
}

TpReductions tp_reductions(const Operator& op, std::int64_t rows, int tp, int element_bytes) {
  TpReductions r;
  if (tp <= 1 || !tp_splittable(op)) return r;
  const std::int64_t e = element_bytes;
  if (op.kind == OpKind::kCrossAttention) {  // queries -> out_seq x out_hidden; keys/values from the input
    const std::int64_t out = e * rows * op.out_seq * op.out_hidden;
    r.fwd = {out};                                               // output projection
    r.bwd = {out, e * rows * op.shape.seq * op.shape.hidden};  // query input, key/value input
    return r;
  }
  const std::int64_t act = e * rows * op.shape.seq * op.shape.hidden;
  r.fwd.push_back(act);  // self-attention output projection
  r.bwd.push_back(act);  // QKV input
  if (op.cross_seq > 0) {
    r.fwd.push_back(act);                                           // cross-attention output projection
    r.bwd.push_back(act);                                           // cross-attention query input
    r.bwd.push_back(e * rows * op.cross_seq * op.shape.hidden);  // its key/value input: the memory
  }
  r.fwd.push_back(act);  // MLP down projection
  r.bwd.push_back(act);  // MLP up input
  return r;
}

double tp_replicated_activation_bytes(const Operator& op) {
  const double b = static_cast<double>(op.shape.batch), s = static_cast<double>(op.shape.seq),
               h = static_cast<double>(op.shape.hidden);
  if (op.kind == OpKind::kCrossAttention)  // the layer norm of the input and the queries' residual
    return 2 * b * s * h + 2 * b * static_cast<double>(op.out_seq) * static_cast<double>(op.out_hidden);
  if (!tp_splittable(op)) return static_cast<double>(op.cost.activation_bytes);
  return 10 * b * s * h * (op.cross_seq > 0 ? 1.5 : 1.0);  // a cross-attention block adds a norm, residual, mask
}

double tp_allreduce_s(double bytes, int tp, const Cluster& cluster) {
  if (tp <= 1 || bytes <= 0) return 0;
  std::vector<int> group;
  for (int r = 0; r < tp; ++r) group.push_back(r);
  const bool measured = cluster.measured_collectives &&
                        cluster.measured_collectives->lookup(Collective::kAllReduce, tp, 1, tp, bytes).has_value();
  if (measured || cluster.collectives == CollectiveModel::kNccl)
    return nccl_collective_s(Collective::kAllReduce, group, bytes, cluster);
  return collective_time_s(Collective::kAllReduce, CollectiveAlgorithm::kRing, CollectiveGroup{tp, 1}, bytes, cluster);
}

}  // namespace spindle
