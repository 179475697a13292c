// Graph contraction (Spindle paper, arXiv 2409.03365): runs of identical consecutive operators become one
// MetaOp holding L_m operators; MetaLevels group MetaOps with no path between them, by the
// longest path from a source, so the planner solves one allocation problem per level.
#pragma once

#include <string>
#include <vector>

#include "planner/graph/graph.h"

namespace spindle {

struct MetaOp {
  int id = 0;
  std::vector<int> ops;     // operator ids in execution order (a chain)
  OpKind kind = OpKind::kEncoderLayer;
  std::string weight_set;   // the component whose weights it uses
  int component = -1;       // -1 for losses
  std::vector<int> tasks;   // task indices whose data it processes
  Shape shape;
  int L = 0;                // number of operators
  int level = 0;            // 1-based MetaLevel
  std::vector<int> preds;   // MetaOp ids it depends on, ascending
  OpCost per_op;            // cost of one of its operators
};

struct MetaGraph {
  std::vector<MetaOp> metaops;  // ordered by (level, first operator id); id = index
  std::vector<int> op_meta;     // operator id -> MetaOp id
  int levels = 0;
};

// Whether MetaOp `metaop` reads MetaOp `pred`'s output as a side input (a decoder's
// cross-attention memory, read by every layer) rather than as its data input.
bool is_side_input(const Graph& g, const MetaGraph& mg, int pred, int metaop);

// Contracts `g` (finalized). Merges op i into j's chain when data-out-degree(i) =
// data-in-degree(j) = 1 and their signatures match; side inputs do not count as degrees.
// A merge that would make the MetaGraph cyclic (a side input whose MetaOp depends, directly or
// through other MetaOps, on the chain) is not made. Throws CycleError when `g` is cyclic.
MetaGraph contract(const Graph& g);

}  // namespace spindle
