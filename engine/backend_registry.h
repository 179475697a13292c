// Backends by name: "cpu" always, "cuda" when the project is built with CUDA; and which
// communicator a process-per-device rank gets for its backend (NCCL where built with it).
// The one place that knows which backends exist (and the only #ifdef of the engine).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/comm/comm_groups.h"
#include "engine/comm/communicator.h"
#include "engine/comm/mpi_comm.h"

namespace spindle::engine {

std::vector<std::string> backend_names();  // those built into this binary

// Throws InputError naming the flag and the allowed names for an unknown or absent backend.
std::unique_ptr<Backend> make_backend(const std::string& name);

// Whether this binary has the NCCL communicator (built with CUDA and NCCL).
bool has_nccl();

// A rank's two communicators under MPI (one process per device; every rank calls): the
// program's (`groups`, point-to-point `links`) and the sync thread's (`sync_groups`, the
// buckets'). NCCL over the CUDA backend's memory where built with NCCL, else MPI
// communicators, through host copies where the backend's memory is not the host's.
struct ProcessComms {
  std::unique_ptr<Communicator> program, sync;
};
ProcessComms process_communicators(Backend& be, const MpiSession& mpi, const std::vector<std::vector<int>>& groups,
                                   const std::vector<std::vector<int>>& sync_groups,
                                   const std::vector<P2pLink>& links);

// How long an NCCL operation may wait before the watchdog aborts every communicator
// (PyTorch's default process-group timeout).
inline constexpr double kNcclTimeoutS = 600;

}  // namespace spindle::engine
