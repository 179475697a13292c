// Scenario -> operator graph (see graph_builder.h). Components are visited in the model's
// topological order, so every input's output operator exists before its consumers.
#include "planner/graph/graph_builder.h"

#include <map>

#include "planner/graph/op_costs.h"
#include "traces/errors.h"

namespace spindle {
namespace {

struct Output {
  int op = -1;
  std::int64_t seq = 0;
  std::int64_t hidden = 0;
};

class TaskBuilder {
 public:
  TaskBuilder(const Scenario& s, int task, Graph& g) : s_(s), t_(s.tasks[static_cast<size_t>(task)]), ti_(task), g_(g) {}

  void build() {
    for (int c : t_.components) add_component(c);
    if (t_.loss == LossKind::kContrastive) add_contrastive_loss();
  }

 private:
  const Component& comp(int c) const { return s_.model.components[static_cast<size_t>(c)]; }

  std::vector<Output> present(const std::vector<std::string>& names) const {
    std::vector<Output> out;
    for (const std::string& n : names) {
      auto it = outputs_.find(s_.model.index_of(n));
      if (it != outputs_.end()) out.push_back(it->second);
    }
    return out;
  }

  int add(Operator op) {
    op.task = ti_;
    op.cost = op_cost(op);
    return g_.add_op(std::move(op));
  }

  Operator base(int c, const std::string& part) const {
    Operator op;
    op.component = c;
    op.name = t_.name + "/" + comp(c).name + "/" + part;
    op.weights = comp(c).name + "/" + part;
    op.weight_set = comp(c).name;
    return op;
  }

  void add_component(int c) {
    const Component& cm = comp(c);
    const std::int64_t b = t_.batch;
    std::vector<Output> ins = present(cm.inputs);
    std::int64_t in_seq = 0;
    for (const Output& o : ins) in_seq += o.seq;
    Output out;
    switch (cm.kind) {
      case ComponentKind::kEncoder:
      case ComponentKind::kDecoder: {
        const std::int64_t own = s_.own_tokens(t_, c);
        const std::int64_t seq = own + in_seq;
        int embed = -1;
        if (cm.has_embedding()) {
          Operator op = base(c, "embed");
          op.kind = cm.embedding == Embedding::kPatch ? OpKind::kPatchEmbed : OpKind::kTokenEmbed;
          op.shape = Shape{b, own, cm.hidden};
          op.out_hidden = cm.hidden;
          op.out_seq = own;
          bool owns = cm.tie_embedding.empty();
          const Component& table = owns ? cm : *s_.model.find(cm.tie_embedding);
          if (!owns) {
            op.weights = table.name + "/embed";
            op.weight_set = table.name;
          }
          op.in_features = cm.embedding == Embedding::kPatch ? cm.patch_dim : table.vocab;
          op.param_tokens = cm.embedding == Embedding::kPatch ? cm.tokens : 0;
          embed = add(op);
        }
        std::vector<Output> memory = present(cm.cross_inputs);
        std::int64_t mem_seq = 0;
        for (const Output& o : memory) mem_seq += o.seq;
        int prev = embed;
        for (int l = 0; l < cm.layers; ++l) {
          Operator op = base(c, "layer" + std::to_string(l));
          op.kind = cm.kind == ComponentKind::kEncoder ? OpKind::kEncoderLayer : OpKind::kDecoderLayer;
          op.layer = l;
          op.shape = Shape{b, seq, cm.hidden};
          op.heads = cm.heads;
          op.ffn = cm.ffn;
          op.mlp = cm.mlp;
          op.causal = cm.causal;
          op.cross_seq = mem_seq;
          op.out_hidden = cm.hidden;
          op.out_seq = seq;
          int id = add(op);
          if (l == 0) {
            if (embed >= 0) g_.add_edge(embed, id);
            for (const Output& o : ins) g_.add_edge(o.op, id);
          } else {
            g_.add_edge(prev, id);
          }
          for (const Output& o : memory) g_.add_edge(o.op, id, /*side=*/true);
          prev = id;
        }
        out = Output{prev, cm.layers > 0 ? seq : own, cm.hidden};
        break;
      }
      case ComponentKind::kResampler: {
        Operator op = base(c, "resampler");
        op.kind = OpKind::kCrossAttention;
        op.shape = Shape{b, in_seq, ins.front().hidden};
        op.heads = cm.heads;
        op.out_hidden = cm.hidden;
        op.out_seq = cm.queries;
        out = Output{connect(add(op), ins), cm.queries, cm.hidden};
        break;
      }
      case ComponentKind::kProjection: {
        if (cm.out_tokens > in_seq)
          throw InputError(s_.file + ": task '" + t_.name + "': model.components." + cm.name + ".out_tokens = " +
                           std::to_string(cm.out_tokens) + " but the task feeds it only " + std::to_string(in_seq) +
                           " tokens (see the task's and its inputs' tokens); allowed: out_tokens <= the tokens it reads");
        Operator op = base(c, "head");
        op.kind = OpKind::kProjectionHead;
        op.shape = Shape{b, in_seq, ins.front().hidden};
        op.out_hidden = cm.hidden;
        op.out_seq = cm.out_tokens;
        out = Output{connect(add(op), ins), cm.out_tokens, cm.hidden};
        break;
      }
      case ComponentKind::kLmHead: {
        // The loss covers the decoder's own (text) tokens, not a prefix of other modalities.
        const int src = s_.model.index_of(cm.inputs.front());
        const std::int64_t own = s_.own_tokens(t_, src);
        Operator op = base(c, "head");
        op.kind = OpKind::kLmHead;
        op.shape = Shape{b, own > 0 ? own : ins.front().seq, ins.front().hidden};
        bool owns = cm.tie_embedding.empty();
        const Component& table = owns ? cm : *s_.model.find(cm.tie_embedding);
        if (!owns) {
          op.weights = table.name + "/embed";
          op.weight_set = table.name;
        }
        op.in_features = table.vocab;
        op.out_hidden = table.vocab;
        op.out_seq = op.shape.seq;
        out = Output{connect(add(op), ins), 0, 0};
        break;
      }
    }
    outputs_[c] = out;
  }

  int connect(int id, const std::vector<Output>& ins) {
    for (const Output& o : ins) g_.add_edge(o.op, id);
    return id;
  }

  void add_contrastive_loss() {
    std::vector<Output> heads;
    for (int c : s_.model.sinks(t_.components)) heads.push_back(outputs_.at(c));
    if (heads.size() != 2) throw InternalError("contrastive task '" + t_.name + "' without two heads");
    Operator op;
    op.name = t_.name + "/loss";
    op.kind = OpKind::kContrastiveLoss;
    op.shape = Shape{t_.batch, 2, heads[0].hidden};
    op.out_hidden = 1;
    op.out_seq = 1;
    connect(add(op), heads);
  }

  const Scenario& s_;
  const Task& t_;
  int ti_;
  Graph& g_;
  std::map<int, Output> outputs_;
};

}  // namespace

Graph build_graph(const Scenario& scenario) {
  Graph g;
  for (size_t t = 0; t < scenario.tasks.size(); ++t) TaskBuilder(scenario, static_cast<int>(t), g).build();
  g.finalize();
  return g;
}

}  // namespace spindle
