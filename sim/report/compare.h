// `spindle-sim compare A B`: two results side by side, each a run's summary.json (or folder)
// with an optional ":SYSTEM" (default `spindle`): two systems, two scenarios, or later a
// simulated and a measured run. Iteration time and its split, then per MetaOp the GPU time of
// its compute in each and the difference (MetaOps matched by id when both runs have the same
// ones, else by component, kind, layers and shape).
#pragma once

#include <string>

namespace spindle {

// Throws InputError for a missing file or an unknown system.
std::string compare_text(const std::string& a, const std::string& b, const std::string& default_system);

}  // namespace spindle
