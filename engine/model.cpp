// Operator-by-operator execution of the graph (see model.h).
#include "engine/model.h"

#include <map>
#include <memory>

#include "engine/layers/projection_head.h"
#include "engine/layers/resampler.h"
#include "engine/layers/transformer_block.h"
#include "traces/errors.h"

namespace spindle::engine {
namespace {

bool is_embedding(const Operator& op) { return op.kind == OpKind::kPatchEmbed || op.kind == OpKind::kTokenEmbed; }

// What one operator kept from forward for backward.
struct OpState {
  Tensor out, dout;           // output and the gradient its consumers add into
  std::vector<int> sources;   // data inputs, in concatenation order
  std::vector<int> memory;    // cross-attention memory sources
  Tensor in, mem, aux, loss;  // assembled input and memory; raw data, labels or probabilities
  Tensor labels;
  BlockCtx block;
  ResamplerCtx resampler;
  HeadCtx head;
};

}  // namespace

Model::Model(const Scenario& s, const Graph& g, Backend& backend, std::uint64_t seed)
    : s_(s), g_(g), be_(backend), weights_(s, g, backend, seed), task_ops_(s.tasks.size()) {
  for (const Operator& op : g.ops()) task_ops_[static_cast<size_t>(op.task)].push_back(op.id);
}

float Model::train_task(int task, const TaskBatch& batch) { return run(task, batch, true); }
float Model::eval_task(int task, const TaskBatch& batch) { return run(task, batch, false); }

float Model::run(int task, const TaskBatch& batch, bool backward) {
  std::map<int, OpState> st;
  // Concatenate the outputs of `ids` along tokens (one source: its own tensor).
  auto gather = [&](const std::vector<int>& ids) {
    if (ids.size() == 1) return st.at(ids[0]).out;
    const Tensor& first = st.at(ids[0]).out;
    std::int64_t seq = 0;
    for (int id : ids) {
      const Tensor& o = st.at(id).out;
      if (o.dim(2) != first.dim(2))
        throw InputError(s_.file + ": " + g_.op(id).name + " is " + std::to_string(o.dim(2)) + " wide but " +
                         g_.op(ids[0]).name + " is " + std::to_string(first.dim(2)) +
                         "; allowed: inputs of one component of equal width");
      seq += o.dim(1);
    }
    Tensor t = be_.alloc({first.dim(0), seq, first.dim(2)});
    std::int64_t at = 0;
    for (int id : ids) {
      const Tensor& o = st.at(id).out;
      be_.copy_tokens(o, 0, t, at, o.dim(1), false);
      at += o.dim(1);
    }
    return t;
  };
  // The gradient of a gathered input, handed back to its sources.
  auto scatter = [&](const std::vector<int>& ids, const Tensor& d) {
    std::int64_t at = 0;
    for (int id : ids) {
      Tensor& dst = st.at(id).dout;
      be_.copy_tokens(d, at, dst, 0, dst.dim(1), true);
      at += dst.dim(1);
    }
  };
  auto grad_for = [&](const std::vector<int>& ids, const Tensor& like) {
    return ids.size() == 1 ? st.at(ids[0]).dout : be_.alloc(like.shape());
  };

  float loss = 0;
  const std::vector<int>& ops = task_ops_[static_cast<size_t>(task)];
  for (int id : ops) {
    const Operator& op = g_.op(id);
    OpState& o = st[id];
    std::vector<int> embed;
    for (int e : g_.in_edges(id)) {
      const Edge& edge = g_.edges()[static_cast<size_t>(e)];
      if (edge.side) o.memory.push_back(edge.from);
      else if (is_embedding(g_.op(edge.from))) embed.push_back(edge.from);
      else o.sources.push_back(edge.from);
    }
    o.sources.insert(o.sources.end(), embed.begin(), embed.end());  // own tokens after the prefix
    if (!o.sources.empty()) o.in = gather(o.sources);
    switch (op.kind) {
      case OpKind::kPatchEmbed: {
        const HostInput& h = batch.inputs.at(op.component);
        o.aux = be_.alloc(h.dims);
        be_.upload(o.aux, h.features);
        o.out = be_.alloc({op.shape.batch, op.shape.seq, op.out_hidden});
        be_.patch_embed_forward(o.aux, weights_.value(op.weights + "/w"), weights_.value(op.weights + "/b"),
                                weights_.value(op.weights + "/pos"), o.out);
        break;
      }
      case OpKind::kTokenEmbed: {
        const HostInput& h = batch.inputs.at(op.component);
        o.aux = be_.alloc(h.dims, DType::kI32);
        be_.upload(o.aux, h.ids);
        o.out = be_.alloc({op.shape.batch, op.shape.seq, op.out_hidden});
        be_.token_embed_forward(o.aux, weights_.value(op.weights + "/table"), o.out);
        break;
      }
      case OpKind::kEncoderLayer:
      case OpKind::kDecoderLayer: {
        const BlockSpec spec{op.heads, op.causal, op.mlp, !o.memory.empty()};
        if (spec.cross) o.mem = gather(o.memory);
        o.out = block_forward(be_, weights_, op.weights, spec, o.in, o.mem, o.block);
        break;
      }
      case OpKind::kCrossAttention:
        o.out = resampler_forward(be_, weights_, op.weights, op.heads, o.in, o.resampler);
        break;
      case OpKind::kProjectionHead:
        o.out = projection_head_forward(be_, weights_, op.weights, op.out_seq, o.in, o.head);
        break;
      case OpKind::kContrastiveLoss: {
        if (o.sources.size() != 2) throw InternalError(op.name + ": a contrastive loss needs two heads");
        const Tensor& a = st.at(o.sources[0]).out;
        const Tensor& b = st.at(o.sources[1]).out;
        if (a.dim(1) != 1 || b.dim(1) != 1)
          throw InputError(s_.file + ": task '" + s_.tasks[static_cast<size_t>(task)].name +
                           "': a contrastive head pools to " + std::to_string(a.dim(1)) +
                           " tokens; allowed: out_tokens = 1 for contrastive heads");
        o.loss = be_.alloc({1});
        be_.contrastive_loss_forward(a.reshaped({a.dim(0), a.dim(2)}), b.reshaped({b.dim(0), b.dim(2)}),
                                     1.0f / kContrastiveTemperature, o.loss);
        break;
      }
      case OpKind::kLmHead: {
        const Tensor& src = o.in;  // [B, S, H]; score its last op.shape.seq tokens
        o.mem = be_.alloc({op.shape.batch, op.shape.seq, op.shape.hidden});
        be_.copy_tokens(src, src.dim(1) - op.shape.seq, o.mem, 0, op.shape.seq, false);
        o.labels = be_.alloc(batch.label_dims, DType::kI32);
        be_.upload(o.labels, batch.labels);
        o.aux = be_.alloc({op.shape.batch * op.shape.seq, op.in_features});
        o.loss = be_.alloc({1});
        be_.lm_head_loss_forward(o.mem.reshaped({op.shape.batch * op.shape.seq, op.shape.hidden}),
                                 weights_.value(op.weights + "/table"), o.labels.reshaped({o.labels.numel()}), o.aux,
                                 o.loss);
        break;
      }
    }
    if (!o.loss.empty()) {
      float l = 0;
      be_.download(o.loss, std::span<float>(&l, 1));
      loss += l;
    }
    if (!o.out.empty()) o.dout = be_.alloc(o.out.shape());
  }
  if (!backward) return loss;

  for (auto it = ops.rbegin(); it != ops.rend(); ++it) {
    const Operator& op = g_.op(*it);
    OpState& o = st.at(*it);
    Tensor din = o.sources.empty() ? Tensor() : grad_for(o.sources, o.in);
    switch (op.kind) {
      case OpKind::kPatchEmbed:
        be_.patch_embed_backward(o.aux, o.dout, weights_.grad(op.weights + "/w"), weights_.grad(op.weights + "/b"),
                                 weights_.grad(op.weights + "/pos"));
        break;
      case OpKind::kTokenEmbed:
        be_.token_embed_backward(o.aux, o.dout, weights_.grad(op.weights + "/table"));
        break;
      case OpKind::kEncoderLayer:
      case OpKind::kDecoderLayer: {
        const BlockSpec spec{op.heads, op.causal, op.mlp, !o.memory.empty()};
        Tensor dmem = spec.cross ? grad_for(o.memory, o.mem) : Tensor();
        block_backward(be_, weights_, op.weights, spec, o.block, o.dout, din, dmem);
        if (spec.cross && o.memory.size() > 1) scatter(o.memory, dmem);
        break;
      }
      case OpKind::kCrossAttention:
        resampler_backward(be_, weights_, op.weights, op.heads, o.resampler, o.dout, din);
        break;
      case OpKind::kProjectionHead:
        projection_head_backward(be_, weights_, op.weights, o.head, o.dout, din);
        break;
      case OpKind::kContrastiveLoss: {
        const Tensor& a = st.at(o.sources[0]).out;
        const Tensor& b = st.at(o.sources[1]).out;
        Tensor da = st.at(o.sources[0]).dout.reshaped({a.dim(0), a.dim(2)});
        Tensor db = st.at(o.sources[1]).dout.reshaped({b.dim(0), b.dim(2)});
        be_.contrastive_loss_backward(a.reshaped({a.dim(0), a.dim(2)}), b.reshaped({b.dim(0), b.dim(2)}),
                                      1.0f / kContrastiveTemperature, 1.0f, da, db);
        continue;  // wrote into its sources' gradients directly
      }
      case OpKind::kLmHead: {
        const std::int64_t n = op.shape.batch * op.shape.seq;
        Tensor dlast = be_.alloc({n, op.shape.hidden});
        be_.lm_head_loss_backward(o.mem.reshaped({n, op.shape.hidden}), weights_.value(op.weights + "/table"),
                                  o.labels.reshaped({n}), o.aux, 1.0f, dlast, weights_.grad(op.weights + "/table"));
        be_.copy_tokens(dlast.reshaped({op.shape.batch, op.shape.seq, op.shape.hidden}), 0, din,
                        din.dim(1) - op.shape.seq, op.shape.seq, true);
        break;
      }
    }
    if (o.sources.size() > 1) scatter(o.sources, din);
  }
  return loss;
}

}  // namespace spindle::engine
