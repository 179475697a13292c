// A device's memory as its program runs, by the memory model's parts (cost/memory_model.h)
// for a given storage: the weights it holds (its TP shards, whole otherwise), their gradients,
// the optimizer state (of its ZeRO-1 shard where a bucket shards it), and the peak of the
// activations its forwards keep until their backwards, walking the program in order (the
// lowering runs every forward slice before the backward ones, so at that peak a device holds
// what all its forwards kept). The like-for-like estimate that spindle-run --memory-report sets
// beside the engine's measured peak.
#pragma once

#include "planner/cost/memory_model.h"
#include "planner/graph/metagraph.h"
#include "planner/program/lowering.h"

namespace spindle {

// No workspace: what the model counts, not a GPU's reserve.
MemoryBreakdown program_memory(const DeviceProgram& program, const Graph& g, const MetaGraph& mg,
                               const Storage& storage);

}  // namespace spindle
