// What code beside the CUDA backend (the NCCL communicator) needs of it: the stream the calling
// thread queues its work on (Backend::use_side_stream), the device the backend runs on, and
// this process's local rank under a launcher (the GPU it takes).
// Included only by engine/ sources built with CUDA; throws InternalError for another backend.
#pragma once

#include <cuda_runtime.h>

#include "engine/backend.h"

namespace spindle::engine::cuda {

cudaStream_t calling_stream(Backend& be);
int device_of(Backend& be);
// OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID, MPI_LOCALRANKID or LOCAL_RANK; 0 without one.
int local_rank();

}  // namespace spindle::engine::cuda
