// Checkpoints of a run on any number of devices (one device's too), one directory:
//   step-<S>.ranks-<N>.rank-<R>.bin  per rank of N: the weight elements the rank counts among all ranks (each
//                          element in exactly one file), keyed by unsharded weight name and
//                          element range, with their value and AdamW moments;
//   manifest.json          written last: format, step, seed, scale, every task's data position
//                          and the rank files of this step.
// A rank file, little-endian: "SPNDLSHD" | u32 version (1) | u32 rank | u32 entries, each: str
// name, u32 rank, u64 dims..., u32 ranges, (u64 first, u64 last)..., f32 value[n], f32 m[n],
// f32 v[n] (n: the ranges' elements, in range order) | u64 FNV-1a of every byte before it.
// Every file is written to a temporary file and renamed, the manifest after the rank files, so
// a run stopped while writing leaves the previous checkpoint whole; files of older steps are
// removed once the new manifest is in place. Any plan on any number of ranks, or one device,
// resumes from it: a rank assembles the tensors it holds (TP shards, ZeRO-1 moments included)
// from the ranges. Reading holds only the elements the files carry (a tensor's shape in a
// file allocates nothing), so a damaged file costs at most its own size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/training_state.h"
#include "engine/model/weight_store.h"

namespace spindle::engine {

using ElementRanges = std::vector<std::pair<std::int64_t, std::int64_t>>;

// Writes rank `rank`'s (of `ranks`) file for `state.step`: for each weight (sharded name) of `weights` the
// local element ranges given in `counted`; returns the file's name (in `dir`).
std::string write_rank_shard(const std::filesystem::path& dir, int rank, int ranks, const TrainingState& state, Backend& be,
                             const WeightStore& weights,
                             const std::vector<std::pair<std::string, ElementRanges>>& counted);

// Writes the manifest naming `files`, then removes rank files of other steps.
void write_manifest(const std::filesystem::path& dir, const TrainingState& state, const std::vector<std::string>& files);

// True when `dir` holds a manifest.json.
bool has_sharded_checkpoint(const std::filesystem::path& dir);

class ShardedCheckpoint {
 public:
  // Reads the manifest and every rank file it names; checks them against `expected` (seed,
  // scale, tasks). InputError naming the file and what is wrong otherwise.
  ShardedCheckpoint(const std::filesystem::path& dir, const TrainingState& expected);
  const TrainingState& state() const { return state_; }
  // Every tensor of `weights` (one rank's: whole weights and TP shards) gets its value and
  // moments from the checkpoint; InputError when a tensor's shape differs or elements are missing.
  void load_into(Backend& be, WeightStore& weights) const;

 private:
  struct Piece {  // elements [first, last) of a tensor as one rank file holds them
    std::int64_t first = 0, last = 0;
    std::vector<float> value, m, v;
  };
  struct Whole {  // one unsharded tensor: its shape and the pieces the files hold, by first element
    Dims dims;
    std::vector<Piece> pieces;
  };
  std::filesystem::path dir_;
  TrainingState state_;
  std::map<std::string, Whole> tensors_;
};

}  // namespace spindle::engine
