// The current CUDA device's name and the CUDA runtime, driver and cuBLASLt versions, for a
// profile measured with the CUDA backend (built only where the toolkit is found).
#pragma once

#include <string>

namespace spindle::calibrate {

struct CudaDeviceInfo {
  std::string device;     // cudaDeviceProp::name, e.g. "NVIDIA H100 80GB HBM3"
  std::string libraries;  // "CUDA runtime 13.0, driver 13.0, cuBLASLt 130000"
};

// Throws IoError when no device answers.
CudaDeviceInfo cuda_device_info();

}  // namespace spindle::calibrate
