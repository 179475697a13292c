// CUDA device and library versions (see cuda_device_info.h).
#include "calibrate/cuda/cuda_device_info.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "traces/errors.h"

namespace spindle::calibrate {
namespace {

std::string version(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace

CudaDeviceInfo cuda_device_info() {
  int device = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess)
    throw IoError("no CUDA device answers cudaGetDeviceProperties");
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  CudaDeviceInfo info;
  info.device = prop.name;
  info.libraries = "CUDA runtime " + version(runtime) + ", driver " + version(driver) + ", cuBLASLt " +
                   std::to_string(cublasLtGetVersion()) + ", compute capability " + std::to_string(prop.major) +
                   "." + std::to_string(prop.minor);
  return info;
}

}  // namespace spindle::calibrate
