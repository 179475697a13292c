// Graph storage and the contraction signature (see graph.h).
#include "planner/graph/graph.h"

#include <set>

#include "traces/errors.h"

namespace spindle {

const char* op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::kPatchEmbed: return "patch_embed";
    case OpKind::kTokenEmbed: return "token_embed";
    case OpKind::kEncoderLayer: return "encoder_layer";
    case OpKind::kDecoderLayer: return "decoder_layer";
    case OpKind::kCrossAttention: return "cross_attention";
    case OpKind::kProjectionHead: return "projection_head";
    case OpKind::kContrastiveLoss: return "contrastive_loss";
    case OpKind::kLmHead: return "lm_head";
  }
  return "?";
}

std::optional<OpKind> op_kind_of(const std::string& name) {
  for (OpKind k : kOpKinds)
    if (name == op_kind_name(k)) return k;
  return std::nullopt;
}

std::string Shape::str() const {
  return "[" + std::to_string(batch) + "," + std::to_string(seq) + "," + std::to_string(hidden) + "]";
}

int Graph::add_op(Operator op) {
  op.id = static_cast<int>(ops_.size());
  ops_.push_back(std::move(op));
  return ops_.back().id;
}

void Graph::add_edge(int from, int to, bool side) {
  if (from < 0 || to < 0 || from >= size() || to >= size() || from == to)
    throw InternalError("bad graph edge " + std::to_string(from) + " -> " + std::to_string(to));
  edges_.push_back(Edge{from, to, side});
}

void Graph::finalize() {
  in_.assign(ops_.size(), {});
  out_.assign(ops_.size(), {});
  for (size_t i = 0; i < edges_.size(); ++i) {
    out_[static_cast<size_t>(edges_[i].from)].push_back(static_cast<int>(i));
    in_[static_cast<size_t>(edges_[i].to)].push_back(static_cast<int>(i));
  }
}

int Graph::data_in_degree(int v) const {
  int n = 0;
  for (int e : in_edges(v)) n += edges_[static_cast<size_t>(e)].side ? 0 : 1;
  return n;
}

int Graph::data_out_degree(int v) const {
  int n = 0;
  for (int e : out_edges(v)) n += edges_[static_cast<size_t>(e)].side ? 0 : 1;
  return n;
}

std::map<std::string, int> tasks_per_weight_set(const Graph& g) {
  std::map<std::string, std::set<int>> sets;
  for (const Operator& op : g.ops())
    if (!op.weights.empty()) sets[op.weight_set].insert(op.task);
  std::map<std::string, int> out;
  for (const auto& [w, tasks] : sets) out[w] = static_cast<int>(tasks.size());
  return out;
}

bool same_signature(const Operator& a, const Operator& b) {
  return a.kind == b.kind && a.shape == b.shape && a.heads == b.heads && a.ffn == b.ffn &&
         a.mlp == b.mlp && a.causal == b.causal && a.cross_seq == b.cross_seq &&
         a.out_hidden == b.out_hidden && a.out_seq == b.out_seq && a.in_features == b.in_features &&
         a.weight_set == b.weight_set;
}

}  // namespace spindle
