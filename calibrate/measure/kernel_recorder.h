// Records the device work of timed runs, each run tagged with an id the timer chooses: on a GPU
// CUPTI's kernel records tied to runs by external correlation ids (calibrate/cuda/
// cupti_recorder.h, opened through calibrate/cuda_registry.h); nothing records on the CPU.
#pragma once

#include <cstdint>
#include <string>

#include "calibrate/measure/kernel_records.h"

namespace spindle::calibrate {

class KernelRecorder {
 public:
  virtual ~KernelRecorder() = default;
  // Records only while enabled (off when opened): recording slows the host's launches (CUPTI
  // traces every API call), so timed runs go unrecorded and recorded runs untimed.
  virtual void enable(bool on) = 0;
  // The device work of calls the calling thread makes from begin_run to end_run belongs to `run`.
  virtual void begin_run(std::uint64_t run) = 0;
  virtual void end_run() = 0;
  // Every record of work done so far (the caller synchronized the device first), handed over once.
  virtual KernelRecords collect() = 0;
  // What records, as the profile's timer says it: "CUPTI 13.0 kernel records".
  virtual std::string name() const = 0;
};

}  // namespace spindle::calibrate
