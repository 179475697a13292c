// Lowering: a placed plan becomes one program per device, the single interface the simulator
// and the engine both execute. Forward slices run in planned order, backward in reverse on
// the same devices; between slices, rows move by send/recv (or a local copy); contrastive
// losses all-gather both embeddings first; a slice on TP groups computes layer by layer, each
// layer followed by its activation all-reduces on the TP group (tp-all-reduce: after each
// row-parallel linear forward, for each column-parallel input backward; tensor_parallel.h),
// and its inputs reach every rank of a TP group; weight gradients sync in buckets per device group
// (filled in the order gradients become ready, up to the plan's SyncPolicy cap)
// (under TP per shard: the devices holding the same TP rank of a weight)
// (all-reduce, or reduce-scatter + step on the own shard + all-gather under ZeRO-1), started
// in one global order and waited for before the optimizer step (under ZeRO-1 the updated
// shards are all-gathered after it). Before the step, every device all-reduces its part of the
// squared gradient norm over all devices (clip-norm, one fp32), for global-norm clipping; the
// step then updates the device's weights (memory-bound: its bytes at the GPU's HBM bandwidth).
//
// Execution contract, which the replay checks: sends are asynchronous (an engine posts them
// on a communication stream or thread, or groups them, and never lets them block compute);
// receives block until their data is there; collectives block until every member arrives.
// A gradient's rows may be sent to several devices (every rank of a TP group that needs them)
// and later contributions to them sent again: each send carries what that peer has not had.
// Every rank issues the collectives it takes part in in one global order (the order of
// their global keys), so communicators shared by several collectives never see two orders.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "planner/cost/collective_cost.h"
#include "planner/graph/graph.h"
#include "planner/graph/metagraph.h"
#include "planner/program/shared_list.h"
#include "planner/schedule/plan.h"

namespace spindle {

enum class InstrKind {
  kForward, kBackward, kSend, kRecv, kCopy, kGather, kSyncStart, kSyncWait, kStep, kParamGather, kTpReduce, kClipNorm,
  kGradNorm
};
const char* instr_name(InstrKind k);


// Bytes an AdamW step moves per parameter it updates besides reading its gradient (a step's
// Instr::bytes adds the plan's gradient bytes): it reads the fp32 master and both moments and
// writes the master, the moments and the bf16 working copy: 4 + 8 read, 4 + 8 + 2 written (with
// bf16 gradients 28 in all; fp32 with the weight as its own master, spindle-run's CPU backend:
// 4 + 4 + 8 read, 4 + 8 written, 28 too).
inline constexpr int kOptimizerStepBytesPerParam = 26;
// Bytes the gradient norm reads per parameter it counts: the engine's gradients are fp32.
inline constexpr int kGradNormBytesPerParam = 4;
// Weight tensors one launch of a multi-tensor kernel takes: the step's (4 lists: weights,
// gradients, moments) and the norm's (1 list), as Apex's multi_tensor_apply (which Megatron-LM's
// fused Adam uses) and the engine's CUDA backend (engine/cuda/multi_tensor.h) batch them.
inline constexpr int kStepTensorsPerLaunch = 36;
inline constexpr int kNormTensorsPerLaunch = 110;

// The members of a collective: GPU ids, ascending.
using Group = SharedList<int>;

struct Instr {
  InstrKind kind = InstrKind::kForward;
  int metaop = -1;
  int first_layer = 0, last_layer = 0;  // compute, and what a transfer carries
  int first_row = 0, last_row = 0;      // batch rows
  int peer = -1;                        // send / recv
  int tensor = -1;                      // send / recv / copy: matches a send to its recv
  int channel = 0;                      // send / recv: the pair's queue it goes on (SendMode::kPeerQueue)
  std::int64_t bytes = 0;
  int collective = -1;                  // gather / sync / tp all-reduce: the same id on every member
  Group group;                          // gather / sync / tp all-reduce members, ascending; compute: its TP group (empty: tp 1)
  // Compute: the TP degree t of the layout its weights are sharded by (1: whole). Rank r of a
  // TP group of e devices (r: its place in `group`) holds shards [r t / e, (r + 1) t / e).
  int layout_tp = 1;
  // TP backward compute: the MetaOps whose output gradient this rank computes but drops, as
  // another rank of its group sends it (placement.h gradient_senders), ascending.
  SharedList<int> drops_grad_of;
  bool zero1 = false;                   // sync: reduce-scatter + all-gather instead of all-reduce
  // Step: the parameters it updates; gradient norm: those it counts. In `tensors` weight
  // tensors (the engine's kernels run once per tensor).
  std::int64_t params = 0;
  int tensors = 0;
  SharedList<std::string> weights;      // sync / param gather: the bucket's weight groups, ascending
                                        // (a TP shard's as tp_shard_group names it: "llm/layer3@1of4")
  SharedList<std::pair<int, int>> rows_of;  // gather: each member's batch rows [first, last), group order
  double planned_s = 0;                 // planned start of the compute it belongs to
  // recv / copy: the compute that needs the data (its MetaOp, first layer, backward or not);
  // gather: for_backward marks the reduce-scatter of the gradients after the loss.
  int for_metaop = -1;
  int for_first_layer = -1;
  bool for_backward = false;
};

struct DeviceProgram {
  int device = 0;
  std::vector<Instr> instrs;
  int activation_bytes = 2;  // bytes per activation element in `bytes` (GpuSpec::activation_bytes)
};

struct Programs {
  std::vector<DeviceProgram> devices;
  int activation_bytes = 2;  // bytes per activation element in transfers, gathers and TP all-reduces
  int tensors = 0;
  int collectives = 0;
};

// The collective a collective instruction runs, in the simulator and the estimate alike: a
// weight sync all-reduces (reduce-scatters under ZeRO-1), and so does a TP all-reduce; a
// contrastive gather all-gathers (its backward reduce-scatter moves as much) and so does a
// ZeRO-1 parameter gather.
Collective instr_collective(const Instr& in);

// The shards [first, last) of its layout's degree that `device` holds running compute `in`:
// its place r in the instruction's TP group of e devices (none: r = 0, e = 1) gives
// held_shard_range(r, e, layout_tp) (tensor_parallel.h).
std::pair<int, int> instr_shards(const Instr& in, int device);

// `plan` must be placed (every slice has devices).
Programs lower(const Plan& plan, const Scenario& s, const Graph& g, const MetaGraph& mg);

// Readable text of one device's program.
std::string program_text(const DeviceProgram& p, const Scenario& s, const MetaGraph& mg);
// FNV-1a (64 bits, 16 hex digits) of every device's program_text without the planned times
// (they follow the cost model, a profile or not): what a simulated and a measured trace record
// (otherData "programs") so that compare-run can tell that both ran the same programs (the
// same plan lowered for the same scenario gives the same text).
std::string programs_fingerprint(const Programs& programs, const Scenario& s, const MetaGraph& mg);

// How a replayed send completes, and how receives find their sends:
//  - kBuffered: the send returns once its data is copied out; a receive takes its tensor by id
//    (the CPU launchers' contract: the thread mailbox and MPI_Isend with the tensor as tag).
//  - kPeerQueue: rendezvous per queue, as NCCL's point-to-point runs: each ordered pair of
//    devices has one queue per channel (Instr::channel; a communicator and stream each); a
//    device posts its sends there without waiting, each completes only once the receiver has
//    posted the matching receive, and receives match a queue's sends in order, not by id. The
//    lowering's guarantee that makes this deadlock-free: on every channel, the sender's sends
//    and the receiver's receives come in the same order, so each posted receive meets the head
//    of its queue and the run equals the buffered one.
//  - kBlocking: a send blocks its program until received (MPI_Send of a large message
//    outside a group). Not a contract the programs keep: a device sends a phase's rows
//    before it receives, so two devices that exchange rows would wait for each other.
enum class SendMode { kBuffered, kPeerQueue, kBlocking };

// The first problem found replaying `programs` in program order (sends as `mode` says,
// blocking receives and collectives, weight sync started without blocking), or "" when every
// device finishes.
std::string replay(const Programs& programs, SendMode mode = SendMode::kBuffered);

}  // namespace spindle
