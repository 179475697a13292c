// Calibration profiles: measured operator times (per kind and local shape) and collective
// times, as spindle-calibrate writes them and the cost model reads them. Stored as HDF5
// (schema in README.md, "Profile files"); this header keeps HDF5 out of every other file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace spindle {

inline constexpr int kProfileSchemaVersion = 2;  // 2: collectives by ranks, nodes and ranks per node

// What identifies a measured operator: its kind and its shape on one device.
struct OpShapeKey {
  std::string kind;  // planner operator kind name, e.g. "encoder_layer"
  std::int64_t batch = 0, seq = 0, hidden = 0, heads = 0, ffn = 0, cross_seq = 0;
  std::int64_t out_hidden = 0, out_seq = 0, in_features = 0;
  std::int32_t mlp = 0;     // 0 gelu, 1 swiglu
  std::int32_t causal = 0;
  std::int32_t tp = 1;      // tensor-parallel degree the measurement used (1 in this version)

  auto operator<=>(const OpShapeKey&) const = default;
  std::string str() const;  // "encoder_layer [8,229,768] heads 12 ffn 3072 ..."
};

struct OpMeasurement {
  OpShapeKey key;
  double fwd_ms = 0, bwd_ms = 0;
  std::int32_t samples = 0;
  double fwd_spread_ms = 0, bwd_spread_ms = 0;  // standard deviation over the samples
};

// One nccl-tests-style measurement: `ranks` GPUs on `nodes` nodes, at most `ranks_per_node` on
// one node, moving `bytes` (nccl-tests' size) in `time_ms` (the mean over `samples` runs).
struct CollectiveMeasurement {
  std::string kind;       // all_reduce, all_gather, reduce_scatter, broadcast, send_recv
  std::string algorithm;  // what NCCL_ALGO forced: ring, tree, nvls, nvls_tree, pat; "" when NCCL chose
  std::int32_t ranks = 0, nodes = 0, ranks_per_node = 0;
  std::int64_t bytes = 0;
  double time_ms = 0;
  std::int32_t samples = 0;
  double spread_ms = 0;
};

struct Profile {
  std::string source;  // the file it was read from (for messages; empty when built in memory)
  std::string gpu;     // the GPU it was measured on
  std::vector<OpMeasurement> ops;
  std::vector<CollectiveMeasurement> collectives;

  const OpMeasurement* find(const OpShapeKey& key) const;
};

// Writes atomically (temporary file, then rename), without object timestamps, so the same
// profile gives the same bytes. Throws IoError.
void write_profile(const std::filesystem::path& path, const Profile& profile);

// Reads a profile; a missing or truncated file, another schema or version, or a missing
// dataset or field is an InputError naming the file and what was expected.
Profile read_profile(const std::filesystem::path& path);

}  // namespace spindle
