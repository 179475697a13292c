// What calibrate/ takes from the CUDA toolkit where it was built with it: the CUDA device's
// description and CUPTI's kernel recorder. cuda_registry.cpp holds calibrate/'s one #ifdef
// (SPINDLE_CALIBRATE_HAVE_CUDA, set for that file alone); every other file asks here.
#pragma once

#include <memory>
#include <string>

#include "calibrate/measure/device_info.h"
#include "calibrate/measure/kernel_recorder.h"

namespace spindle::calibrate {

// The current CUDA device and the CUDA runtime, driver and cuBLASLt versions. IoError where no
// device answers; InternalError in a build without CUDA.
DeviceInfo cuda_device_description();

// What records the device work of timed runs on `backend`: CUPTI's kernel records on "cuda".
// nullptr, with `why_not` saying why, where nothing records (the CPU backend, a build without
// CUDA, CUPTI refused: its error as it gave it).
std::unique_ptr<KernelRecorder> open_kernel_recorder(const std::string& backend, std::string& why_not);

}  // namespace spindle::calibrate
