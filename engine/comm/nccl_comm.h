// Communication of a rank's device memory through NCCL, one process per GPU (issue 22). A
// rank's NCCL state is made once at start and shared by its two communicators (the program's
// and the sync thread's): one NCCL communicator per member set of the program's collectives,
// one per set of the weight sync's buckets, and one per point-to-point link (sender, receiver,
// channel), created by every rank in one global order inside one ncclGroupStart/End (a set's
// ncclUniqueId comes from its first member, a link's from its sender, through `exchange`, an
// all-gather over every rank), then connected at once: NCCL connects point-to-point peers on
// first use, and the sender of a first send would wait there for its receiver (a send must
// never wait), so one grouped warm-up sends a word over every link and all-reduces one over
// every set before anything else runs.
//
// Why every communicator sees one order on all its ranks: collectives and receives go on the
// calling thread's stream (compute, or the sync thread's: Backend::use_side_stream), the
// lowering issues a group's collectives in one global order on every member and a channel's
// sends and receives in one order (lowering.h, Instr::channel). A send copies its tensor
// (stream-ordered: later accumulation into it cannot race) and goes on its link's own stream
// after that copy. Enqueueing is serialised per rank (one mutex), so the two threads never call
// NCCL at once. A watchdog thread polls every communicator's asynchronous error, the age of
// the oldest unfinished operation and of a call in progress; on an error, or past `timeout_s`,
// it aborts every communicator of the rank (ncclCommAbort ends the kernels waiting on them)
// and the next call, or check(), throws NcclError naming the cause; a call stuck inside NCCL
// that keeps the abort out ends the process (under MPI, mpirun then ends the others).
// Built only with CUDA and NCCL; no NCCL type leaks here.
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

struct NcclCommunicators {
  std::unique_ptr<Communicator> program, sync;
};

// `be`: this rank's CUDA backend (its device is the rank's GPU); device ids = ranks 0..world-1;
// `groups` (the program's collectives), `sync_groups` (the buckets') and `links` the same lists
// on every rank (comm_groups.h). Throws InputError when this process's local rank has no GPU of
// its own (NCCL refuses two ranks of a communicator on one GPU).
NcclCommunicators nccl_communicators(Backend& be, int rank, int world, const std::vector<std::vector<int>>& groups,
                                     const std::vector<std::vector<int>>& sync_groups,
                                     const std::vector<P2pLink>& links, const IdExchange& exchange,
                                     double timeout_s);

}  // namespace spindle::engine
