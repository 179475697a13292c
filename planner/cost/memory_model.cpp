// Byte counts per device (see memory_model.h).
#include "planner/cost/memory_model.h"

#include <algorithm>

#include "planner/cost/tensor_parallel.h"

namespace spindle {

MemoryBreakdown& MemoryBreakdown::operator+=(const MemoryBreakdown& o) {
  weights += o.weights;
  grads += o.grads;
  optimizer += o.optimizer;
  accumulation += o.accumulation;
  activations += o.activations;
  workspace += o.workspace;
  return *this;
}

Storage mixed_precision() { return Storage{"bf16 mixed precision", 2, 2, 4, 4, 8, false, 2}; }
Storage fp32_unfused() { return Storage{"fp32, unfused kernels", 4, 4, 4, 0, 8, true, 4}; }

Storage device_storage(const GpuSpec& gpu) { return gpu.backend == "cpu" ? fp32_unfused() : mixed_precision(); }

StoredElements unfused_activation_elements(const Operator& op) {
  const double b = static_cast<double>(op.shape.batch), s = static_cast<double>(op.shape.seq),
               h = static_cast<double>(op.shape.hidden), f = static_cast<double>(op.ffn),
               a = static_cast<double>(op.heads), os = static_cast<double>(op.out_seq),
               oh = static_cast<double>(op.out_hidden);
  StoredElements e;
  switch (op.kind) {
    case OpKind::kPatchEmbed: e.total = b * s * static_cast<double>(op.in_features); break;  // raw inputs
    case OpKind::kTokenEmbed: e.total = b * s; break;                                          // ids
    case OpKind::kEncoderLayer:
    case OpKind::kDecoderLayer: {
      // Whole: the input, both layer norms' outputs and statistics, the residual after
      // attention. Split: q, k, v, attention's log-sum-exp per query row and head [a, s] (the
      // memory-lean kernels keep no probabilities), mixed heads, the MLP's ffn-wide tensors
      // (GELU: pre-activation and activation; SwiGLU adds the up projection).
      e.replicated = 4 * b * s * h + 4 * b * s;
      double split = 4 * b * s * h + a * s * b + (op.mlp == Mlp::kGelu ? 2 : 3) * b * s * f;
      if (op.cross_seq > 0) {  // its norm's output and statistics, the residual after it; q, k, v over memory
        const double m = static_cast<double>(op.cross_seq);
        e.replicated += 2 * b * s * h + 2 * b * s;
        split += 2 * b * s * h + 2 * b * m * h + a * s * b;
      }
      e.total = e.replicated + split;
      break;
    }
    case OpKind::kCrossAttention:
      // Whole: the input's layer norm (input, output, statistics), the repeated queries. Split:
      // q, k, v, the log-sum-exps [a, out_s], mixed heads.
      e.replicated = 2 * b * s * h + 2 * b * s + b * os * oh;
      e.total = e.replicated + 2 * b * os * oh + 2 * b * s * oh + a * os * b;
      break;
    case OpKind::kProjectionHead: e.total = 2 * b * s * h + 2 * b * s + b * os * h; break;  // norm, pooled
    case OpKind::kContrastiveLoss: e.total = 4 * b * h; break;  // both embeddings, whole batch: the gathered pair and a copy of each
    case OpKind::kLmHead:
      e.total = b * s * h + 2 * b * s;  // scored tokens, labels, each row's log-sum-exp (the logits are not kept)
      break;
  }
  if (e.replicated == 0) e.replicated = e.total;  // what does not split stays whole
  return e;
}

StoredElements stored_bytes(const Operator& op, const Storage& storage) {
  if (!storage.unfused) {
    const double act = static_cast<double>(op.cost.activation_bytes);
    return StoredElements{act, std::min(act, tp_replicated_activation_bytes(op))};
  }
  const StoredElements e = unfused_activation_elements(op);
  return StoredElements{e.total * storage.element_bytes, e.replicated * storage.element_bytes};
}

namespace {
double optimizer_bytes(double params, int sync_group, bool zero1, const Storage& st) {
  // fp32 master + Adam m, v
  return (st.master_bytes + st.moment_bytes) * params / (zero1 && sync_group > 1 ? sync_group : 1);
}
}  // namespace

double weight_state_bytes(double params, int sync_group, bool zero1, bool shared, const Storage& st) {
  return st.weight_bytes * params + (shared ? st.shared_grad_bytes : st.grad_bytes) * params +
         optimizer_bytes(params, sync_group, zero1, st);
}

MemoryBreakdown layer_memory(const Operator& op, int layers, const ParallelConfig& cfg, int sync_group, bool shared,
                             const Storage& st) {
  const double t = cfg.tp > 1 && tp_splittable(op) ? cfg.tp : 1;
  const double p = static_cast<double>(op.cost.params) / t;  // this rank's shard
  const double l = layers;
  MemoryBreakdown m;
  m.weights = l * st.weight_bytes * p;
  m.grads = shared ? 0 : l * st.grad_bytes * p;              // one task's, or ...
  m.accumulation = shared ? l * st.shared_grad_bytes * p : 0;  // ... accumulated across tasks
  m.optimizer = l * optimizer_bytes(p, sync_group, cfg.zero1, st);
  // Scaled to the local batch; under TP the replicated part stays whole, the rest divides.
  const StoredElements act = stored_bytes(op, st);
  const double replicated = t > 1 ? act.replicated : act.total;
  m.activations = l * (replicated + (act.total - replicated) / t) / cfg.dp;
  return m;
}

}  // namespace spindle
