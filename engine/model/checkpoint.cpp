// Checkpoint writing and reading (see checkpoint.h for the format).
#include "engine/model/checkpoint.h"

#include <cstring>
#include <set>

#include "engine/model/binary_io.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"

namespace spindle::engine {
namespace {

using binary::Reader;
using binary::Writer;
using binary::fnv1a;
using binary::kMaxCount;

constexpr char kMagic[8] = {'S', 'P', 'N', 'D', 'L', 'C', 'K', 'P'};
constexpr std::uint32_t kVersion = 1;

}  // namespace

void write_checkpoint(const std::filesystem::path& file, const TrainingState& state, Backend& be,
                      const WeightStore& weights) {
  Writer w;
  w.bytes().append(kMagic, sizeof kMagic);
  w.put(kVersion);
  w.put(static_cast<std::uint64_t>(state.step));
  w.put(state.seed);
  w.str(state.scale);
  w.put(static_cast<std::uint32_t>(state.positions.size()));
  for (const auto& [task, pos] : state.positions) {
    w.str(task);
    w.put(static_cast<std::uint64_t>(pos));
  }
  w.put(static_cast<std::uint32_t>(weights.params().size()));
  for (const auto& [name, p] : weights.params()) {
    w.str(name);
    w.put(static_cast<std::uint32_t>(p.value.rank()));
    for (std::int64_t d : p.value.shape()) w.put(static_cast<std::uint64_t>(d));
    std::vector<float> host(static_cast<size_t>(p.value.numel()));
    for (const Tensor* t : {&p.value, &p.m, &p.v}) {
      be.download(*t, host);
      w.floats(host);
    }
  }
  w.put(fnv1a(w.bytes().data(), w.bytes().size()));
  write_file_atomically(file, w.bytes());
}

TrainingState read_checkpoint(const std::filesystem::path& file, const TrainingState& expected, Backend& be,
                              WeightStore& weights) {
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (!std::filesystem::exists(status))
    throw InputError(file.string() + ": no checkpoint to resume from; allowed: a DIR an earlier --checkpoint DIR wrote");
  if (!std::filesystem::is_regular_file(status))  // a link to /dev/zero would be read forever
    throw InputError(file.string() + ": is not a regular file; allowed: a checkpoint file spindle-run wrote");
  const std::string data = read_file(file);
  Reader r(data, file.string());
  if (data.size() < sizeof kMagic + 8 || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
    r.fail("not a spindle checkpoint (bad magic)");
  std::uint64_t stored;
  std::memcpy(&stored, data.data() + data.size() - 8, 8);
  if (stored != fnv1a(data.data(), data.size() - 8)) r.fail("checksum mismatch (truncated or corrupt file)");
  const std::string body = data.substr(0, data.size() - 8);
  Reader b(body, file.string());
  for (size_t i = 0; i < sizeof kMagic; ++i) b.get<char>();
  if (const auto v = b.get<std::uint32_t>(); v != kVersion) b.fail("format version " + std::to_string(v) + ", not 1");
  TrainingState st;
  // Every field is ranged before use, even under a valid checksum (a tool may have written it).
  const std::uint64_t step = b.get<std::uint64_t>();
  if (step > kMaxCount) b.fail("step " + std::to_string(step) + " is out of range (0.." + std::to_string(kMaxCount) + ")");
  st.step = static_cast<std::int64_t>(step);
  st.seed = b.get<std::uint64_t>();
  st.scale = b.str();
  if (st.seed != expected.seed)
    b.fail("written with --seed " + std::to_string(st.seed) + ", this run has " + std::to_string(expected.seed));
  if (st.scale != expected.scale) b.fail("written with --scale " + st.scale + ", this run has " + expected.scale);
  const auto tasks = b.get<std::uint32_t>();
  if (tasks != expected.positions.size())
    b.fail("holds " + std::to_string(tasks) + " tasks, the scenario has " + std::to_string(expected.positions.size()));
  for (std::uint32_t i = 0; i < tasks; ++i) {
    std::string name = b.str();
    const std::uint64_t pos = b.get<std::uint64_t>();
    if (pos > kMaxCount)
      b.fail("task " + name + "'s data position " + std::to_string(pos) + " is out of range (0.." +
             std::to_string(kMaxCount) + ")");
    st.positions.emplace_back(name, static_cast<std::int64_t>(pos));
  }
  std::set<std::string> want, have;
  for (const auto& [name, pos] : expected.positions) want.insert(name);
  for (const auto& [name, pos] : st.positions) have.insert(name);
  if (want != have) b.fail("its tasks differ from the scenario's");
  const auto count = b.get<std::uint32_t>();
  if (count != weights.params().size())
    b.fail("holds " + std::to_string(count) + " weight tensors, the model has " +
           std::to_string(weights.params().size()) + " (another model)");
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::string name = b.str();
    auto it = weights.params().find(name);
    if (it == weights.params().end()) b.fail("weight " + name + " is not in this model (another model)");
    const std::uint32_t rank = b.get<std::uint32_t>();
    if (rank != it->second.value.shape().size())
      b.fail("weight " + name + " has rank " + std::to_string(rank) + " there but " +
             std::to_string(it->second.value.shape().size()) + " here");
    Dims dims(rank);
    for (std::int64_t& d : dims) d = static_cast<std::int64_t>(b.get<std::uint64_t>());
    Param& p = it->second;
    if (dims != p.value.shape())
      b.fail("weight " + name + " is " + dims_str(dims) + " there but " + dims_str(p.value.shape()) + " here");
    std::vector<float> host(static_cast<size_t>(p.value.numel()));
    for (Tensor* t : {&p.value, &p.m, &p.v}) {
      b.floats(host);
      be.upload(*t, host);
    }
  }
  return st;
}

}  // namespace spindle::engine
