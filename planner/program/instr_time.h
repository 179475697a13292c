// How long each instruction of a program keeps its GPU busy, from the cost model: a forward
// or backward of l layers on a slice of n devices takes l x the MetaOp's sampled fwd_s or
// bwd_s at n (n = the MetaOp's batch / the device's rows); a local copy reads and writes its
// bytes at the GPU's achievable HBM bandwidth; the optimizer step and the gradient norm are
// multi-tensor kernels over the device's weight tensors: the profile's measured per-tensor
// times (profile_points.h), or their traffic at HBM speed plus a launch per list of tensors
// (lowering.h); everything else is communication (0 here). A
// straggler's instructions take its slowdown times longer (Cluster::gpu_slowdown).
#pragma once

#include <vector>

#include "planner/cost/cost_model.h"
#include "planner/program/lowering.h"

namespace spindle {

// [device][instruction] seconds. Throws InternalError for a slice size the cost model did not
// sample (a plan with invalid device counts never gets here: check_plan rejects it).
std::vector<std::vector<double>> compute_seconds(const Programs& programs, const Scenario& s, const MetaGraph& mg,
                                                 const CostModel& cost);

}  // namespace spindle
