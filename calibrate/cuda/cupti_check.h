// The one check of every CUPTI call: SPINDLE_CUPTI(expr) throws CuptiError naming the
// expression, file, line and CUPTI's own error text. Included only by calibrate/cuda/ sources.
#pragma once

#include <cupti.h>

#include "traces/errors.h"

namespace spindle::calibrate {

// A CUPTI call failed: the driver, the permissions (NVIDIA's profiling restriction) or a bug.
class CuptiError : public Error {
 public:
  using Error::Error;
};

void check_cupti(CUptiResult status, const char* expr, const char* file, int line);

}  // namespace spindle::calibrate

#define SPINDLE_CUPTI(expr) ::spindle::calibrate::check_cupti((expr), #expr, __FILE__, __LINE__)
