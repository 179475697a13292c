// Sharded checkpoints of plan runs (see sharded_checkpoint.h for the format).
#include "engine/model/sharded_checkpoint.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iterator>
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

// Elements of a shape whose dimensions are each at most 2^40; at most 2^40 in all (a larger
// product is capped there: no file holds that many).
std::int64_t numel(const Dims& d) {
  std::int64_t n = 1;
  for (std::int64_t x : d) {
    if (x == 0) return 0;
    n = n > static_cast<std::int64_t>(binary::kMaxCount) / x ? static_cast<std::int64_t>(binary::kMaxCount) : n * x;
  }
  return n;
}

// The rank count is in the name, so that rewriting a step on another number of ranks never
// overwrites files the manifest in place still names.
std::string rank_file_name(std::int64_t step, int rank, int ranks) {
  return "step-" + std::to_string(step) + ".ranks-" + std::to_string(ranks) + ".rank-" + std::to_string(rank) + ".bin";
}

[[noreturn]] void bad(const std::filesystem::path& file, const std::string& what) {
  throw InputError(file.string() + ": " + what + "; allowed: a checkpoint spindle-run wrote for this scenario, scale and seed");
}

}  // namespace

std::string write_rank_shard(const std::filesystem::path& dir, int rank, int ranks, const TrainingState& state, Backend& be,
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
  const std::string file = rank_file_name(state.step, rank, ranks);
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
  if (!has_sharded_checkpoint(dir)) bad(mf, "no checkpoint to resume from (an earlier --checkpoint DIR writes one)");
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
    if (!std::filesystem::is_regular_file(file, ec)) bad(file, "missing or not a regular file (the manifest names it)");
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
      if (t.pieces.empty()) t.dims = dims;
      else if (t.dims != dims)
        r.fail("weight " + name + " is " + dims_str(dims) + " here but " + dims_str(t.dims) + " in another rank file");
      const auto count = r.get<std::uint32_t>();
      if (count > r.left() / 16) r.fail("weight " + name + " has more element ranges than the file holds");
      std::vector<Piece> pieces(count);
      std::int64_t total = 0;
      for (Piece& pc : pieces) {
        pc.first = static_cast<std::int64_t>(std::min<std::uint64_t>(r.get<std::uint64_t>(), binary::kMaxCount));
        pc.last = static_cast<std::int64_t>(std::min<std::uint64_t>(r.get<std::uint64_t>(), binary::kMaxCount));
        if (pc.first >= pc.last || pc.last > n) r.fail("weight " + name + " has an element range outside " + dims_str(dims));
        total += pc.last - pc.first;
        if (static_cast<std::uint64_t>(total) > r.left() / 12) r.fail("weight " + name + " has more elements than the file holds");
      }
      for (auto member : {&Piece::value, &Piece::m, &Piece::v})  // all values, then all m, then all v
        for (Piece& pc : pieces) {
          (pc.*member).resize(static_cast<size_t>(pc.last - pc.first));
          r.floats(pc.*member);
        }
      for (Piece& pc : pieces) t.pieces.push_back(std::move(pc));
    }
    if (!r.done()) r.fail("bytes after the last entry");
  }
  // Each element in exactly one file: pieces that overlap come from damaged or mixed files.
  for (auto& [name, t] : tensors_) {
    std::sort(t.pieces.begin(), t.pieces.end(), [](const Piece& a, const Piece& b) { return a.first < b.first; });
    for (size_t i = 1; i < t.pieces.size(); ++i)
      if (t.pieces[i].first < t.pieces[i - 1].last)
        bad(mf, "weight " + name + "'s elements from " + std::to_string(t.pieces[i].first) +
                    " are in two rank files (each element belongs in one)");
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
    for (auto [f, l] : pl.ranges(0, p.value.numel()))
      for (std::int64_t at = f; at < l;) {
        // The piece holding element `at`: the last one starting at or before it.
        const auto after = std::upper_bound(t.pieces.begin(), t.pieces.end(), at,
                                            [](std::int64_t x, const Piece& pc) { return x < pc.first; });
        if (after == t.pieces.begin() || std::prev(after)->last <= at)
          bad(mf, "lacks element " + std::to_string(at) + " of weight " + pl.whole + " (a rank file is missing)");
        const Piece& pc = *std::prev(after);
        const std::int64_t end = std::min(l, pc.last);
        const auto a = static_cast<size_t>(at - pc.first), b = static_cast<size_t>(end - pc.first);
        value.insert(value.end(), pc.value.begin() + a, pc.value.begin() + b);
        m.insert(m.end(), pc.m.begin() + a, pc.m.begin() + b);
        v.insert(v.end(), pc.v.begin() + a, pc.v.begin() + b);
        at = end;
      }
    be.upload(p.value, value);
    const auto first = static_cast<size_t>(p.moments_first), count = static_cast<size_t>(p.m.numel());
    be.upload(p.m, std::span<const float>(m).subspan(first, count));  // a ZeRO-1 shard's part, or all
    be.upload(p.v, std::span<const float>(v).subspan(first, count));
  }
}

}  // namespace spindle::engine
