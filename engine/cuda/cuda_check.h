// The one check of every CUDA runtime and cuBLAS call: SPINDLE_CUDA(expr) and
// SPINDLE_CUBLAS(expr) throw CudaError naming the expression, file, line and the library's
// own error text. Included only by engine/cuda/ sources (the CUDA headers stay in there).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "traces/errors.h"

namespace spindle::engine::cuda {

// A CUDA or cuBLAS call failed: the device, the driver or a bug, never the user's input.
class CudaError : public Error {
 public:
  using Error::Error;
};

void check_cuda(cudaError_t status, const char* expr, const char* file, int line);
void check_cublas(cublasStatus_t status, const char* expr, const char* file, int line);

}  // namespace spindle::engine::cuda

#define SPINDLE_CUDA(expr) ::spindle::engine::cuda::check_cuda((expr), #expr, __FILE__, __LINE__)
#define SPINDLE_CUBLAS(expr) ::spindle::engine::cuda::check_cublas((expr), #expr, __FILE__, __LINE__)
