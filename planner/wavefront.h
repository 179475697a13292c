// Spindle's greedy wavefront scheduler for one MetaLevel (SPINDLE.md §4), as published:
// propose (fill the devices with the next piece of as many MetaOps as fit, most remaining
// work first), extend (widen the pieces with most remaining time onto idle devices), align
// (the wave lasts as long as its shortest piece; longer pieces run the whole operators that
// fit, a piece that fits none leaves the wave and its devices go back to extend), commit.
// At most one slice per MetaOp per wave, layers in order; identical consecutive waves merge.
#pragma once

#include <vector>

#include "planner/allocator.h"
#include "planner/plan.h"

namespace spindle {

// Schedules `pieces` (from allocate_level) from `start_s`; appends the waves to `out` and
// returns the level's end time.
double schedule_level(const std::vector<LevelItem>& items, const std::vector<Piece>& pieces, int gpus,
                      double start_s, std::vector<Wave>& out);

// Merges consecutive waves running the same MetaOps on the same device counts, each slice
// continuing the layers of the one before (its slices then run back to back).
void merge_identical_waves(std::vector<Wave>& waves, size_t from);

}  // namespace spindle
