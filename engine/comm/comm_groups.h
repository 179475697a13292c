// The member sets a plan's programs communicate over, for communicators made up front (MPI
// and NCCL create a communicator per member set, collectively): every instruction's group
// (contrastive gathers, weight-sync buckets, ZeRO-1 parameter gathers, TP all-reduces inside
// a compute and after it) and all devices (the gradient clip's global norm).
#pragma once

#include <vector>

#include "planner/program/lowering.h"

namespace spindle::engine {

// Each set once, members ascending, the sets in ascending order: the same list on every rank.
std::vector<std::vector<int>> comm_groups(const Programs& programs);

}  // namespace spindle::engine
