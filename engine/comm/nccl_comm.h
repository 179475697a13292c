// Communication of a rank's device memory through NCCL, one process per GPU (issue 22). One
// NCCL communicator per member set of the programs (comm_groups.h), for collectives, and one
// per point-to-point link (sender, receiver, channel), created at start by every rank in one
// global order (the sets ascending, then the links ascending) inside one ncclGroupStart/End.
// A set's unique id comes from its first member (a link's from its sender) and reaches the
// others through `exchange`, an all-gather over every rank (MPI's; one process: identity).
//
// Why no rank waits forever: collectives and receives go on the calling thread's stream (the
// compute stream for the program, the sync thread's own for weight sync: Backend::use_own_stream),
// so each communicator is used from one stream per rank; the lowering issues a group's
// collectives in one global order on every member and a link's sends and receives in one
// order (lowering.h, Instr::channel), so every communicator sees one order on all its ranks.
// A send copies its tensor (stream-ordered, so later accumulation into it cannot race) and
// goes on its link's own stream after that copy: a send never holds compute back, as the
// programs' contract asks. A watchdog thread polls each communicator's asynchronous error and
// the age of the oldest unfinished operation; on an error, or past `timeout_s`, it aborts
// every communicator (ncclCommAbort ends the kernels waiting on them) and the next call
// throws NcclError naming the cause. Built only with CUDA and NCCL; no NCCL type leaks here.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/comm/comm_groups.h"
#include "engine/comm/communicator.h"

namespace spindle::engine {

// Every rank's `mine`, in rank order, on every rank (all ranks call it, in the same order).
using IdExchange = std::function<std::vector<std::string>(const std::string& mine)>;

// `be`: this rank's CUDA backend (its device is the NCCL rank's GPU); device ids = ranks
// 0..world-1; `groups` and `links` the same lists on every rank (comm_groups.h).
std::unique_ptr<Communicator> nccl_communicator(Backend& be, int rank, int world,
                                                const std::vector<std::vector<int>>& groups,
                                                const std::vector<P2pLink>& links, const IdExchange& exchange,
                                                double timeout_s);

}  // namespace spindle::engine
