// The measuring device and libraries (see device_info.h); the CUDA device's through
// calibrate/cuda_registry.h.
#include "calibrate/measure/device_info.h"

#include <unistd.h>

#include <ctime>
#include <exception>
#include <fstream>
#include <string>

#include "calibrate/cuda_registry.h"
#include "engine/cpu/blas.h"
#include "traces/errors.h"

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
  if (backend == "cuda") return cuda_device_description();
  throw InternalError("no device information for backend '" + backend + "'");
}

std::int64_t host_last_level_cache_bytes() {
  // The kernel's cache description, as lscpu reads it: the highest level's size ("32768K").
  int best_level = 0;
  std::int64_t best = 0;
  for (int index = 0; index < 16; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::ifstream level_in(dir + "level"), size_in(dir + "size");
    int level = 0;
    std::string size;
    if (!(level_in >> level) || !(size_in >> size) || size.empty()) continue;
    std::int64_t bytes = 0;
    try {
      bytes = std::stoll(size);
    } catch (const std::exception&) {
      continue;
    }
    const char unit = size.back();
    bytes <<= unit == 'K' ? 10 : unit == 'M' ? 20 : unit == 'G' ? 30 : 0;
    if (level > best_level && bytes > 0) best_level = level, best = bytes;
  }
  if (best > 0) return best;
  // Else the C library's reading of the CPU (on some AMD hosts glibc's L3 figure is the whole
  // package's, several times a core's share: only a fallback).
  for (int name : {_SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE})
    if (const long bytes = sysconf(name); bytes > 0) return bytes;
  return 0;
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
