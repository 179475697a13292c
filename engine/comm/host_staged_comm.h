// A communicator for tensors in a device's memory over one that moves host tensors (threads,
// MPI): each call copies the device tensor to host memory as fp32 through the backend, runs
// the host call and copies the result back. What the CUDA backend uses with the thread and MPI
// launchers until an NCCL communicator moves device memory itself (issue 22); slow (every
// transfer synchronises the device) but exact.
#pragma once

#include <memory>

#include "engine/backend.h"
#include "engine/comm/communicator.h"

namespace spindle::engine {

std::unique_ptr<Communicator> host_staged(std::unique_ptr<Communicator> inner, Backend& backend);

}  // namespace spindle::engine
