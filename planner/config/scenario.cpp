// Scenario loading: parse, resolve `extends`, apply --set overrides, merge the model preset,
// read every table strictly, then check the cross-references between components and tasks.
#include "planner/config/scenario.h"

#include <algorithm>
#include <set>

#include "planner/config/config_reader.h"
#include "planner/config/toml_reader.h"
#include "planner/graph/graph_algorithms.h"
#include "traces/errors.h"
#include "traces/names.h"

#ifndef SPINDLE_DATA_DIR
#error "SPINDLE_DATA_DIR must be defined by the build"
#endif

namespace spindle {

using config::Location;
using config::TableReader;
using config::Value;
namespace fs = std::filesystem;

const char* component_kind_name(ComponentKind k) {
  switch (k) {
    case ComponentKind::kEncoder: return "encoder";
    case ComponentKind::kDecoder: return "decoder";
    case ComponentKind::kResampler: return "resampler";
    case ComponentKind::kProjection: return "projection";
    case ComponentKind::kLmHead: return "lm_head";
  }
  return "?";
}

const char* embedding_name(Embedding e) {
  switch (e) {
    case Embedding::kNone: return "none";
    case Embedding::kPatch: return "patch";
    case Embedding::kToken: return "token";
  }
  return "?";
}

const char* mlp_name(Mlp m) { return m == Mlp::kGelu ? "gelu" : "swiglu"; }

const char* collective_model_name(CollectiveModel m) {
  return m == CollectiveModel::kNccl ? "nccl" : "hierarchical_ring";
}

const char* loss_kind_name(LossKind k) {
  return k == LossKind::kContrastive ? "contrastive" : "cross_entropy";
}

const Component* ModelSpec::find(const std::string& n) const {
  int i = index_of(n);
  return i < 0 ? nullptr : &components[static_cast<size_t>(i)];
}

int ModelSpec::index_of(const std::string& n) const {
  for (size_t i = 0; i < components.size(); ++i)
    if (components[i].name == n) return static_cast<int>(i);
  return -1;
}

std::vector<std::string> ModelSpec::names() const {
  std::vector<std::string> out;
  for (const Component& c : components) out.push_back(c.name);
  return out;
}

int Scenario::own_tokens(const Task& t, int c) const {
  const Component& comp = model.components[static_cast<size_t>(c)];
  if (!comp.has_embedding()) return 0;
  auto it = t.tokens.find(c);
  return it != t.tokens.end() ? it->second : comp.tokens;
}

std::vector<int> ModelSpec::sinks(const std::vector<int>& used) const {
  std::vector<int> out;
  for (int c : used) {
    const std::string& cname = components[static_cast<size_t>(c)].name;
    bool consumed = false;
    for (int d : used) {
      const Component& other = components[static_cast<size_t>(d)];
      for (const auto* list : {&other.inputs, &other.cross_inputs})
        consumed = consumed || std::find(list->begin(), list->end(), cname) != list->end();
    }
    if (!consumed) out.push_back(c);
  }
  return out;
}

bool Scenario::task_uses(const Task& t, int c) const {
  return std::find(t.components.begin(), t.components.end(), c) != t.components.end();
}

fs::path default_data_dir() { return fs::path(SPINDLE_DATA_DIR); }

namespace {

constexpr int kMaxExtends = 8;
constexpr std::int64_t kMaxDim = 1 << 20;

// Where each component was written, for cross-reference messages.
struct ComponentPlace {
  Location table, inputs, cross_inputs, tie;
};

class Loader {
 public:
  Loader(fs::path base_dir, const LoadOptions& options) : options_(options) {
    dirs_.push_back(std::move(base_dir));
    for (const fs::path& d : options.preset_dirs) dirs_.push_back(d);
    dirs_.push_back(default_data_dir());
  }

  Scenario load(Value root, const std::string& file) {
    file_ = file;
    root = resolve_extends(std::move(root), dirs_.front(), 0);
    for (const auto& [key, value] : options_.values) config::set_path(root, key, value);
    for (const std::string& o : options_.overrides) apply_override(root, o);
    if (!options_.only_tasks.empty()) keep_tasks(root);

    Scenario s;
    s.file = file;
    TableReader top(root, "");
    TableReader sc = top.table("scenario");
    s.name = sc.name("name", "a name for the study");
    s.seed = static_cast<std::uint64_t>(sc.integer_or("seed", 1, 0, INT64_MAX));
    sc.string_or("extends", "", "a scenario file, relative to this file's folder");
    sc.finish();
    s.cluster = read_cluster(top.table("cluster"));
    read_model(top, s);
    read_tasks(top, s);
    if (auto planner = top.optional_table("planner")) {
      s.planner.zero1 = planner->boolean_or("zero1", false);
      s.planner.workspace_GiB = planner->number_or("workspace_GiB", 2.0, 0, 1e4);
      s.planner.grad_reduce_bytes = planner->choice_or("grad_reduce_dtype", "fp32", {"fp32", "bf16"}) == "fp32" ? 4 : 2;
      s.planner.sync_bucket_Mparams = planner->number_or("sync_bucket_Mparams", 0, 0, 1e6);
      s.planner.score_candidates_up_to_gpus =
          static_cast<int>(planner->integer_or("score_candidates_up_to_gpus", 128, 0, 1 << 20));
      read_tp(*planner, s);
      planner->finish();
    }
    if (auto faults = top.optional_table("faults")) s.faults = read_faults(*faults, s.cluster);
    top.finish();
    return s;
  }

 private:
  Value resolve_extends(Value root, const fs::path& dir, int depth) {
    if (!root.is_table()) return root;
    Value* sc = root.table().find("scenario");
    if (sc == nullptr || !sc->is_table()) return root;
    const Value* ext = sc->table().find("extends");
    if (ext == nullptr) return root;
    const std::string allowed = "a scenario file, relative to this file's folder";
    if (ext->type() != Value::Type::kString)
      config::fail(ext->loc(), "scenario.extends",
                   std::string("expected string, found ") + Value::type_name(ext->type()), allowed);
    if (depth >= kMaxExtends)
      config::fail(ext->loc(), "scenario.extends",
                   "more than " + std::to_string(kMaxExtends) + " files extend each other (a loop?)",
                   allowed);
    fs::path base_file = dir / ext->string();
    std::error_code ec;
    const fs::file_status status = fs::status(base_file, ec);
    if (!fs::exists(status))
      config::fail(ext->loc(), "scenario.extends", "no such file '" + base_file.string() + "'", allowed);
    if (!fs::is_regular_file(status))
      config::fail(ext->loc(), "scenario.extends",
                   "'" + base_file.string() + "' is " +
                       (fs::is_directory(status) ? "a folder" : "not a regular file (a device, pipe or socket)"),
                   allowed);
    Value base = resolve_extends(config::parse_toml_file(base_file), base_file.parent_path(),
                                 depth + 1);
    config::overlay(base, root);
    return base;
  }

  void apply_override(Value& root, const std::string& assignment) {
    Location loc{"--set " + assignment, 0, 0};
    size_t eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0)
      config::fail(loc, "", "expected KEY=VALUE",
                   "KEY=VALUE with KEY a dotted path such as cluster.nodes or tasks.0.batch");
    if (assignment.substr(0, eq) == "scenario.extends")
      config::fail(loc, "scenario.extends", "cannot be set from the command line (the base file is read first)",
                   "extends in the scenario file");
    config::set_path(root, assignment.substr(0, eq),
                     config::parse_override_value(assignment.substr(eq + 1), loc));
  }

  // Keeps the tasks named in options_.only_tasks (LoadOptions::only_tasks).
  void keep_tasks(Value& root) {
    Value* tasks = root.is_table() ? root.table().find("tasks") : nullptr;
    if (tasks == nullptr || tasks->type() != Value::Type::kArray) return;  // read_tasks reports it
    std::vector<std::string> names;
    config::Array kept;
    for (const Value& t : tasks->array()) {
      const Value* n = t.is_table() ? t.table().find("name") : nullptr;
      const std::string name = n != nullptr && n->type() == Value::Type::kString ? n->string() : "";
      names.push_back(name);
      if (std::find(options_.only_tasks.begin(), options_.only_tasks.end(), name) != options_.only_tasks.end())
        kept.push_back(t);
    }
    for (const std::string& want : options_.only_tasks)
      if (std::find(names.begin(), names.end(), want) == names.end())
        config::fail(tasks->loc(), "tasks", "no task named '" + want + "' to keep", "one of " + config::join(names));
    tasks->array() = std::move(kept);
  }

  fs::path find_preset(const std::string& sub, const std::string& name, const Location& loc,
                       const std::string& path) {
    std::set<std::string> available;
    for (const fs::path& d : dirs_) {
      fs::path candidate = d / sub / (name + ".toml");
      std::error_code ec;
      if (name.find('/') == std::string::npos && fs::is_regular_file(candidate, ec))
        return candidate;
      if (fs::is_directory(d / sub, ec))
        for (const auto& e : fs::directory_iterator(d / sub, ec))
          if (e.path().extension() == ".toml") available.insert(e.path().stem().string());
    }
    config::fail(loc, path, "no file '" + sub + "/" + name + ".toml'",
                 available.empty() ? "a file name in " + sub + "/"
                                   : "one of " + config::join({available.begin(), available.end()}));
  }

  GpuSpec read_gpu(const std::string& id, const Location& loc) {
    fs::path file = find_preset("gpus", id, loc, "cluster.gpu");
    Value tree = config::parse_toml_file(file);
    TableReader top(tree, "");
    TableReader g = top.table("gpu");
    GpuSpec spec;
    spec.id = id;
    spec.name = g.string("name");
    spec.hbm_bw_GBps = g.number("hbm_bw_GBps", 1e-3, 1e7);
    spec.memory_GB = g.number("memory_GB", 1e-3, 1e6);
    spec.nvlink_bw_GBps = g.number("nvlink_bw_GBps", 1e-3, 1e6);
    const std::string arch = g.choice("arch", {"volta", "ampere", "hopper", "blackwell"});
    spec.arch = arch == "volta" ? GpuArch::kVolta : arch == "ampere" ? GpuArch::kAmpere
                : arch == "hopper" ? GpuArch::kHopper : GpuArch::kBlackwell;
    spec.nvlink_sharp = g.boolean_or("nvlink_sharp", false);
    spec.launch_overhead_us = g.number("launch_overhead_us", 0, 1e4);
    spec.hbm_efficiency = g.number("hbm_efficiency", 0.01, 1);
    spec.attention_efficiency = g.number("attention_efficiency", 0.01, 1);
    spec.gemm_peak_efficiency = g.number("gemm_peak_efficiency", 0.01, 1);
    spec.gemm_half_GFLOP = g.number("gemm_half_GFLOP", 0, 1e6);
    spec.gemm_half_dim = g.number("gemm_half_dim", 0, 1e6);
    spec.backend = g.choice_or("backend", "cuda", {"cuda", "cpu"});
    spec.compute_dtype = g.choice_or("compute_dtype", spec.backend == "cpu" ? "fp32" : "bf16", {"bf16", "fp32", "fp16"});
    // The peak in the compute dtype, its unit and dtype in the key's name.
    spec.bf16_dense_TFLOPS = g.number(spec.compute_dtype + "_dense_TFLOPS", 1e-3, 1e6);
    spec.reported_names = g.string_list_or("reported_names", "a list of device names as the system reports them");
    if (spec.reported_names.empty()) spec.reported_names.push_back(spec.name);
    g.finish();
    top.finish();
    return spec;
  }

  static Link read_link(TableReader r) {
    Link l;
    l.bw_GBps = r.number("bw_GBps", 1e-6, 1e6);
    l.latency_us = r.number("latency_us", 0, 1e6);
    l.efficiency = r.number_or("efficiency", 0.8, 1e-3, 1.0);
    if (r.has("eager_limit_B")) l.eager_limit_B = r.number("eager_limit_B", 0, 1e15);
    r.finish();
    return l;
  }

  // [faults]: ids within the cluster, each once per list, slowdowns in [1, 1000].
  static Faults read_faults(TableReader& r, const Cluster& c) {
    auto ids = [&](const std::string& key, int count, const std::string& what) {
      std::vector<int> out;
      const Value* v = r.find(key);
      if (v == nullptr) return out;
      const std::string allowed = "a list of " + what + " ids, 0 to " + std::to_string(count - 1) + ", each once";
      if (v->type() != Value::Type::kArray) config::fail(v->loc(), r.key_path(key), "expected a list", allowed);
      for (const Value& e : v->array()) {
        if (e.type() != Value::Type::kInteger || e.integer() < 0 || e.integer() >= count)
          config::fail(e.loc(), r.key_path(key), "not a " + what + " of this cluster", allowed);
        if (std::find(out.begin(), out.end(), static_cast<int>(e.integer())) != out.end())
          config::fail(e.loc(), r.key_path(key), what + " " + std::to_string(e.integer()) + " named twice", allowed);
        out.push_back(static_cast<int>(e.integer()));
      }
      return out;
    };
    auto slowed = [&](const std::string& key, const std::string& id_key, int count) {
      std::vector<Straggler> out;
      const Value* v = r.find(key);
      if (v == nullptr) return out;
      if (v->type() != Value::Type::kArray)
        config::fail(v->loc(), r.key_path(key), "expected a list of tables",
                     "[{" + id_key + " = 3, slowdown = 1.5}, ...]");
      for (size_t i = 0; i < v->array().size(); ++i) {
        TableReader t(v->array()[i], r.key_path(key) + "." + std::to_string(i));
        Straggler st{static_cast<int>(t.integer(id_key, 0, count - 1)), t.number("slowdown", 1.0, 1000.0)};
        t.finish();
        for (const Straggler& o : out)
          if (o.id == st.id)
            config::fail(t.loc(), t.path(), id_key + " " + std::to_string(st.id) + " named twice", "each " + id_key + " once");
        out.push_back(st);
      }
      return out;
    };
    Faults f;
    f.failed_nodes = ids("failed_nodes", c.nodes, "node");
    f.failed_gpus = ids("failed_gpus", c.gpus(), "GPU");
    f.failed_nics = ids("failed_nics", c.nodes, "node");
    f.stragglers = slowed("stragglers", "gpu", c.gpus());
    f.slow_nics = slowed("slow_nics", "node", c.nodes);
    r.finish();
    return f;
  }

  Cluster read_cluster(TableReader r) {
    Cluster c;
    c.nodes = static_cast<int>(r.integer("nodes", 1, 65536));
    c.gpus_per_node = static_cast<int>(r.integer("gpus_per_node", 1, 64));
    std::string gpu = r.string("gpu", "a file name in gpus/ without .toml, such as a800-80gb");
    c.gpu = read_gpu(gpu, r.loc_of("gpu"));
    c.intra_node = read_link(r.table("intra_node"));
    c.inter_node = read_link(r.table("inter_node"));
    c.nic = r.choice_or("nic", "per_node", {"per_node", "per_gpu"}) == "per_gpu" ? NicPlacement::kPerGpu
                                                                             : NicPlacement::kPerNode;
    c.nvls = r.boolean_or("nvls", c.gpu.nvlink_sharp);
    if (c.nvls && !c.gpu.nvlink_sharp)
      config::fail(r.loc_of("nvls"), r.key_path("nvls"), c.gpu.name + " has no NVLink SHARP",
                   "nvls = true only on GPUs whose file says nvlink_sharp = true");
    // NCCL's model where NCCL runs (CUDA devices); MPI's ranks on the CPU backend move data in
    // rings, which the hierarchical ring stands for.
    const bool cpu = c.gpu.backend == "cpu";
    const CollectiveModel fallback = cpu ? CollectiveModel::kHierarchicalRing : CollectiveModel::kNccl;
    const std::string model =
        r.choice_or("collectives", collective_model_name(fallback), {"hierarchical_ring", "nccl"});
    c.collectives = model == collective_model_name(CollectiveModel::kNccl) ? CollectiveModel::kNccl
                                                                           : CollectiveModel::kHierarchicalRing;
    if (cpu && c.collectives == CollectiveModel::kNccl)
      config::fail(r.loc_of("collectives"), r.key_path("collectives"),
                   c.gpu.name + " runs on the CPU backend, where no NCCL runs",
                   "collectives = \"hierarchical_ring\" (MPI's rings) on CPU devices");
    c.nccl_algo = r.string_or("nccl_algo", "", "ring, tree, nvls, nvls_tree or pat");
    const std::vector<std::string> algos = {"ring", "tree", "nvls", "nvls_tree", "pat"};
    if (!c.nccl_algo.empty() && std::find(algos.begin(), algos.end(), c.nccl_algo) == algos.end())
      config::fail(r.loc_of("nccl_algo"), r.key_path("nccl_algo"), "'" + c.nccl_algo + "' is not an NCCL algorithm",
                   "one of ring, tree, nvls, nvls_tree, pat (NCCL_ALGO's names in lower case); none: the tuner's choice");
    if (!c.nccl_algo.empty() && c.collectives != CollectiveModel::kNccl)
      config::fail(r.loc_of("nccl_algo"), r.key_path("nccl_algo"), "NCCL_ALGO set where collectives are not NCCL's",
                   "nccl_algo with collectives = \"nccl\" (the default on CUDA devices)");
    c.nodes_per_leaf = static_cast<int>(r.integer_or("nodes_per_leaf", 1, 1, 65536));
    c.oversubscription = r.number_or("oversubscription", 1.0, 1.0, 1e3);
    r.finish();
    return c;
  }

  void read_model(TableReader& top, Scenario& s) {
    const Value* model = top.find("model");
    if (model == nullptr)
      config::fail(top.loc(), "", "missing table [model]",
                   "[model] with preset = \"NAME\" (scenarios/models/NAME.toml) or components");
    TableReader first(*model, "model");
    std::string preset = first.string_or("preset", "", "a file name in models/ without .toml");
    Value merged = *model;
    if (!preset.empty()) {
      fs::path file = find_preset("models", preset, first.loc_of("preset"), "model.preset");
      Value tree = config::parse_toml_file(file);
      TableReader ptop(tree, "");
      TableReader pmodel = ptop.table("model");
      if (pmodel.has("preset"))
        config::fail(pmodel.loc_of("preset"), "model.preset", "a preset cannot name another preset",
                     "components and name only");
      ptop.finish();
      merged = *tree.table().find("model");
      config::overlay(merged, *model);
    }
    TableReader m(merged, "model");
    m.string_or("preset", "", "a file name in models/ without .toml");
    s.model.name = m.name_or("name", preset.empty() ? s.name : preset, "a name for the model");
    TableReader comps = m.table("components");
    std::vector<ComponentPlace> places;
    const config::Table& table = merged.table().find("components")->table();
    for (const config::Entry& e : table.entries()) {
      comps.find(e.key);
      if (const std::string problem = name_problem(e.key); !problem.empty())
        config::fail(e.key_loc, "model.components", "component name '" + e.key + "' " + problem,
                     std::string("component names of ") + kNameRule);
      places.push_back(ComponentPlace{e.value.loc(), {}, {}, {}});
      s.model.components.push_back(read_component(
          e.key, TableReader(e.value, "model.components." + e.key), places.back()));
    }
    if (s.model.components.empty())
      config::fail(comps.loc(), comps.path(), "no components", "at least one component table");
    m.finish();
    check_component_refs(s.model, places);
  }

  // Fails when `key` is set although the component's other settings make it meaningless.
  static void only_with(TableReader& r, const std::string& key, bool used, const std::string& when) {
    const Value* v = r.find(key);
    if (v != nullptr && !used)
      config::fail(v->loc(), r.key_path(key), "only used " + when, "remove it, or " + when);
  }

  static Component read_component(const std::string& name, TableReader r, ComponentPlace& place) {
    Component c;
    c.name = name;
    std::string kind = r.choice("kind", {"encoder", "decoder", "resampler", "projection", "lm_head"});
    c.kind = kind == "encoder"     ? ComponentKind::kEncoder
             : kind == "decoder"   ? ComponentKind::kDecoder
             : kind == "resampler" ? ComponentKind::kResampler
             : kind == "projection" ? ComponentKind::kProjection
                                    : ComponentKind::kLmHead;
    c.modality = name;
    c.inputs = r.string_list_or("inputs", "a list of component names");
    place.inputs = r.loc_of("inputs");
    const bool stack = c.kind == ComponentKind::kEncoder || c.kind == ComponentKind::kDecoder;
    if (c.kind != ComponentKind::kLmHead) c.hidden = static_cast<int>(r.integer("hidden", 1, 65536));

    if (stack) {
      c.layers = static_cast<int>(r.integer("layers", 0, 4096));
      only_with(r, "heads", c.layers > 0, "with layers > 0");
      only_with(r, "ffn", c.layers > 0, "with layers > 0");
      only_with(r, "mlp", c.layers > 0, "with layers > 0");
      if (c.layers > 0) {
        c.heads = static_cast<int>(r.integer("heads", 1, 1024));
        if (c.hidden % c.heads != 0)
          config::fail(r.loc_of("heads"), r.key_path("heads"),
                       std::to_string(c.heads) + " heads do not divide hidden " +
                           std::to_string(c.hidden),
                       "a divisor of hidden");
        c.ffn = static_cast<int>(r.integer("ffn", 1, kMaxDim));
        c.mlp = r.choice_or("mlp", "gelu", {"gelu", "swiglu"}) == "gelu" ? Mlp::kGelu : Mlp::kSwiglu;
      }
      if (c.kind == ComponentKind::kEncoder) {
        only_with(r, "causal", c.layers > 0, "with layers > 0");
        c.causal = r.boolean_or("causal", false);
      } else {
        c.causal = r.boolean_or("causal", true);
        if (!c.causal)
          config::fail(r.loc_of("causal"), r.key_path("causal"), "decoders are causal",
                       "true, or kind = \"encoder\" for bidirectional attention");
        c.cross_inputs = r.string_list_or("cross_inputs", "a list of component names");
        place.cross_inputs = r.loc_of("cross_inputs");
      }
      std::string emb = r.choice_or("embedding", "none", {"none", "patch", "token"});
      c.embedding = emb == "patch" ? Embedding::kPatch : emb == "token" ? Embedding::kToken : Embedding::kNone;
      only_with(r, "modality", c.has_embedding(), "with an embedding (patch or token)");
      c.modality = r.string_or("modality", name, "the kind of data its embedding reads");
    }
    only_with(r, "patch_dim", c.embedding == Embedding::kPatch, "with embedding = \"patch\"");
    only_with(r, "tokens", c.has_embedding(), "with an embedding (patch or token)");
    const bool token_like = c.embedding == Embedding::kToken || c.kind == ComponentKind::kLmHead;
    only_with(r, "vocab", token_like, "with embedding = \"token\" or kind = \"lm_head\"");
    only_with(r, "tie_embedding", token_like, "with embedding = \"token\" or kind = \"lm_head\"");
    if (c.embedding == Embedding::kPatch) c.patch_dim = static_cast<int>(r.integer("patch_dim", 1, kMaxDim));
    if (c.has_embedding()) c.tokens = static_cast<int>(r.integer("tokens", 1, kMaxDim));
    if (token_like) {
      c.tie_embedding = r.string_or("tie_embedding", "", "the name of a component with a token embedding");
      place.tie = r.loc_of("tie_embedding");
      if (c.tie_embedding.empty()) {
        c.vocab = static_cast<int>(r.integer("vocab", 1, 1 << 24));
      } else if (r.has("vocab")) {
        config::fail(r.loc_of("vocab"), r.key_path("vocab"),
                     "set together with tie_embedding (the vocabulary comes from '" + c.tie_embedding + "')",
                     "either vocab or tie_embedding");
      }
    }
    if (stack && c.layers == 0 && !c.has_embedding())
      config::fail(r.loc(), r.path(), "has no layers and no embedding", "layers > 0 or an embedding");
    if (stack && c.layers == 0 && !c.inputs.empty())
      config::fail(place.inputs, r.key_path("inputs"), "a component with layers = 0 is an embedding only",
                   "no inputs when layers = 0");
    if (stack && c.layers == 0 && !c.cross_inputs.empty())
      config::fail(place.cross_inputs, r.key_path("cross_inputs"), "a component with layers = 0 has no cross-attention",
                   "no cross_inputs when layers = 0");
    if (c.kind == ComponentKind::kResampler) {
      c.queries = static_cast<int>(r.integer("queries", 1, kMaxDim));
      c.heads = static_cast<int>(r.integer("heads", 1, 1024));
      if (c.hidden % c.heads != 0)
        config::fail(r.loc_of("heads"), r.key_path("heads"),
                     std::to_string(c.heads) + " heads do not divide hidden " + std::to_string(c.hidden),
                     "a divisor of hidden");
    }
    if (c.kind == ComponentKind::kProjection) c.out_tokens = static_cast<int>(r.integer_or("out_tokens", 1, 1, kMaxDim));
    const bool needs_inputs = !stack || !c.has_embedding();
    if (needs_inputs && c.inputs.empty())
      config::fail(place.inputs, r.key_path("inputs"), "a " + kind + " without an embedding needs inputs",
                   "a list of component names");
    if (c.kind == ComponentKind::kLmHead && c.inputs.size() != 1)
      config::fail(place.inputs, r.key_path("inputs"), "an lm_head reads exactly one component",
                   "one component name");
    r.finish();
    return c;
  }

  void check_component_refs(ModelSpec& model, const std::vector<ComponentPlace>& places) const {
    const std::string all = "one of " + config::join(model.names());
    std::vector<DagEdge> edges;
    for (size_t i = 0; i < model.components.size(); ++i) {
      const Component& c = model.components[i];
      const std::string path = "model.components." + c.name;
      auto check_list = [&](const std::vector<std::string>& names, const Location& loc,
                            const std::string& key) {
        for (const std::string& n : names) {
          int j = model.index_of(n);
          if (j < 0) config::fail(loc, path + "." + key, "'" + n + "' is not a component", all);
          if (static_cast<size_t>(j) == i)
            config::fail(loc, path + "." + key, "'" + n + "' reads itself", "other components");
          const Component& in = model.components[static_cast<size_t>(j)];
          if (in.kind == ComponentKind::kLmHead)
            config::fail(loc, path + "." + key, "'" + n + "' is an lm_head: it ends in a loss",
                         "components that produce activations");
          const bool concatenates = c.kind == ComponentKind::kEncoder || c.kind == ComponentKind::kDecoder;
          if (concatenates && in.hidden != c.hidden)
            config::fail(loc, path + "." + key,
                         "'" + n + "' has hidden " + std::to_string(in.hidden) + " but " + c.name +
                             " has " + std::to_string(c.hidden),
                         "inputs of the same width, or a resampler or projection in between");
          edges.push_back(DagEdge{j, static_cast<int>(i)});
        }
      };
      check_list(c.inputs, places[i].inputs, "inputs");
      for (const std::string& n : c.inputs)
        if (model.find(n)->hidden != model.find(c.inputs.front())->hidden)
          config::fail(places[i].inputs, path + ".inputs",
                       "'" + n + "' and '" + c.inputs.front() + "' differ in hidden width",
                       "inputs of one width (they are concatenated)");
      check_list(c.cross_inputs, places[i].cross_inputs, "cross_inputs");
      if (!c.tie_embedding.empty()) {
        const Component* t = model.find(c.tie_embedding);
        const std::string p = path + ".tie_embedding";
        if (t == nullptr) config::fail(places[i].tie, p, "'" + c.tie_embedding + "' is not a component", all);
        if (t->embedding != Embedding::kToken || !t->tie_embedding.empty())
          config::fail(places[i].tie, p, "'" + c.tie_embedding + "' has no token embedding of its own",
                       "a component with embedding = \"token\" and a vocab");
        const int width = c.kind == ComponentKind::kLmHead
                              ? model.components[static_cast<size_t>(model.index_of(c.inputs[0]))].hidden
                              : c.hidden;
        if (t->hidden != width)
          config::fail(places[i].tie, p,
                       "'" + c.tie_embedding + "' has hidden " + std::to_string(t->hidden) + ", not " +
                           std::to_string(width),
                       "a token embedding of the same width");
      }
    }
    try {
      model.topo_order = topological_order(static_cast<int>(model.components.size()), edges);
    } catch (const CycleError& e) {
      // Blame the edge where the user wrote it: of the cycle's edges (each an entry of its
      // reader's inputs or cross_inputs), the first set by a --set override, else the first
      // written in this scenario file, else the first (written in a preset).
      const std::vector<int>& cyc = e.cycle();
      std::vector<std::string> names;
      for (int v : cyc) names.push_back(model.components[static_cast<size_t>(v)].name);
      names.push_back(names.front());
      Location at;
      std::string key, closing;
      int best = -1;
      for (size_t k = 0; k < cyc.size(); ++k) {
        const size_t reader = static_cast<size_t>(cyc[(k + 1) % cyc.size()]);
        const Component& c = model.components[reader];
        const bool plain = std::find(c.inputs.begin(), c.inputs.end(), names[k]) != c.inputs.end();
        const Location& loc = plain ? places[reader].inputs : places[reader].cross_inputs;
        const int rank = loc.from_override() ? 2 : loc.file == file_ ? 1 : 0;
        if (rank > best) {
          best = rank;
          at = loc;
          key = "model.components." + c.name + (plain ? ".inputs" : ".cross_inputs");
          closing = names[k];
        }
      }
      config::fail(at, key, "reading '" + closing + "' closes a cycle: " + config::join(names, " -> "),
                   "inputs that form no cycle");
    }
    // Stable order for users: declaration order, moved only as far as inputs require.
    std::vector<int> order;
    std::vector<bool> placed(model.components.size(), false);
    while (order.size() < model.components.size()) {
      for (size_t i = 0; i < model.components.size(); ++i) {
        if (placed[i]) continue;
        bool ready = true;
        for (const DagEdge& e : edges)
          if (e.to == static_cast<int>(i) && !placed[static_cast<size_t>(e.from)]) ready = false;
        if (ready) {
          placed[i] = true;
          order.push_back(static_cast<int>(i));
          break;
        }
      }
    }
    model.topo_order = order;
  }

  void read_tasks(TableReader& top, Scenario& s) {
    const Value* tasks = top.find("tasks");
    const std::string allowed = "[[tasks]] tables with name, components, batch, loss";
    if (tasks == nullptr) config::fail(top.loc(), "", "no [[tasks]]", allowed);
    if (tasks->type() != Value::Type::kArray || tasks->array().empty())
      config::fail(tasks->loc(), "tasks", "expected a non-empty array of tables", allowed);
    std::set<std::string> names;
    for (size_t i = 0; i < tasks->array().size(); ++i) {
      TableReader r(tasks->array()[i], "tasks." + std::to_string(i));
      s.tasks.push_back(read_task(r, s.model));
      if (!names.insert(s.tasks.back().name).second)
        config::fail(r.loc_of("name"), r.key_path("name"), "'" + s.tasks.back().name + "' is used twice",
                     "a unique task name");
    }
  }

  static Task read_task(TableReader& r, const ModelSpec& model) {
    Task t;
    t.name = r.name("name", "a unique task name");
    const std::string all = "component names: " + config::join(model.names());
    std::vector<std::string> comps = r.string_list_or("components", all);
    Location comps_loc = r.loc_of("components");
    if (comps.empty()) config::fail(comps_loc, r.key_path("components"), "no components", all);
    for (const std::string& n : comps)
      if (model.index_of(n) < 0)
        config::fail(comps_loc, r.key_path("components"), "'" + n + "' is not a component", all);
    for (int c : model.topo_order)
      if (std::find(comps.begin(), comps.end(), model.components[static_cast<size_t>(c)].name) != comps.end())
        t.components.push_back(c);
    t.batch = static_cast<int>(r.integer("batch", 1, 1 << 24));
    t.loss = r.choice("loss", {"contrastive", "cross_entropy"}) == "contrastive" ? LossKind::kContrastive
                                                                                  : LossKind::kCrossEntropy;
    if (auto tok = r.optional_table("tokens")) {
      for (const config::Entry& e : r.find("tokens")->table().entries()) {
        int c = model.index_of(e.key);
        const Component* comp = c < 0 ? nullptr : &model.components[static_cast<size_t>(c)];
        if (comp == nullptr || !comp->has_embedding() ||
            std::find(comps.begin(), comps.end(), e.key) == comps.end())
          config::fail(e.key_loc, tok->key_path(e.key), "not a component of this task with an embedding",
                       "names of this task's components that have an embedding");
        t.tokens[c] = static_cast<int>(tok->integer(e.key, 1, kMaxDim));
      }
      tok->finish();
    }
    r.finish();
    check_task_flow(t, r, model, comps_loc);
    return t;
  }

  // [planner] max_tp and tp = { component = degree }: powers of two up to a node's GPUs, for
  // components with attention layers.
  static void read_tp(TableReader& planner, Scenario& s) {
    const int gpn = s.cluster.gpus_per_node;
    std::string degrees;
    for (int t : {1, 2, 4, 8})
      if (gpn % t == 0) degrees += (degrees.empty() ? "" : ", ") + std::to_string(t);
    const std::string allowed = "one of " + degrees + " (powers of two dividing cluster.gpus_per_node = " +
                                std::to_string(gpn) + ")";
    auto degree = [&](TableReader& r, const std::string& key) {
      const Value* v = r.find(key);
      const std::int64_t t = r.integer(key, 1, 8);
      if ((t & (t - 1)) != 0 || gpn % t != 0) config::fail(v->loc(), r.key_path(key), std::to_string(t) + " is not allowed", allowed);
      return static_cast<int>(t);
    };
    if (planner.has("max_tp")) s.planner.max_tp = degree(planner, "max_tp");
    else s.planner.max_tp = 8;
    if (auto tp = planner.optional_table("tp")) {
      for (const config::Entry& e : planner.find("tp")->table().entries()) {
        const int c = s.model.index_of(e.key);
        if (c < 0 || !s.model.components[static_cast<size_t>(c)].has_attention())
          config::fail(e.key_loc, tp->key_path(e.key), "not a component with attention layers",
                       "names of the model's encoder, decoder or resampler components");
        const int t = degree(*tp, e.key);
        if (t > s.planner.max_tp)
          config::fail(e.value.loc(), tp->key_path(e.key), std::to_string(t) + " exceeds planner.max_tp = " +
                       std::to_string(s.planner.max_tp), "a degree up to planner.max_tp");
        s.planner.tp[e.key] = t;
      }
      tp->finish();
    }
  }

  // Every component of a task must get data, and the task must end in its loss.
  static void check_task_flow(const Task& t, TableReader& r, const ModelSpec& model, const Location& loc) {
    auto in_task = [&](const std::string& n) {
      int c = model.index_of(n);
      return std::find(t.components.begin(), t.components.end(), c) != t.components.end();
    };
    const std::string path = r.key_path("components");
    std::vector<std::string> sinks;
    for (int c : t.components) {
      const Component& comp = model.components[static_cast<size_t>(c)];
      bool fed = comp.has_embedding() || std::any_of(comp.inputs.begin(), comp.inputs.end(), in_task);
      if (!fed)
        config::fail(loc, path, "'" + comp.name + "' gets no data: none of its inputs (" +
                                    config::join(comp.inputs) + ") is in the task",
                     "a component list that includes at least one input of each component");
      if (!comp.cross_inputs.empty() && !std::any_of(comp.cross_inputs.begin(), comp.cross_inputs.end(), in_task))
        config::fail(loc, path, "'" + comp.name + "' cross-attends to none of (" +
                                    config::join(comp.cross_inputs) + ") in this task",
                     "a component list that includes what each decoder cross-attends to");
    }
    for (int c : model.sinks(t.components)) sinks.push_back(model.components[static_cast<size_t>(c)].name);
    auto kind_of = [&](const std::string& n) { return model.find(n)->kind; };
    // Whether the task ends in its loss depends on both keys: blame the one a --set changed.
    const Location loss_loc = r.loc_of("loss");
    const bool blame_loss = loss_loc.from_override() && !loc.from_override();
    const Location& end_loc = blame_loss ? loss_loc : loc;
    const std::string end_path = blame_loss ? r.key_path("loss") : path;
    if (t.loss == LossKind::kContrastive) {
      bool ok = sinks.size() == 2 && kind_of(sinks[0]) == ComponentKind::kProjection &&
                kind_of(sinks[1]) == ComponentKind::kProjection;
      if (!ok)
        config::fail(end_loc, end_path, "a contrastive task must end in two projection heads, this one ends in " +
                                    config::join(sinks),
                     "components whose outputs end in exactly two projections");
      if (model.find(sinks[0])->hidden != model.find(sinks[1])->hidden)
        config::fail(loc, path, "projections " + sinks[0] + " and " + sinks[1] + " differ in width",
                     "two projections of the same hidden width");
      for (const std::string& n : sinks)
        if (model.find(n)->out_tokens != 1)
          config::fail(loc, path, "projection " + n + " keeps " + std::to_string(model.find(n)->out_tokens) +
                                      " tokens, a contrastive loss compares one embedding per sample",
                       "projections with out_tokens = 1 at the end of a contrastive task");
    } else if (sinks.size() != 1 || kind_of(sinks[0]) != ComponentKind::kLmHead) {
      config::fail(end_loc, end_path,
                   "a cross_entropy task must end in one lm_head, this one ends in " + config::join(sinks),
                   "components whose outputs end in exactly one lm_head");
    }
  }

  const LoadOptions& options_;
  std::vector<fs::path> dirs_;
  std::string file_;
};

}  // namespace

Scenario load_scenario(const fs::path& file, const LoadOptions& options) {
  Value root = config::parse_toml_file(file);
  return Loader(file.parent_path(), options).load(std::move(root), file.string());
}

Scenario load_scenario_text(const std::string& text, const std::string& name, const fs::path& base_dir,
                            const LoadOptions& options) {
  Value root = config::parse_toml_string(text, name);
  return Loader(base_dir, options).load(std::move(root), name);
}

Scenario load_scenario_tree(Value root, const std::string& file, const fs::path& base_dir, const LoadOptions& options) {
  return Loader(base_dir, options).load(std::move(root), file);
}

}  // namespace spindle
