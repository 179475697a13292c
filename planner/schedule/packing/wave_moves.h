// Local moves on a MetaLevel's barrier waves, best gain first, while the summed span
// falls: a slice that sets its wave's span gives one layer to the wave that takes it most
// cheaply (joining that MetaOp's slice there, perhaps wider, or on idle devices), or widens
// onto idle devices of its own wave.
#pragma once

#include <vector>

#include "planner/schedule/allocator.h"
#include "planner/schedule/packing/wave_columns.h"
#include "planner/schedule/plan.h"

namespace spindle {

// The moves on a finished schedule of the level (`waves` from `start_s`). Rewrites `waves`;
// returns the level's end, never later than before.
double polish_level_waves(const std::vector<LevelItem>& items, int gpus, double start_s,
                          std::vector<Wave>& waves);

namespace packing {
// The moves on configurations; empty configurations are dropped.
void shift_layers(const Packer& pk, std::vector<Column>& waves, int gpus);
}  // namespace packing

}  // namespace spindle
