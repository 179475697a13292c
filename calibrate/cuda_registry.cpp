// The CUDA parts of calibrate/ where built (see cuda_registry.h): the one #ifdef of calibrate/.
#include "calibrate/cuda_registry.h"

#include "traces/errors.h"
#ifdef SPINDLE_CALIBRATE_HAVE_CUDA
#include "calibrate/cuda/cuda_device_info.h"
#include "calibrate/cuda/cupti_recorder.h"
#endif

namespace spindle::calibrate {

DeviceInfo cuda_device_description() {
#ifdef SPINDLE_CALIBRATE_HAVE_CUDA
  const CudaDeviceInfo c = cuda_device_info();
  return DeviceInfo{c.device, c.libraries};
#else
  throw InternalError("this spindle-calibrate was built without CUDA: no CUDA device description");
#endif
}

std::unique_ptr<KernelRecorder> open_kernel_recorder(const std::string& backend, std::string& why_not) {
  if (backend != "cuda") {
    why_not = "no kernel records on the " + backend + " backend";
    return nullptr;
  }
#ifdef SPINDLE_CALIBRATE_HAVE_CUDA
  try {
    return open_cupti_recorder();
  } catch (const Error& e) {
    why_not = std::string("CUPTI unavailable: ") + e.what();
    return nullptr;
  }
#else
  why_not = "built without CUDA";
  return nullptr;
#endif
}

}  // namespace spindle::calibrate
