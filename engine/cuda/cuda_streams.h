// What code beside the CUDA backend (the NCCL communicator) needs of it: the stream the calling
// thread queues its work on (Backend::use_own_stream) and the device the backend runs on.
// Included only by engine/ sources built with CUDA; throws InternalError for another backend.
#pragma once

#include <cuda_runtime.h>

#include "engine/backend.h"

namespace spindle::engine::cuda {

cudaStream_t calling_stream(Backend& be);
int device_of(Backend& be);

}  // namespace spindle::engine::cuda
