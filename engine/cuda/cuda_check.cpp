// CUDA and cuBLAS call checks (see cuda_check.h).
#include "engine/cuda/cuda_check.h"

#include <string>

namespace spindle::engine::cuda {

void check_cuda(cudaError_t status, const char* expr, const char* file, int line) {
  if (status == cudaSuccess) return;
  throw CudaError(std::string(expr) + " failed at " + file + ":" + std::to_string(line) + ": " +
                  cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}

void check_cublas(cublasStatus_t status, const char* expr, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw CudaError(std::string(expr) + " failed at " + file + ":" + std::to_string(line) + ": " +
                  cublasLtGetStatusName(status) + " (" + cublasLtGetStatusString(status) + ")");
}

}  // namespace spindle::engine::cuda
