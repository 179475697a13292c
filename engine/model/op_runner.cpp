// Operator-level forward and backward (see op_runner.h).
#include "engine/model/op_runner.h"

#include "engine/model/tp_shards.h"
#include "traces/errors.h"

namespace spindle::engine {

namespace {

// A rank holding several shards of a layer computes the replicated tensors' gradients once, with
// the first shard's copies; each held copy must get them (each syncs with its own shard's
// group). Those gradients are swapped for zeros around the backward, then added into every copy.
class ReplicaGrads {
 public:
  ReplicaGrads(Backend& be, WeightStore& ws, const LayerShards& ls) : be_(be), ws_(ws), ls_(ls) {
    if (ls.groups.size() < 2) return;
    const std::string prefix = ls.replicated() + "/";
    auto& params = ws.params();
    for (auto it = params.lower_bound(prefix); it != params.end() && it->first.starts_with(prefix); ++it) {
      const std::string tensor = it->first.substr(prefix.size());
      if (tp_split(tensor) != TpSplit::kReplicated) continue;
      saved_.emplace_back(tensor, it->second.grad);
      it->second.grad = be.alloc(it->second.grad.shape(), it->second.grad.dtype());
    }
  }
  ReplicaGrads(const ReplicaGrads&) = delete;
  ReplicaGrads& operator=(const ReplicaGrads&) = delete;
  // A backward that throws before spread() leaves the gradients as they were.
  ~ReplicaGrads() {
    for (auto& [tensor, saved] : saved_) ws_.at(ls_.replicated() + "/" + tensor).grad = saved;
  }
  void spread() {
    for (auto& [tensor, saved] : saved_) {
      Param& first = ws_.at(ls_.replicated() + "/" + tensor);
      const Tensor contribution = first.grad;
      first.grad = saved;
      for (const std::string& g : ls_.groups) copy_flat(be_, contribution, ws_.grad(g + "/" + tensor), true);
    }
    saved_.clear();
  }

 private:
  Backend& be_;
  WeightStore& ws_;
  const LayerShards& ls_;
  std::vector<std::pair<std::string, Tensor>> saved_;
};

bool is_embedding(const Operator& op) { return op.kind == OpKind::kPatchEmbed || op.kind == OpKind::kTokenEmbed; }

// Rows [first, last) of a host array whose leading dimension is the batch.
template <class T>
std::vector<T> host_rows(const std::vector<T>& v, const Dims& dims, std::int64_t first, std::int64_t last) {
  const std::int64_t per_row = dims.empty() || dims[0] == 0 ? 0 : static_cast<std::int64_t>(v.size()) / dims[0];
  return std::vector<T>(v.begin() + first * per_row, v.begin() + last * per_row);
}

}  // namespace

OpInputs op_inputs(const Graph& g, int id) {
  OpInputs r;
  std::vector<int> embed;
  for (int e : g.in_edges(id)) {
    const Edge& edge = g.edges()[static_cast<size_t>(e)];
    if (edge.side) r.memory.push_back(edge.from);
    else if (is_embedding(g.op(edge.from))) embed.push_back(edge.from);
    else r.sources.push_back(edge.from);
  }
  r.sources.insert(r.sources.end(), embed.begin(), embed.end());  // own tokens after the prefix
  return r;
}

Tensor concat_tokens(Backend& be, const std::vector<Tensor>& parts) {
  if (parts.size() == 1) return parts[0];
  std::int64_t seq = 0;
  for (const Tensor& p : parts) {
    if (p.dim(0) != parts[0].dim(0) || p.dim(2) != parts[0].dim(2))
      throw InternalError("concatenating " + dims_str(p.shape()) + " with " + dims_str(parts[0].shape()));
    seq += p.dim(1);
  }
  Tensor t = be.alloc({parts[0].dim(0), seq, parts[0].dim(2)});
  std::int64_t at = 0;
  for (const Tensor& p : parts) {
    be.copy_tokens(p, 0, t, at, p.dim(1), false);
    at += p.dim(1);
  }
  return t;
}

void split_tokens(Backend& be, const Tensor& d, std::vector<Tensor>& parts, bool accumulate) {
  std::int64_t at = 0;
  for (Tensor& p : parts) {
    be.copy_tokens(d, at, p, 0, p.dim(1), accumulate);
    at += p.dim(1);
  }
}

TaskBatch batch_rows(const TaskBatch& b, const Operator& op, std::int64_t first, std::int64_t last) {
  TaskBatch r;
  if (op.kind == OpKind::kLmHead) {
    r.label_dims = b.label_dims;
    r.label_dims.at(0) = last - first;
    r.labels = host_rows(b.labels, b.label_dims, first, last);
    return r;
  }
  const HostInput& h = b.inputs.at(op.component);
  HostInput& o = r.inputs[op.component];
  o.dims = h.dims;
  o.dims.at(0) = last - first;
  o.features = host_rows(h.features, h.dims, first, last);
  o.ids = host_rows(h.ids, h.dims, first, last);
  return r;
}

Tensor OpRunner::forward(const Operator& op, const RowBlock& rows, const TaskBatch& data, const Tensor& in,
                         const Tensor& mem, OpState& st, const LayerShards* shards) {
  const LayerShards whole = shards ? LayerShards{} : LayerShards::whole(op.weights);
  const LayerShards& ls = shards ? *shards : whole;
  st.in = in;
  st.mem = mem;
  Tensor loss;
  Tensor out;
  switch (op.kind) {
    case OpKind::kPatchEmbed: {
      const HostInput& h = data.inputs.at(op.component);
      st.aux = be_.alloc(h.dims);
      be_.upload(st.aux, h.features);
      out = be_.alloc({rows.rows(), op.shape.seq, op.out_hidden});
      be_.patch_embed_forward(st.aux, ws_.value(op.weights + "/w"), ws_.value(op.weights + "/b"),
                              ws_.value(op.weights + "/pos"), out);
      break;
    }
    case OpKind::kTokenEmbed: {
      const HostInput& h = data.inputs.at(op.component);
      st.aux = be_.alloc(h.dims, DType::kI32);
      be_.upload(st.aux, h.ids);
      out = be_.alloc({rows.rows(), op.shape.seq, op.out_hidden});
      be_.token_embed_forward(st.aux, ws_.value(op.weights + "/table"), out);
      break;
    }
    case OpKind::kEncoderLayer:
    case OpKind::kDecoderLayer: {
      const BlockSpec spec{op.heads, op.causal, op.mlp, !mem.empty()};
      out = block_forward(be_, ws_, ls, spec, in, mem, st.block);
      break;
    }
    case OpKind::kCrossAttention:
      out = resampler_forward(be_, ws_, ls, op.heads, in, st.resampler);
      break;
    case OpKind::kProjectionHead:
      out = projection_head_forward(be_, ws_, op.weights, op.out_seq, in, st.head);
      break;
    case OpKind::kContrastiveLoss: {
      if (in.dim(1) != 2 || in.dim(0) != rows.batch)
        throw InternalError(op.name + ": a contrastive loss reads two pooled embeddings of the whole batch, not " +
                            dims_str(in.shape()));
      Tensor a = be_.alloc({in.dim(0), 1, in.dim(2)}), b = be_.alloc({in.dim(0), 1, in.dim(2)});
      be_.copy_tokens(in, 0, a, 0, 1, false);
      be_.copy_tokens(in, 1, b, 0, 1, false);
      loss = be_.alloc({1}, DType::kF32);
      be_.contrastive_loss_forward(a.reshaped({a.dim(0), a.dim(2)}), b.reshaped({b.dim(0), b.dim(2)}),
                                   1.0f / kContrastiveTemperature, rows.first, rows.last, loss);
      st.aux = a;
      st.labels = b;
      break;
    }
    case OpKind::kLmHead: {
      const std::int64_t n = rows.rows() * op.shape.seq;  // score the input's last op.shape.seq tokens
      st.mem = be_.alloc({rows.rows(), op.shape.seq, op.shape.hidden});
      be_.copy_tokens(in, in.dim(1) - op.shape.seq, st.mem, 0, op.shape.seq, false);
      st.labels = be_.alloc(data.label_dims, DType::kI32);
      be_.upload(st.labels, data.labels);
      st.aux = be_.alloc({n}, DType::kF32);  // each row's log-sum-exp: the logits [n, V] are never kept
      loss = be_.alloc({1}, DType::kF32);
      be_.lm_head_loss_forward(st.mem.reshaped({n, op.shape.hidden}), ws_.value(op.weights + "/table"),
                               st.labels.reshaped({st.labels.numel()}), st.aux, loss);
      break;
    }
  }
  if (!loss.empty()) {
    be_.download(loss, std::span<float>(&st.loss, 1));
    // The kernel's mean is over the block's tokens; the task's is over the batch's.
    if (op.kind == OpKind::kLmHead) st.loss *= static_cast<float>(rows.rows()) / static_cast<float>(rows.batch);
  }
  return out;
}

void OpRunner::backward(const Operator& op, const RowBlock& rows, OpState& st, const Tensor& dout, Tensor& din,
                        Tensor& dmem, const LayerShards* shards) {
  const LayerShards whole = shards ? LayerShards{} : LayerShards::whole(op.weights);
  const LayerShards& ls = shards ? *shards : whole;
  ReplicaGrads replicas(be_, ws_, ls);
  switch (op.kind) {
    case OpKind::kPatchEmbed:
      be_.patch_embed_backward(st.aux, dout, ws_.grad(op.weights + "/w"), ws_.grad(op.weights + "/b"),
                               ws_.grad(op.weights + "/pos"));
      break;
    case OpKind::kTokenEmbed:
      be_.token_embed_backward(st.aux, dout, ws_.grad(op.weights + "/table"));
      break;
    case OpKind::kEncoderLayer:
    case OpKind::kDecoderLayer: {
      const BlockSpec spec{op.heads, op.causal, op.mlp, !st.mem.empty()};
      block_backward(be_, ws_, ls, spec, st.block, dout, din, dmem);
      break;
    }
    case OpKind::kCrossAttention:
      resampler_backward(be_, ws_, ls, op.heads, st.resampler, dout, din);
      break;
    case OpKind::kProjectionHead:
      projection_head_backward(be_, ws_, op.weights, st.head, dout, din);
      break;
    case OpKind::kContrastiveLoss: {
      const Tensor& a = st.aux;
      const Tensor& b = st.labels;
      Tensor da = be_.alloc(a.shape()), db = be_.alloc(b.shape());
      Tensor da2 = da.reshaped({a.dim(0), a.dim(2)}), db2 = db.reshaped({b.dim(0), b.dim(2)});
      be_.contrastive_loss_backward(a.reshaped({a.dim(0), a.dim(2)}), b.reshaped({b.dim(0), b.dim(2)}),
                                    1.0f / kContrastiveTemperature, rows.first, rows.last, 1.0f, da2, db2);
      be_.copy_tokens(da, 0, din, 0, 1, true);
      be_.copy_tokens(db, 0, din, 1, 1, true);
      break;
    }
    case OpKind::kLmHead: {
      const std::int64_t n = rows.rows() * op.shape.seq;
      Tensor dlast = be_.alloc({n, op.shape.hidden});
      be_.lm_head_loss_backward(st.mem.reshaped({n, op.shape.hidden}), ws_.value(op.weights + "/table"),
                                st.labels.reshaped({n}), st.aux,
                                static_cast<float>(rows.rows()) / static_cast<float>(rows.batch), dlast,
                                ws_.grad(op.weights + "/table"));
      be_.copy_tokens(dlast.reshaped({rows.rows(), op.shape.seq, op.shape.hidden}), 0, din, din.dim(1) - op.shape.seq,
                      op.shape.seq, true);
      break;
    }
  }
  replicas.spread();  // the nested shards' replicated gradients (only layers that split have any)
}

}  // namespace spindle::engine
