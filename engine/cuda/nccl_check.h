// The check of every NCCL call: SPINDLE_NCCL(expr) throws NcclError naming the expression,
// file, line and NCCL's own error text (with its last error message). Included only by the
// NCCL communicator (engine/comm/nccl_comm.cpp), the one file that sees <nccl.h>.
#pragma once

#include <nccl.h>

#include "engine/cuda/cuda_check.h"

namespace spindle::engine::cuda {

// An NCCL call failed, or the watchdog aborted the communicators (a peer failed or hung).
class NcclError : public CudaError {
 public:
  using CudaError::CudaError;
};

void check_nccl(ncclResult_t status, const char* expr, const char* file, int line);

}  // namespace spindle::engine::cuda

#define SPINDLE_NCCL(expr) ::spindle::engine::cuda::check_nccl((expr), #expr, __FILE__, __LINE__)
