// Device placement (Spindle paper, arXiv 2409.03365): which GPUs run each slice, and each device's batch rows
// (device k of a slice on n = dp x tp devices is in data-parallel group k / tp, which holds
// rows [g B/dp, (g+1) B/dp); TP groups are aligned blocks of tp ids inside a node). Slices are placed in order
// of planned start on devices free for their whole interval. The `spindle` policy prefers one
// node (NVLink island), the devices already holding the slice's input rows (its MetaOp's
// previous slice, its predecessors' outputs), the devices already holding its weights, and the
// devices with the least memory in use; devices that would run out of memory are avoided
// (accepting worse communication), and where too few devices with room are free, placement
// backtracks into earlier slices and moves them to the devices with most room. Where device
// ids in order fit and move fewer bytes across nodes, spindle keeps that instead. `sequential`
// takes the lowest free device ids: the ablation that shows what placement buys.
#pragma once

#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "planner/cost/cost_model.h"
#include "planner/graph/graph.h"
#include "planner/schedule/plan.h"

namespace spindle {

enum class PlacementPolicy { kSpindle, kSequential };
const char* placement_name(PlacementPolicy p);

// What a placed plan moves and holds.
struct PlacementReport {
  double transfer_intra_bytes = 0;  // activations and their gradients between slices, inside nodes
  double transfer_inter_bytes = 0;  // ... across nodes
  double transfer_local_bytes = 0;  // stayed on the same device (no transfer)
  double sync_intra_bytes = 0;      // weight-gradient sync: ring all-reduce over each layer's devices
  double sync_inter_bytes = 0;      //   (ZeRO-1's RS + AG moves the same), the share crossing nodes
  double peak_mem_GiB = 0;          // the fullest device
  std::vector<double> mem_GiB;      // per device
  int over_memory_devices = 0;
  int backtracks = 0;               // re-placements to stay within memory; -1: none found (best effort)
  bool in_order_kept = false;       // spindle policy: device ids in order beat the greedy
  int topology_repairs = 0;         // spindle policy: re-placements kept that kept a slice in one node
};

// Fills every slice's `devices`; returns the traffic and memory of the result. `backtrack`
// false keeps the greedy choice of every slice (to show what backtracking buys).
PlacementReport place(Plan& plan, const Scenario& s, const Graph& g, const MetaGraph& mg, PlacementPolicy policy,
                      bool backtrack = true);

// Whether every slice has its devices.
bool is_placed(const Plan& plan);

// The traffic and memory of an already placed plan (every slice has devices).
PlacementReport measure_placement(const Plan& plan, const Scenario& s, const Graph& g, const MetaGraph& mg);

// Group k's rows of a batch of `batch` samples split over n data-parallel groups: [first, last).
std::pair<int, int> slice_rows(int batch, int n, int k);
// The rows of the slice's device at position k (its group k / tp; every TP rank holds them).
std::pair<int, int> device_rows(int batch, const Slice& sl, int k);

// Row overlaps from slice `a` to slice `b` (same batch): (data-parallel group in a, in b, rows).
struct RowOverlap {
  int from = 0, to = 0;  // group indices
  int first_row = 0, rows = 0;
};
std::vector<RowOverlap> row_overlaps(int batch, const Slice& a, const Slice& b);

// The copies that move rows from slice `a` to slice `b`: forward, every device of b's group
// receives the group's rows, from the device of a's group with the same TP rank (modulo a's tp;
// activations are whole on every rank of a TP group); backward, their gradients go to every
// device of a's group: where b continues a's MetaOp (its only reader), from itself when it is
// in b's group, else from b's device of the same rank modulo b's tp; otherwise from one rank
// of b's group, the first that is itself such a device (a local copy), else rank 0. Every rank
// of a TP group computes them whole; those that send none drop theirs (gradient_senders), so
// that no gradient arrives twice. One copy per overlap when neither slice uses TP.
struct RowMove {
  int overlap = 0;  // index into row_overlaps(batch, a, b)
  int src = 0, dst = 0;  // devices
  int first_row = 0, rows = 0;
};
std::vector<RowMove> row_moves(int batch, const Slice& a, const Slice& b, bool backward);
// The devices of `b` whose gradients for `a`'s output leave (row_moves backward's sources).
std::set<int> gradient_senders(int batch, const Slice& a, const Slice& b);

// The moves that carry data from `a` to `b`, forward then backward. A side input (the
// cross-attention memory of MetaOp `side_of` >= 0; -1: none) reaches a device once for all its
// later readers, whose gradients for it go back once, from the first reader there that sends
// gradients (a whole slice, or the TP rank row_moves designates): `delivered` records (producer, device, the device
// its gradient goes to or -1 for a delivery, first row, rows) across calls.
using DeliveredRows = std::set<std::tuple<int, int, int, int, int>>;
struct DataMove {
  RowMove move;
  bool backward = false;
};
std::vector<DataMove> data_moves(int batch, const Slice& a, const Slice& b, int side_of, DeliveredRows& delivered);

// The TP degree `op`'s weights are sharded by in `plan` (1 for operators that do not split).
int weight_tp(const Plan& plan, const Operator& op);
// The shards [first, last) of a degree-`t` layout that position k of slice `sl` holds: a rank of
// a TP group of sl.tp <= t holds t / sl.tp of them (they nest where sl.tp < t).
std::pair<int, int> held_shards(const Slice& sl, int k, int t);

// Bytes one device stores for backward of one layer `op` run in slice `sl`: its local batch,
// and under TP the split part / tp plus the replicated part (tensor_parallel.h), stored as
// `storage` says (device_storage of the cluster's device).
double stored_activation_bytes(const Operator& op, const Slice& sl, const Storage& storage);

// A system's plan as the programs see it: placed, with what placement measured and where it
// came from.
struct PlannedSystem {
  Plan plan;
  PlacementReport placement;  // after place()
  double planning_s = 0;   // wall clock: printed, never written to files (< 0: not shown)
  std::string from_file;   // set for a plan read back with --plan
  std::string placement_label;  // set for the placement ablation row
  // The planner's estimate of its iteration (estimate/iteration_estimate.h), filled by the
  // pipeline: the whole iteration and the mean time a GPU waits on weight sync.
  double estimated_s = 0;
  double estimated_sync_s = 0;
};

}  // namespace spindle
