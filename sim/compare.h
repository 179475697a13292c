// `spindle-sim compare A B`: two results side by side. A and B name a run's summary.json (or its
// folder), optionally with ":SYSTEM" (default `spindle`), so one file compares two systems and
// two files compare two scenarios (or, later, a simulated and a measured run of one plan):
// the iteration time and its split, then per MetaOp the GPU time of its compute in each and
// the difference. MetaOps are matched by id when both runs have the same MetaOps, else by
// component, layer count and shape.
#pragma once

#include <string>

namespace spindle {

// Throws InputError for a missing file or an unknown system.
std::string compare_text(const std::string& a, const std::string& b, const std::string& default_system);

}  // namespace spindle
