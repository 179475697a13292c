// Operator-by-operator execution of the graph (see model.h).
#include "engine/model/model.h"

#include <map>

#include "engine/model/op_runner.h"
#include "traces/errors.h"

namespace spindle::engine {

Model::Model(const Scenario& s, const Graph& g, Backend& backend, std::uint64_t seed)
    : s_(s), g_(g), be_(backend), weights_(s, g, backend, seed), task_ops_(s.tasks.size()) {
  for (const Operator& op : g.ops()) task_ops_[static_cast<size_t>(op.task)].push_back(op.id);
}

float Model::train_task(int task, const TaskBatch& batch) {
  struct Done {  // one operator: its wiring, what it kept, its output and the gradient of that
    OpInputs inputs;
    OpState state;
    Tensor out, dout;
  };
  std::map<int, Done> st;
  OpRunner runner(be_, weights_);
  const RowBlock all{0, s_.tasks[static_cast<size_t>(task)].batch, s_.tasks[static_cast<size_t>(task)].batch};
  auto outputs = [&](const std::vector<int>& ids, bool grads) {
    std::vector<Tensor> v;
    for (int id : ids) v.push_back(grads ? st.at(id).dout : st.at(id).out);
    return v;
  };
  // The concatenated outputs of `ids`, checked to be of one width.
  auto gather = [&](const std::vector<int>& ids) {
    if (ids.empty()) return Tensor();
    for (int id : ids)
      if (st.at(id).out.dim(2) != st.at(ids[0]).out.dim(2))
        throw InputError(s_.file + ": " + g_.op(id).name + " is " + std::to_string(st.at(id).out.dim(2)) +
                         " wide but " + g_.op(ids[0]).name + " is " + std::to_string(st.at(ids[0]).out.dim(2)) +
                         "; allowed: inputs of one component of equal width");
    return concat_tokens(be_, outputs(ids, false));
  };
  // The gradient of a concatenated input: its one source's own, or a buffer split afterwards.
  auto grad_for = [&](const std::vector<int>& ids, const Tensor& like) {
    if (ids.empty()) return Tensor();
    return ids.size() == 1 ? st.at(ids[0]).dout : be_.alloc(like.shape());
  };
  auto hand_back = [&](const std::vector<int>& ids, const Tensor& d) {
    if (ids.size() < 2) return;
    std::vector<Tensor> parts = outputs(ids, true);
    split_tokens(be_, d, parts, true);
  };

  float loss = 0;
  const std::vector<int>& ops = task_ops_[static_cast<size_t>(task)];
  for (int id : ops) {
    const Operator& op = g_.op(id);
    Done& o = st[id];
    o.inputs = op_inputs(g_, id);
    o.out = runner.forward(op, all, batch, gather(o.inputs.sources), gather(o.inputs.memory), o.state);
    loss += o.state.loss;
    if (!o.out.empty()) o.dout = be_.alloc(o.out.shape());
  }

  for (auto it = ops.rbegin(); it != ops.rend(); ++it) {
    const Operator& op = g_.op(*it);
    Done& o = st.at(*it);
    Tensor din = grad_for(o.inputs.sources, o.state.in);
    Tensor dmem = grad_for(o.inputs.memory, o.state.mem);
    runner.backward(op, all, o.state, o.dout, din, dmem);
    hand_back(o.inputs.sources, din);
    hand_back(o.inputs.memory, dmem);
  }
  return loss;
}

}  // namespace spindle::engine
