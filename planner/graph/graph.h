// The computation graph G of a multi-task model: one operator per layer (a transformer block,
// an embedding, a head, a loss) per task, edges as data flows. A component shared by several
// tasks is one set of weights used by several operator chains (Operator::weights).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "planner/config/model_spec.h"

namespace spindle {

enum class OpKind {
  kPatchEmbed,
  kTokenEmbed,
  kEncoderLayer,    // transformer block, bidirectional or causal (CLIP's text tower)
  kDecoderLayer,    // causal transformer block, optionally with cross-attention
  kCrossAttention,  // resampler: learned queries attend to an input
  kProjectionHead,  // pooling + linear map to another width
  kContrastiveLoss, // InfoNCE over the batch of two embeddings
  kLmHead,          // vocabulary projection with cross-entropy
};
const char* op_kind_name(OpKind k);
inline constexpr OpKind kOpKinds[] = {OpKind::kPatchEmbed,      OpKind::kTokenEmbed,     OpKind::kEncoderLayer,
                                      OpKind::kDecoderLayer,    OpKind::kCrossAttention, OpKind::kProjectionHead,
                                      OpKind::kContrastiveLoss, OpKind::kLmHead};
// The kind op_kind_name calls `name`; nullopt for none.
std::optional<OpKind> op_kind_of(const std::string& name);

// The activation an operator works on: its input for layers, heads and losses, its output
// for embeddings (whose input is raw data).
struct Shape {
  std::int64_t batch = 0;
  std::int64_t seq = 0;
  std::int64_t hidden = 0;
  bool operator==(const Shape&) const = default;
  std::string str() const;  // "[8,257,1280]"
};

// Per-operator cost figures, from the analytic formulas of op_costs.h.
struct OpCost {
  double fwd_flops = 0;
  double bwd_flops = 0;
  std::int64_t params = 0;            // of the weights it uses (a tied op reports the shared table)
  int weight_tensors = 0;             // the tensors those parameters are in (engine/model/weight_shapes.h)
  std::int64_t activation_bytes = 0;  // stored from forward for backward (bf16)
};

struct Operator {
  int id = 0;
  std::string name;       // "task/component/layer3"
  OpKind kind = OpKind::kEncoderLayer;
  int task = -1;          // index into Scenario::tasks
  int component = -1;     // index into ModelSpec::components (-1 for a task's loss)
  int layer = -1;         // layer index inside its component (-1 for embeddings, heads, losses)
  std::string weights;    // weight tensor group ("text/embed", "vision/layer3"); "" = none
  std::string weight_set; // the component owning those weights (signature, sync groups)
  Shape shape;
  int heads = 0;
  int ffn = 0;
  Mlp mlp = Mlp::kGelu;
  bool causal = false;
  std::int64_t cross_seq = 0;   // decoder: tokens of the cross-attended memory; resampler: input tokens
  std::int64_t out_hidden = 0;  // width written (differs from shape.hidden for maps)
  std::int64_t out_seq = 0;     // tokens written
  std::int64_t in_features = 0; // patch embedding: features per patch; lm_head/token: vocab
  std::int64_t param_tokens = 0;// tokens of learned position embeddings (embeddings)
  OpCost cost;
};

struct Edge {
  int from = 0;
  int to = 0;
  bool side = false;  // a side input (a decoder's cross-attention memory): a dependency that
                      // does not count towards the degrees that stop contraction
};

class Graph {
 public:
  int add_op(Operator op);  // assigns op.id
  void add_edge(int from, int to, bool side = false);

  const std::vector<Operator>& ops() const { return ops_; }
  const std::vector<Edge>& edges() const { return edges_; }
  const Operator& op(int id) const { return ops_[static_cast<size_t>(id)]; }
  int size() const { return static_cast<int>(ops_.size()); }

  // Edge indices into and out of each operator (built by finalize()).
  const std::vector<int>& in_edges(int v) const { return in_[static_cast<size_t>(v)]; }
  const std::vector<int>& out_edges(int v) const { return out_[static_cast<size_t>(v)]; }
  int data_in_degree(int v) const;   // non-side edges
  int data_out_degree(int v) const;  // non-side edges
  void finalize();

 private:
  std::vector<Operator> ops_;
  std::vector<Edge> edges_;
  std::vector<std::vector<int>> in_, out_;
};

// How many tasks use each weight set (component): more than one means shared weights, whose
// gradients accumulate across tasks in an fp32 buffer.
std::map<std::string, int> tasks_per_weight_set(const Graph& g);

// Two operators may share a MetaOp only when these all match: kind, shape, heads, ffn, MLP,
// causality, cross-attended length, output width/tokens, and the same weight set.
bool same_signature(const Operator& a, const Operator& b);

}  // namespace spindle
