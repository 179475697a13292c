// The measuring device and libraries (see device_info.h). The one #ifdef of calibrate/:
// SPINDLE_CALIBRATE_HAVE_CUDA is set for this file alone where the CUDA toolkit was found.
#include "calibrate/measure/device_info.h"

#include <ctime>
#include <fstream>

#include "engine/cpu/blas.h"
#include "traces/errors.h"
#ifdef SPINDLE_CALIBRATE_HAVE_CUDA
#include "calibrate/cuda/cuda_device_info.h"
#endif

namespace spindle::calibrate {
namespace {

// /proc/cpuinfo's first "model name" (x86) or "Model"/"CPU part" line; the machine type else.
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    if (key != "model name" && key != "Model") continue;
    std::string v = line.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.erase(v.begin());
    while (!v.empty() && v.back() == ' ') v.pop_back();
    if (!v.empty()) return v;
  }
  return "unknown CPU";
}

}  // namespace

DeviceInfo device_info(const std::string& backend) {
  if (backend == "cpu") return DeviceInfo{cpu_model(), engine::cpu::blas_library()};
#ifdef SPINDLE_CALIBRATE_HAVE_CUDA
  if (backend == "cuda") {
    const CudaDeviceInfo c = cuda_device_info();
    return DeviceInfo{c.device, c.libraries};
  }
#endif
  throw InternalError("no device information for backend '" + backend + "'");
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace spindle::calibrate
