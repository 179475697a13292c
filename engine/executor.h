// The executor: runs the per-device programs of a lowered plan (planner/lowering.h), the same
// programs the simulator replays, one logical device per thread with its own backend, weights
// and communicator. Each device holds the weights of the layers it computes and, per MetaOp
// layer output, the batch rows its program gives it (full-batch buffers of which it touches
// only its rows); it runs forward slices on its rows, moves rows by the program's send/recv
// (a copy is data already in place), all-gathers both embeddings of a contrastive loss and
// computes its rows' share of the loss, whose gradients reduce-scatter back; backward runs in
// the program's reverse order. Gradients of shared weights accumulate across tasks and sync
// in the program's buckets (all-reduce, or under ZeRO-1 reduce-scatter, AdamW on the own shard
// and all-gather of the updated shards): a sync-start posts the bucket's collective to the
// device's sync thread, which runs it while the device goes on with its backward; the
// sync-wait waits for it.
//
// Gradient clipping, outside the program: each device sums the squares of the gradients it
// owns (its local weights, a bucket's weights on the group's first member, its ZeRO-1 shard),
// one all-reduce over all devices gives every device the same global norm. Losses: each
// device's share of each task's mean loss; the iteration's task loss is their sum.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/trainer.h"
#include "planner/lowering.h"

namespace spindle::engine {

class ThreadWorld;

// What one device did in an iteration, counted from the tensors it touched.
struct DeviceCounters {
  std::int64_t forward_rows = 0;   // sum over operators run forward of their output (or loss) rows
  std::int64_t backward_rows = 0;  // the same for backward
  std::int64_t sent_bytes = 0;     // fp32 bytes handed to send (the program counts bf16: half)
  std::int64_t sends = 0, recvs = 0;
  std::int64_t recv_bytes = 0;
  std::int64_t gathered_bytes = 0;  // fp32 bytes of contrastive gathers contributed (padding excluded)
};

// One instruction as it ran: wall seconds from the iteration's start.
struct ExecutedInstr {
  int instr = 0;
  double start_s = 0, end_s = 0;
};

// A device's gradients after sync, before clipping: every held weight, and the element
// ranges of each that this device holds reduced (all of it, or its ZeRO-1 shard).
struct GradientSnapshot {
  std::map<std::string, std::vector<float>> grad;
  std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> valid;
};

class Executor {
 public:
  struct Device;  // one logical device's state (executor.cpp)

  // `scenario` is the model as trained (already scaled); `programs` were lowered from a plan of
  // it (checked to complete with lowering's replay). `backend`: a backend_registry.h name.
  Executor(const Scenario& scenario, const Programs& programs, const std::string& backend,
           const TrainOptions& options);
  ~Executor();

  StepResult step();
  std::int64_t steps_done() const { return step_; }
  int devices() const;
  const Scenario& scenario() const { return s_; }
  const Graph& graph() const { return g_; }
  const MetaGraph& metagraph() const { return mg_; }
  const Programs& programs() const { return programs_; }

  // Of the last iteration.
  const DeviceCounters& counters(int device) const;
  const std::vector<ExecutedInstr>& timeline(int device) const;
  // Bucket (collective id) -> when its collective ran on the device's sync thread.
  const std::map<int, std::pair<double, double>>& sync_spans(int device) const;
  double iteration_s() const { return iteration_s_; }
  // Snapshots of the gradients are taken at the next steps when on.
  void keep_gradients(bool on) { keep_gradients_ = on; }
  const GradientSnapshot& gradients(int device) const;
  // The device's weights (the groups its program computes with).
  WeightStore& weights(int device);
  // Parameters of the model (each weight counted once).
  std::int64_t parameters() const;

 private:
  void run_device(Device& d, double t0_s);

  Scenario s_;
  Graph g_;
  MetaGraph mg_;
  Programs programs_;
  TrainOptions opt_;
  std::unique_ptr<ThreadWorld> world_;
  std::unique_ptr<ThreadWorld> sync_world_;  // the sync threads' bucket collectives
  std::vector<std::unique_ptr<Device>> devices_;
  std::vector<std::pair<int, int>> op_key_;  // operator -> (MetaOp, layer in it)
  std::int64_t step_ = 0;
  std::vector<std::int64_t> position_;  // per task: next sample
  bool keep_gradients_ = false;
  std::atomic<bool> failed_ = false;  // a step failed: the communicators stay aborted
  double iteration_s_ = 0;
};

}  // namespace spindle::engine
