// A what-if study as read from a scenario file: the cluster, the model (components), the
// tasks and planner options, validated strictly (see config_reader.h for the error format).
// Presets (`[model] preset`, `[cluster] gpu`) and `[scenario] extends` are resolved here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "planner/config/faults.h"

#include "planner/config/config_tree.h"
#include "planner/config/model_spec.h"

namespace spindle {

class CollectiveTable;

// One GPU model, read from scenarios/gpus/NAME.toml (datasheet figures with sources there).
// GPU generations as NCCL's tuner tells them apart (compute capability 7.x, 8.x, 9.x, 10.x).
enum class GpuArch { kVolta, kAmpere, kHopper, kBlackwell };

struct GpuSpec {
  std::string id;    // file stem, as the scenario names it
  std::string name;  // marketing name
  double bf16_dense_TFLOPS = 0;  // the peak in compute_dtype: the file's <compute_dtype>_dense_TFLOPS
  double hbm_bw_GBps = 0;
  double memory_GB = 0;
  double nvlink_bw_GBps = 0;  // per direction
  GpuArch arch = GpuArch::kAmpere;  // NCCL's tuning tables are per architecture
  bool nvlink_sharp = false;        // NVSwitch with NVLink SHARP (NCCL's NVLS algorithms)
  double launch_overhead_us = 0;    // per kernel
  double hbm_efficiency = 0;        // achievable fraction of hbm_bw_GBps (STREAM-like)
  double attention_efficiency = 0;  // fused attention's fraction of peak (FlashAttention-2)
  double gemm_peak_efficiency = 0;  // best GEMM's fraction of peak
  double gemm_half_GFLOP = 0;       // GEMM size (2mnk) at which the size factor is 1/2
  double gemm_half_dim = 0;         // smallest GEMM dimension at which the shape factor is 1/2
  // What a calibration profile of this device must say (planner/cost/profile_points.h): the
  // engine backend that runs on it, the dtype its peak and its operators' times are in, and
  // the names the system reports for it (patterns, '*' any run of characters; default: `name`).
  std::string backend = "cuda";
  std::string compute_dtype = "bf16";
  std::vector<std::string> reported_names;

  double memory_GiB() const { return memory_GB * 1e9 / (1024.0 * 1024.0 * 1024.0); }
  // Bytes of one activation element between devices and in TP all-reduces: its compute dtype's
  // (bf16 2, fp32 4).
  int activation_bytes() const { return compute_dtype == "fp32" ? 4 : 2; }
};

// Planner options ([planner] in the scenario).
struct PlannerOptions {
  bool zero1 = false;          // shard optimizer state across each weight-sync group (ZeRO-1)
  double workspace_GiB = 2.0;  // per GPU: CUDA context, cuBLAS workspace, NCCL buffers
  int grad_reduce_bytes = 4;   // bytes per gradient element in weight sync: fp32 (Megatron-LM's default) 4, bf16 2
  double sync_bucket_Mparams = 0;  // > 0: every system's bucket cap (millions of parameters); 0: each framework's own
  int score_candidates_up_to_gpus = 128;  // spindle scores its candidates by the estimate up to this many GPUs
  // Tensor parallelism (planner/cost/tensor_parallel.h): one TP degree per component, the
  // same in every task and wave. `tp` fixes it for the components named (component -> 1, 2,
  // 4 or 8); the others are chosen by the planner (schedule/tp_layout.h) up to `max_tp`.
  int max_tp = 8;
  std::map<std::string, int> tp;
};

struct Link {
  double bw_GBps = 0;  // per direction
  double latency_us = 0;
  double efficiency = 0.8;  // achievable fraction of bw_GBps (NVLink and InfiniBand reach about 80%)
  // A point-to-point message of more bytes moves only once its receiver has reached the receive
  // (MPI's rendezvous protocol past its eager limit, where the engine's receive blocks on the
  // host: Open MPI's shared-memory transport copies at the receiver); infinite (the default):
  // every message moves from its send on (a GPU's receives are queued ahead of its kernels).
  double eager_limit_B = std::numeric_limits<double>::infinity();
  bool rendezvous(double bytes) const { return bytes > eager_limit_B; }
};

// How collectives become flows (planner/cost/collective_flows.h): the ring inside a node and
// hierarchical rings across nodes, or the algorithm NCCL's tuner picks.
enum class CollectiveModel { kHierarchicalRing, kNccl };
const char* collective_model_name(CollectiveModel m);  // as scenario files spell it

// Where a node's network bandwidth (inter_node.bw_GBps, the node's total) enters the network:
// one NIC per node, or one NIC per GPU with an equal share each.
enum class NicPlacement { kPerNode, kPerGpu };

struct Cluster {
  int nodes = 0;
  int gpus_per_node = 0;
  GpuSpec gpu;
  Link intra_node;  // NVLink inside a node
  Link inter_node;  // network between nodes (bw_GBps: a node's total)
  NicPlacement nic = NicPlacement::kPerNode;
  bool nvls = false;  // NCCL may use NVLink SHARP (default: the GPU's nvlink_sharp)
  CollectiveModel collectives = CollectiveModel::kHierarchicalRing;  // a scenario file's default: kNccl on CUDA devices
  std::string nccl_algo;  // NCCL_ALGO forced: "ring", "tree", "nvls", "nvls_tree", "pat"; empty: the tuner's choice
  int nodes_per_leaf = 1;         // nodes under one leaf switch of the two-level fat tree
  double oversubscription = 1.0;  // a leaf's down-link bandwidth over its up-link bandwidth
  // Stragglers left in place by [faults] (see faults.h): per GPU, its compute time's factor;
  // per node, its network links' time factor. Empty: every factor 1.
  std::vector<double> gpu_slowdown;
  std::vector<double> nic_slowdown;
  // Collectives measured on this cluster (--profile's /collectives): where they hold a group's
  // shape, their time replaces the collective model's (planner/cost/collective_table.h).
  std::shared_ptr<const CollectiveTable> measured_collectives;
  int gpus() const { return nodes * gpus_per_node; }
  // The link a message from GPU a to GPU b crosses first: NVLink inside a node, else the network.
  const Link& link_between(int a, int b) const {
    return gpus_per_node > 0 && a / gpus_per_node == b / gpus_per_node ? intra_node : inter_node;
  }
  double gpu_factor(int device) const { return gpu_slowdown.empty() ? 1.0 : gpu_slowdown[static_cast<size_t>(device)]; }
  double nic_factor(int node) const { return nic_slowdown.empty() ? 1.0 : nic_slowdown[static_cast<size_t>(node)]; }
};

enum class LossKind { kContrastive, kCrossEntropy };
const char* loss_kind_name(LossKind k);

struct Task {
  std::string name;
  std::vector<int> components;  // model component indices, in model topological order
  int batch = 0;                // global batch size (samples per iteration)
  LossKind loss = LossKind::kContrastive;
  std::map<int, int> tokens;    // per-task token counts overriding a component's `tokens`
};

struct Scenario {
  std::string name;
  std::string file;  // as given on the command line
  std::uint64_t seed = 0;
  Cluster cluster;
  ModelSpec model;
  std::vector<Task> tasks;
  PlannerOptions planner;
  Faults faults;  // [faults] as written; spindle-sim plans on what they leave (faults.h)

  // Tokens of component `c`'s own input in task `t` (0 when it has no embedding).
  int own_tokens(const Task& t, int c) const;
  bool task_uses(const Task& t, int c) const;
};

struct LoadOptions {
  std::vector<std::string> overrides;                // "KEY=VALUE", applied in order
  std::vector<std::filesystem::path> preset_dirs;    // searched after the scenario's own folder
  // When not empty: keep only these tasks (by name, in the file's order), e.g. a study's task
  // subset; a name that is not a task is an InputError.
  std::vector<std::string> only_tasks{};
  // Values set at dotted keys once `extends` is resolved and before `overrides` (a study
  // point's sweep values; they keep the location they were written at).
  std::vector<std::pair<std::string, config::Value>> values{};
};

// The folder holding the project's models/ and gpus/ presets (compiled in).
std::filesystem::path default_data_dir();

// Reads and validates a scenario file. Throws InputError on any bad input.
Scenario load_scenario(const std::filesystem::path& file, const LoadOptions& options = {});

// The same from TOML text named `name`, resolving presets and `extends` against `base_dir`.
Scenario load_scenario_text(const std::string& text, const std::string& name,
                            const std::filesystem::path& base_dir,
                            const LoadOptions& options = {});

// The same from an already parsed tree (a study point: the study file with its sweep values
// set), `file` naming it in messages and `base_dir` resolving `extends` and presets.
Scenario load_scenario_tree(config::Value root, const std::string& file, const std::filesystem::path& base_dir,
                            const LoadOptions& options = {});

}  // namespace spindle
