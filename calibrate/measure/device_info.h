// What a profile says measured it: the device as the system names it (the CPU's model name
// from /proc/cpuinfo, the CUDA device's name), the libraries that ran the kernels with their
// versions (OpenBLAS's configuration and threads; CUDA runtime, driver and cuBLASLt), and the
// date (UTC). The CUDA half lives in calibrate/cuda/, built where the toolkit is
// (reached through calibrate/cuda_registry.h).
#pragma once

#include <cstdint>
#include <string>

namespace spindle::calibrate {

struct DeviceInfo {
  std::string device;
  std::string libraries;
};

// For the engine backend `backend` ("cpu", "cuda"); InternalError for another name.
DeviceInfo device_info(const std::string& backend);

// The host's last-level cache in bytes: the highest level in /sys/devices/system/cpu/cpu0/cache
// (as lscpu), else the C library's L3 or L2 (sysconf); 0 where neither says.
std::int64_t host_last_level_cache_bytes();

// Now, as "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_now();

}  // namespace spindle::calibrate
