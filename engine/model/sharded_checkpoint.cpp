// Sharded checkpoints of plan runs (see sharded_checkpoint.h for the format).
#include "engine/model/sharded_checkpoint.h"

#include <nlohmann/json.hpp>

#include <set>
#include <span>

#include "engine/model/binary_io.h"
#include "engine/model/tp_shards.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"

namespace spindle::engine {
namespace {

constexpr char kMagic[8] = {'S', 'P', 'N', 'D', 'L', 'S', 'H', 'D'};
constexpr std::uint32_t kVersion = 1;
constexpr const char* kFormat = "spindle sharded checkpoint";

// Where a held tensor (sharded name, local shape) sits in its unsharded tensor.
struct Place {
  std::string whole;  // unsharded name
  Dims dims;          // unsharded shape
  TpSplit split = TpSplit::kReplicated;
  int shard = 0, of = 1;

  // Local elements [first, last) as ranges of the unsharded tensor, in local order.
  ElementRanges ranges(std::int64_t first, std::int64_t last) const {
    if (of == 1 || split == TpSplit::kReplicated) return {{first, last}};
    return unsharded_ranges(dims, split, shard, of, first, last);
  }
};

Place place_of(const std::string& name, const Dims& local) {
  const ShardedName sn = parse_sharded(name);
  Place p;
  p.dims = local;
  if (sn.of == 1) {
    p.whole = name;
    return p;
  }
  p.whole = sn.unsharded();
  p.split = tp_split(sn.tensor);
  p.shard = sn.shard;
  p.of = sn.of;
  if (p.split != TpSplit::kReplicated) p.dims[p.split == TpSplit::kRows ? 0 : 1] *= sn.of;
  return p;
}

std::int64_t numel(const Dims& d) {
  std::int64_t n = 1;
  for (std::int64_t x : d) n *= x;
  return n;
}

std::string rank_file_name(std::int64_t step, int rank) {
  return "step-" + std::to_string(step) + ".rank-" + std::to_string(rank) + ".bin";
}

[[noreturn]] void bad(const std::filesystem::path& file, const std::string& what) {
  throw InputError(file.string() + ": " + what + "; allowed: a checkpoint spindle-run wrote for this scenario, scale and seed");
}

}  // namespace

std::string write_rank_shard(const std::filesystem::path& dir, int rank, const TrainingState& state, Backend& be,
                             const WeightStore& weights, const std::vector<std::pair<std::string, ElementRanges>>& counted) {
  binary::Writer w;
  w.bytes().append(kMagic, sizeof kMagic);
  w.put(kVersion);
  w.put(static_cast<std::uint32_t>(rank));
  w.put(static_cast<std::uint32_t>(counted.size()));
  for (const auto& [name, local] : counted) {
    const Param& p = weights.params().at(name);
    const Place pl = place_of(name, p.value.shape());
    ElementRanges whole;
    for (auto [f, l] : local)
      for (auto r : pl.ranges(f, l)) whole.push_back(r);
    w.str(pl.whole);
    w.put(static_cast<std::uint32_t>(pl.dims.size()));
    for (std::int64_t d : pl.dims) w.put(static_cast<std::uint64_t>(d));
    w.put(static_cast<std::uint32_t>(whole.size()));
    for (auto [f, l] : whole) {
      w.put(static_cast<std::uint64_t>(f));
      w.put(static_cast<std::uint64_t>(l));
    }
    for (const Tensor* t : {&p.value, &p.m, &p.v}) {
      // m and v may hold only a ZeRO-1 shard, from moments_first (the counted ranges lie in it).
      const std::int64_t first = t == &p.value ? 0 : p.moments_first;
      std::vector<float> host(static_cast<size_t>(t->numel()));
      be.download(*t, host);
      for (auto [f, l] : local) {
        if (f < first || l - first > t->numel())
          throw InternalError("checkpoint: elements [" + std::to_string(f) + "," + std::to_string(l) + ") of " + name +
                              " are not among those this device holds moments of");
        w.floats(std::vector<float>(host.begin() + (f - first), host.begin() + (l - first)));  // in the ranges' order
      }
    }
  }
  w.put(binary::fnv1a(w.bytes().data(), w.bytes().size()));
  const std::string file = rank_file_name(state.step, rank);
  write_file_atomically(dir / file, w.bytes());
  return file;
}

void write_manifest(const std::filesystem::path& dir, const TrainingState& state, const std::vector<std::string>& files) {
  nlohmann::json m;
  m["format"] = kFormat;
  m["version"] = kVersion;
  m["step"] = state.step;
  m["seed"] = state.seed;
  m["scale"] = state.scale;
  m["positions"] = nlohmann::json::array();
  for (const auto& [task, pos] : state.positions) m["positions"].push_back({{"task", task}, {"next_sample", pos}});
  m["files"] = files;
  write_file_atomically(dir / "manifest.json", m.dump(1) + "\n");
  const std::set<std::string> keep(files.begin(), files.end());
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("step-", 0) == 0 && n.size() > 4 && n.substr(n.size() - 4) == ".bin" && !keep.count(n))
      std::filesystem::remove(e.path());
  }
}

bool has_sharded_checkpoint(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(dir / "manifest.json", ec);
}

ShardedCheckpoint::ShardedCheckpoint(const std::filesystem::path& dir, const TrainingState& expected) : dir_(dir) {
  const std::filesystem::path mf = dir / "manifest.json";
  if (!has_sharded_checkpoint(dir)) bad(mf, "no checkpoint of a plan's run to resume from");
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(read_file(mf));
  } catch (const nlohmann::json::exception& e) {
    bad(mf, std::string("not JSON (") + e.what() + ")");
  }
  std::vector<std::string> files;
  try {
    if (m.at("format") != kFormat || m.at("version") != kVersion) bad(mf, "not a version-1 spindle sharded checkpoint");
    state_.step = m.at("step").get<std::int64_t>();
    state_.seed = m.at("seed").get<std::uint64_t>();
    state_.scale = m.at("scale").get<std::string>();
    for (const auto& p : m.at("positions"))
      state_.positions.emplace_back(p.at("task").get<std::string>(), p.at("next_sample").get<std::int64_t>());
    files = m.at("files").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    bad(mf, std::string("a field is missing or of the wrong type (") + e.what() + ")");
  }
  if (state_.step < 0 || state_.step > static_cast<std::int64_t>(binary::kMaxCount)) bad(mf, "step out of range");
  if (state_.seed != expected.seed)
    bad(mf, "written with --seed " + std::to_string(state_.seed) + ", this run has " + std::to_string(expected.seed));
  if (state_.scale != expected.scale) bad(mf, "written with --scale " + state_.scale + ", this run has " + expected.scale);
  std::set<std::string> want, have;
  for (const auto& [name, pos] : expected.positions) want.insert(name);
  for (const auto& [name, pos] : state_.positions) {
    if (pos < 0 || pos > static_cast<std::int64_t>(binary::kMaxCount)) bad(mf, "task " + name + "'s data position is out of range");
    have.insert(name);
  }
  if (want != have || state_.positions.size() != expected.positions.size()) bad(mf, "its tasks differ from the scenario's");
  if (files.empty()) bad(mf, "names no rank file");
  for (const std::string& name_in_manifest : files) {
    if (name_in_manifest.find('/') != std::string::npos || name_in_manifest.rfind("step-", 0) != 0)
      bad(mf, "rank file '" + name_in_manifest + "' is not a step-*.bin name");
    const std::filesystem::path file = dir / name_in_manifest;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) bad(file, "missing (the manifest names it)");
    const std::string data = read_file(file);
    if (data.size() < sizeof kMagic + 8 || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
      bad(file, "not a spindle rank file (bad magic)");
    std::uint64_t stored;
    std::memcpy(&stored, data.data() + data.size() - 8, 8);
    if (stored != binary::fnv1a(data.data(), data.size() - 8)) bad(file, "checksum mismatch (truncated or corrupt file)");
    const std::string body = data.substr(0, data.size() - 8);
    binary::Reader r(body, file.string());
    for (size_t i = 0; i < sizeof kMagic; ++i) r.get<char>();
    if (r.get<std::uint32_t>() != kVersion) r.fail("format version is not 1");
    r.get<std::uint32_t>();  // the rank that wrote it
    const auto entries = r.get<std::uint32_t>();
    for (std::uint32_t i = 0; i < entries; ++i) {
      const std::string name = r.str();
      const auto rank = r.get<std::uint32_t>();
      if (rank > 8) r.fail("weight " + name + " has rank " + std::to_string(rank));
      Dims dims(rank);
      for (std::int64_t& d : dims) {
        const auto x = r.get<std::uint64_t>();
        if (x > (std::uint64_t{1} << 40)) r.fail("weight " + name + " has a dimension out of range");
        d = static_cast<std::int64_t>(x);
      }
      const std::int64_t n = numel(dims);
      Whole& t = tensors_[name];
      if (t.have.empty()) {
        t.dims = dims;
        t.value.assign(static_cast<size_t>(n), 0.f);
        t.m = t.v = t.value;
        t.have.assign(static_cast<size_t>(n), 0);
      } else if (t.dims != dims) {
        r.fail("weight " + name + " is " + dims_str(dims) + " here but " + dims_str(t.dims) + " in another rank file");
      }
      const auto count = r.get<std::uint32_t>();
      ElementRanges ranges;
      std::int64_t total = 0;
      for (std::uint32_t k = 0; k < count; ++k) {
        const auto f = static_cast<std::int64_t>(r.get<std::uint64_t>());
        const auto l = static_cast<std::int64_t>(r.get<std::uint64_t>());
        if (f < 0 || f >= l || l > n) r.fail("weight " + name + " has an element range outside " + dims_str(dims));
        ranges.emplace_back(f, l);
        total += l - f;
      }
      std::vector<float> data3[3];
      for (auto& d : data3) {
        d.resize(static_cast<size_t>(total));
        r.floats(d);
      }
      std::int64_t at = 0;
      for (auto [f, l] : ranges) {
        for (int k = 0; k < 3; ++k) {
          std::vector<float>& dst = k == 0 ? t.value : k == 1 ? t.m : t.v;
          std::copy(data3[k].begin() + at, data3[k].begin() + at + (l - f), dst.begin() + f);
        }
        std::fill(t.have.begin() + f, t.have.begin() + l, 1);
        at += l - f;
      }
    }
    if (!r.done()) r.fail("bytes after the last entry");
  }
}

void ShardedCheckpoint::load_into(Backend& be, WeightStore& weights) const {
  for (auto& [name, p] : weights.params()) {
    const Place pl = place_of(name, p.value.shape());
    const auto it = tensors_.find(pl.whole);
    const std::filesystem::path mf = dir_ / "manifest.json";
    if (it == tensors_.end()) bad(mf, "holds no elements of weight " + pl.whole + " (another model)");
    const Whole& t = it->second;
    if (t.dims != pl.dims)
      bad(mf, "weight " + pl.whole + " is " + dims_str(t.dims) + " there but " + dims_str(pl.dims) + " here");
    std::vector<float> value, m, v;
    for (auto [f, l] : pl.ranges(0, p.value.numel())) {
      for (std::int64_t i = f; i < l; ++i)
        if (!t.have[static_cast<size_t>(i)])
          bad(mf, "lacks element " + std::to_string(i) + " of weight " + pl.whole + " (a rank file is missing)");
      value.insert(value.end(), t.value.begin() + f, t.value.begin() + l);
      m.insert(m.end(), t.m.begin() + f, t.m.begin() + l);
      v.insert(v.end(), t.v.begin() + f, t.v.begin() + l);
    }
    be.upload(p.value, value);
    const auto first = static_cast<size_t>(p.moments_first), count = static_cast<size_t>(p.m.numel());
    be.upload(p.m, std::span<const float>(m).subspan(first, count));  // a ZeRO-1 shard's part, or all
    be.upload(p.v, std::span<const float>(v).subspan(first, count));
  }
}

}  // namespace spindle::engine
