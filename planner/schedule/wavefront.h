// Spindle's greedy wavefront scheduler for one MetaLevel (Spindle paper, arXiv 2409.03365), as published:
// propose (fill the devices with the next piece of as many MetaOps as fit, most remaining
// work first), extend (widen the pieces with most remaining time onto idle devices), align
// (the wave lasts as long as its shortest piece; longer pieces run the whole operators that
// fit, a piece that fits none leaves the wave and its devices go back to extend), commit.
// At most one slice per MetaOp per wave, layers in order; identical consecutive waves merge.
#pragma once

#include <cstdint>

#include <vector>

#include "planner/schedule/allocator.h"
#include "planner/schedule/plan.h"

namespace spindle {

// How align sets a wave's span.
enum class AlignRule {
  kShortestPiece,  // as published: the wave lasts as long as its shortest piece
  kBestSpan,       // the span, among the candidates' operator boundaries and piece ends, that
                   // wastes the fewest device-seconds per second of wave (longest on ties):
                   // pieces that end earlier idle until the wave ends. The published rule runs
                   // one wave per distinct duration when MetaOps have a single operator, and
                   // cuts wide pieces mid-operator at every short piece's end.
};

// Schedules `pieces` (from allocate_level) from `start_s`; appends the waves to `out` and
// returns the level's end time.
double schedule_level(const std::vector<LevelItem>& items, const std::vector<Piece>& pieces, int gpus,
                      double start_s, std::vector<Wave>& out, AlignRule rule = AlignRule::kShortestPiece);

// A candidate schedule of the same level: before every wave the allocator is run again on
// the layers still to run (C* of the remainder), each MetaOp gets the lower of its bi-point
// device counts, idle devices widen the MetaOps with most remaining time, single-device
// MetaOps wait only while their slack lasts. The span is either the operator boundary that
// wastes the fewest device-seconds, capped by the slack of those waiting, or (`look_ahead`)
// the natural end that minimises the span plus the C* of the layers that would remain. With
// `water_fill`, every MetaOp starts on one device instead of its bi-point count and extend
// hands out the rest, one valid step at a time, to the MetaOp with most remaining time.
double schedule_level_replanned(const std::vector<LevelItem>& items, int gpus, double start_s, std::vector<Wave>& out,
                                bool look_ahead, bool water_fill, std::uint64_t seed = 0);

// Merges consecutive waves running the same MetaOps on the same device counts, each slice
// continuing the layers of the one before (its slices then run back to back).
void merge_identical_waves(std::vector<Wave>& waves, size_t from);

}  // namespace spindle
