// CUPTI's Activity API as a KernelRecorder: concurrent-kernel, memset and memcpy records and
// the external correlation records of the ids pushed around each recorded run (with the runtime
// and driver API records they come with, skipped), delivered in buffers CUPTI fills and hands
// back (flushed on collect). CUPTI's callbacks are process-wide:
// one recorder at a time. Built only where the CUDA toolkit is found.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "calibrate/measure/kernel_recorder.h"

namespace spindle::calibrate {

// Enables the activity kinds; throws CuptiError where CUPTI cannot record (no device, a driver
// without it, profiling restricted to administrators) and InternalError when one is open.
std::unique_ptr<KernelRecorder> open_cupti_recorder();

// Appends the records of one activity buffer as CUPTI fills it (the first `valid` bytes) to
// `into`: kernels, memsets, copies and CUSTOM0 external correlations; other kinds are skipped.
// What the buffer-completed callback runs; tests feed it buffers of sample records.
void parse_activity_buffer(std::uint8_t* buffer, std::size_t valid, KernelRecords& into);

}  // namespace spindle::calibrate
