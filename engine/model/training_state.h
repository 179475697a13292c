// Checkpoints keyed by weight name, never by device, so a run may resume under another plan.
// One binary file, little-endian:
//   "SPNDLCKP" | u32 version (1) | u64 step | u64 seed | str scale |
//   u32 tasks, each: str name, u64 data position (next sample) |
//   u32 weights, each: str name, u32 rank, u64 dims..., f32 value[n], f32 adam_m[n], f32 adam_v[n] |
//   u64 FNV-1a of every byte before it.
// (str = u32 length + bytes.) Written to a temporary file and renamed. A truncated or altered
// file, or one of another model (weight names or shapes differ), another seed or scale, is an
// InputError naming the file and what differs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/weight_store.h"

namespace spindle::engine {

struct TrainingState {
  std::int64_t step = 0;
  std::uint64_t seed = 0;
  std::string scale;
  std::vector<std::pair<std::string, std::int64_t>> positions;  // task name -> next sample
};

void write_checkpoint(const std::filesystem::path& file, const TrainingState& state, Backend& be,
                      const WeightStore& weights);

// Loads weights and moments into `weights` after checking the file matches `expected` (seed,
// scale, tasks) and the model; returns the stored state.
TrainingState read_checkpoint(const std::filesystem::path& file, const TrainingState& expected, Backend& be,
                              WeightStore& weights);

}  // namespace spindle::engine
