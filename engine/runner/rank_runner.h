// One rank of a plan's execution: what one device does with its program (planner/program/
// lowering.h, the same program the simulator replays), its backend, its weights (the groups
// its program computes with), its synthetic data and its communicators. It holds, per MetaOp
// layer output, the span of batch rows its program touches there (computed from the program
// once); it runs forward slices on its rows, moves rows by the program's send/recv
// (a copy is data already in place), all-gathers both embeddings of a contrastive loss and
// computes its rows' share of the loss, whose gradients reduce-scatter back; backward runs in
// the program's reverse order. Gradients of shared weights accumulate across tasks and sync
// in the program's buckets (all-reduce, or under ZeRO-1 reduce-scatter, AdamW on the own shard
// and all-gather of the updated shards): a sync-start posts the bucket's collective to the
// rank's sync thread, which runs it while the rank goes on with its backward; the sync-wait
// waits for it.
//
// Tensor parallelism: a TP slice's compute runs its layers on the weight shards the rank holds
// (model/tp_shards.h; weight groups "llm/layer3@1of4"), all-reducing partial sums over the
// instruction's TP group inside the layer; the program's tp-all-reduce instructions after it
// are matched against those by size. Weight sync runs per shard, as the buckets name them.
// Every rank of a TP group computes the slice's input gradients whole and keeps them only
// where its program sends them (Instr::drops_grad_of); a gradient sent to several devices
// carries to each what that device has not had yet.
//
// Gradient clipping: each rank sums the squares of the gradients it owns (its local weights, a
// bucket's weights on the group's first member, its ZeRO-1 shard); the program's clip-norm
// all-reduce over all ranks gives every rank the same global norm before its step. A launcher
// (engine/launch/) starts the ranks and adds up their loss shares.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/comm/communicator.h"
#include "engine/model/train_options.h"
#include "engine/model/weight_store.h"
#include "planner/program/lowering.h"

namespace spindle::engine {

// What one device did in an iteration, counted from the tensors it touched.
struct DeviceCounters {
  std::int64_t forward_rows = 0;   // sum over operators run forward of their output (or loss) rows
  std::int64_t backward_rows = 0;  // the same for backward
  std::int64_t sent_bytes = 0;     // bytes handed to send, as stored (TrainOptions::activation_dtype)
  std::int64_t sends = 0, recvs = 0;
  std::int64_t recv_bytes = 0;
  std::int64_t gathered_bytes = 0;  // bytes of contrastive gathers contributed (padding excluded)
  std::int64_t tp_reduce_bytes = 0;  // bytes all-reduced inside TP layers
};

// One instruction as it ran: wall seconds from the iteration's start.
struct ExecutedInstr {
  int instr = 0;
  double start_s = 0, end_s = 0;
};

// A device's gradients after sync, before clipping: every held weight by its unsharded name
// (a TP shard's elements at their places in the whole tensor), and the element ranges of each
// that this device holds reduced (all of it, its TP shard, or the ZeRO-1 part of either).
struct GradientSnapshot {
  std::map<std::string, std::vector<float>> grad;
  std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> valid;
};

// The clock of timelines: seconds of a steady clock.
double wall_clock_s();

class RankRunner {
 public:
  // The rank's communicators: `program` carries the program's transfers and collectives,
  // `sync` (a world of its own) the weight-sync buckets on the sync thread.
  struct Comms {
    std::unique_ptr<Communicator> program, sync;
  };
  // Makes them once the rank's backend exists (NCCL needs its device and streams).
  using CommMaker = std::function<Comms(Backend& be)>;
  // `program` is this rank's (its device id is the rank) among `world` ranks. `backend`: a
  // backend_registry.h name.
  RankRunner(const Scenario& s, const Graph& g, const MetaGraph& mg, const DeviceProgram& program, int world,
             const std::string& backend, const TrainOptions& options, const CommMaker& make_comm);
  ~RankRunner();

  // Draws the data of the iteration at `positions` for the rows this device's data-reading
  // operators run, as a data loader has the next batch ready before the step starts; run() at
  // the same positions then takes it instead of drawing it inside its first forwards (the
  // launchers call this before the iteration's clock starts, so traces time the training step).
  void prefetch(const std::vector<std::int64_t>& positions);
  // Runs the program once: iteration `step` (1-based) on the tasks' samples from `positions`;
  // timeline times count from `t0_s` (wall_clock_s). On a failure `abort_all` runs before the
  // exception leaves, so that no other rank (nor this one's sync thread) waits forever.
  void run(std::int64_t step, const std::vector<std::int64_t>& positions, double t0_s, bool keep_gradients,
           const std::function<void()>& abort_all);

  int id() const;
  // Of the last iteration: this rank's share of each task's mean loss, and the global norm.
  const std::vector<double>& loss() const;
  double grad_norm() const;
  const DeviceCounters& counters() const;
  const std::vector<ExecutedInstr>& timeline() const;
  // Bucket (collective id) -> when its collective ran on the sync thread.
  const std::map<int, std::pair<double, double>>& sync_spans() const;
  const GradientSnapshot& gradients() const;  // taken when run() had keep_gradients
  WeightStore& weights();
  const WeightStore& weights() const;
  Backend& backend();
  MemoryUse memory_use() const;  // the backend's allocator, and the communicators' own device memory as buffers
  // The element ranges of each held weight (sharded name) this rank counts among all ranks,
  // each element once (the gradient norm's rule; what a checkpoint shard holds). Buckets are
  // known after the first iteration; before it a bucket's weights count on every member.
  std::vector<std::pair<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>>> counted_elements() const;

  struct State;  // the rank's buffers, buckets and counters (rank_runner.cpp)

 private:
  std::unique_ptr<State> st_;
};

}  // namespace spindle::engine
