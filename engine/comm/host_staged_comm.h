// A communicator for tensors in a device's memory over one that moves host tensors (threads,
// MPI): each call copies the device tensor to host memory as fp32 through the backend, runs
// the host call and copies the result back. What the CUDA backend uses with the thread
// launcher (logical devices sharing a GPU, which NCCL refuses) and under MPI where the build
// has no NCCL; slow (every transfer synchronises the calling thread's stream) but exact.
#pragma once

#include <memory>

#include "engine/backend.h"
#include "engine/comm/communicator.h"

namespace spindle::engine {

std::unique_ptr<Communicator> host_staged(std::unique_ptr<Communicator> inner, Backend& backend);

// `host` itself where the backend's tensors are host memory, else host_staged(host, backend).
std::unique_ptr<Communicator> on_backend(std::unique_ptr<Communicator> host, Backend& backend);

}  // namespace spindle::engine
