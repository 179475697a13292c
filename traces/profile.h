// Calibration profiles: measured operator times (per kind, dtype and local shape) and collective
// times, with what measured them (backend, device, timer, libraries, date), as spindle-calibrate
// writes them and the cost model reads them. Stored as HDF5 (schema in README.md, "Profile
// files"); this header keeps HDF5 out of every other file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace spindle {

// 2: collectives by ranks, nodes and ranks per node; 3: op keys carry their dtype, the file says
// which backend, device, timer and libraries measured it and when; 4: the device's own time per
// operator from its kernel records (CUPTI), and the kernels by name (version 3 still reads: no
// kernel records).
inline constexpr int kProfileSchemaVersion = 4;

// The element types an operator may be measured in (the compute dtype of a device file).
inline const std::vector<std::string>& profile_dtypes() {
  static const std::vector<std::string> d{"fp32", "bf16", "fp16"};
  return d;
}

// What identifies a measured operator: its kind, dtype and its shape on one device. The local
// batch is the last member, so that the batches of one shape sort next to each other.
struct OpShapeKey {
  std::string kind;   // planner operator kind name, e.g. "encoder_layer"
  std::string dtype;  // "bf16", "fp32", ... (profile_dtypes())
  std::int64_t seq = 0, hidden = 0, heads = 0, ffn = 0, cross_seq = 0;
  std::int64_t out_hidden = 0, out_seq = 0, in_features = 0;
  std::int32_t mlp = 0;     // 0 gelu, 1 swiglu
  std::int32_t causal = 0;
  std::int32_t tp = 1;      // tensor-parallel degree: the measurement ran one shard of tp
  std::int64_t batch = 0;   // local (per device) batch

  auto operator<=>(const OpShapeKey&) const = default;
  bool same_shape(const OpShapeKey& o) const;  // equal but for the batch
  std::string str() const;  // "encoder_layer fp32 [8,229,768] heads 12 ffn 3072 ..."
};

// The longest kernel name a profile stores (longer ones are cut by whoever measures).
inline constexpr std::size_t kMaxKernelNameBytes = 255;

// One kernel name's share of a pass of a measured operator (mean per timed run).
struct KernelShare {
  std::string pass;  // "fwd", "bwd"
  std::string name;  // as the device's records name it (mangled), or "[memset]", "[memcpy HtoD]"
  double calls = 0;  // records per run
  double ms = 0;     // their durations added, per run
  auto operator<=>(const KernelShare&) const = default;
};

struct OpMeasurement {
  OpShapeKey key;
  double fwd_ms = 0, bwd_ms = 0;  // what the engine pays: launches and gaps included
  std::int32_t samples = 0;
  double fwd_spread_ms = 0, bwd_spread_ms = 0;  // standard deviation over the samples
  // The device's own work from its kernel records (0 and none where nothing recorded them, as
  // on the CPU): the time the device was busy per run (overlapping kernels once), the records per
  // run, and per pass and kernel name.
  double fwd_kernel_ms = 0, bwd_kernel_ms = 0;
  double fwd_kernels = 0, bwd_kernels = 0;
  std::vector<KernelShare> kernels;
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
  std::string source;     // the file it was read from (for messages; empty when built in memory)
  std::string backend;    // the engine backend measured: "cpu", "cuda"
  std::string device;     // the device as the system names it: the CPU model, the CUDA device name
  std::string timer;      // how times were taken, e.g. "steady_clock", "steady_clock+device_sync"
  std::string libraries;  // versions of what ran the kernels ("OpenBLAS 0.3.21 ...; 1 thread")
  std::string date;       // when it was measured (UTC, ISO 8601): data of the measurement
  std::string notes;      // what was calibrated, how (scenario, scale, grid, repetitions)
  std::map<OpShapeKey, OpMeasurement> ops;  // by key: lookups in log n
  std::vector<CollectiveMeasurement> collectives;

  // Adds a measurement; false (and nothing changed) when its key is there already.
  bool add(const OpMeasurement& m) { return ops.emplace(m.key, m).second; }
  const OpMeasurement* find(const OpShapeKey& key) const;
  // Every measurement of `key`'s shape (any batch), ascending batch.
  std::vector<const OpMeasurement*> batches_of(const OpShapeKey& key) const;
};

// Writes atomically (temporary file, then rename), without object timestamps, so the same
// profile gives the same bytes (ops in key order). Throws IoError.
void write_profile(const std::filesystem::path& path, const Profile& profile);

// Reads a profile; a missing or truncated file, another schema or version, or a missing
// dataset or field is an InputError naming the file and what was expected.
Profile read_profile(const std::filesystem::path& path);

}  // namespace spindle
