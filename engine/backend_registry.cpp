// The backend registry (see backend_registry.h). The CUDA backend registers here, behind
// SPINDLE_HAVE_CUDA_BACKEND and the NCCL communicator behind SPINDLE_HAVE_NCCL (set for this
// file alone where the CUDA toolkit, and NCCL with it, were found).
#include "engine/backend_registry.h"

#include "engine/comm/host_staged_comm.h"
#include "engine/cpu/cpu_backend.h"
#include "traces/errors.h"
#ifdef SPINDLE_HAVE_CUDA_BACKEND
#include "engine/cuda/cuda_backend.h"
#endif
#ifdef SPINDLE_HAVE_NCCL
#include "engine/comm/nccl_comm.h"
#endif

namespace spindle::engine {

std::vector<std::string> backend_names() {
  std::vector<std::string> names{"cpu"};
#ifdef SPINDLE_HAVE_CUDA_BACKEND
  names.push_back("cuda");
#endif
  return names;
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "cpu") return std::make_unique<CpuBackend>();
#ifdef SPINDLE_HAVE_CUDA_BACKEND
  if (name == "cuda") return make_cuda_backend();
#endif
  std::string allowed;
  for (const std::string& n : backend_names()) allowed += (allowed.empty() ? "" : ", ") + n;
  throw InputError("--backend " + name + ": not built into this binary; allowed: " + allowed);
}

bool has_nccl() {
#ifdef SPINDLE_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

ProcessComms process_communicators(Backend& be, const MpiSession& mpi, const std::vector<std::vector<int>>& groups,
                                   const std::vector<std::vector<int>>& sync_groups,
                                   const std::vector<P2pLink>& links) {
#ifdef SPINDLE_HAVE_NCCL
  if (be.name() == "cuda") {
    auto exchange = [&mpi](const std::string& mine) { return mpi.all_gather(mine); };
    NcclCommunicators c =
        nccl_communicators(be, mpi.rank(), mpi.size(), groups, sync_groups, links, exchange, kNcclTimeoutS);
    return {std::move(c.program), std::move(c.sync)};
  }
#endif
  (void)links;  // MPI matches transfers by tag: no link needs a communicator of its own
  ProcessComms c;
  c.program = on_backend(mpi_communicator(mpi, groups), be);
  c.sync = on_backend(mpi_communicator(mpi, sync_groups), be);
  return c;
}

}  // namespace spindle::engine
