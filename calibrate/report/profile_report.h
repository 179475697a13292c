// `spindle-calibrate --report FILE.h5`: what measured the profile, then per operator shape its
// measured points (forward and backward means, spread, samples), the fitted piecewise
// alpha-beta curves in the local batch (planner/cost/profile_points.h: the same fit the cost
// model interpolates with) and their errors: at the measured points, and leave-one-out (each
// interior batch predicted from the others: how batches between measured ones fare). A table
// per operator kind closes it; then, for a profile with kernel records (CUPTI on a GPU), the
// device's own time per point, per kind the share of the measured time the device was busy
// and its longest kernels; then the measured collectives, if any.
#pragma once

#include <string>

#include "traces/profile.h"

namespace spindle::calibrate {

std::string profile_report(const Profile& profile);

}  // namespace spindle::calibrate
