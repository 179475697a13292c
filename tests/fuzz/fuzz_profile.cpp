// libFuzzer target: calibration profiles. The bytes are decoded into a small profile (rows
// whose shapes are multitask-clip-4's own keys or fuzzed ones, values raw doubles and integers
// including NaN and negatives; attributes and the table layout varied), written through the
// HDF5 API into a valid file, read back and given to the cost model. libhdf5's own parser is
// not ours to fuzz. Only InputError may escape.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/collective_table.h"
#include "planner/cost/cost_model.h"
#include "planner/pipeline.h"
#include "traces/errors.h"
#include "traces/hdf5_file.h"
#include "traces/profile.h"

namespace {

using namespace spindle;

// Reads fixed-size values from the fuzzer's bytes; zeros once they run out.
class Bytes {
 public:
  Bytes(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  template <typename T>
  T get() {
    T v{};
    const std::size_t k = std::min(sizeof(T), n_ - at_);
    std::memcpy(&v, d_ + at_, k);
    at_ += k;
    return v;
  }
  bool done() const { return at_ >= n_; }
  std::string str(std::size_t max) {
    const std::size_t k = std::min<std::size_t>(get<std::uint8_t>() % (max + 1), n_ - at_);
    std::string s(reinterpret_cast<const char*>(d_ + at_), k);
    at_ += k;
    return s;
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_, at_ = 0;
};

const ScenarioModel& model() {
  static const ScenarioModel m(load_scenario(default_data_dir() / "multitask-clip-4.toml"));
  return m;
}

// The shapes the cost model asks for, so that fuzzed rows also land on measured points.
const std::vector<OpShapeKey>& real_keys() {
  static const std::vector<OpShapeKey> keys = [] {
    std::vector<OpShapeKey> k;
    for (const Operator& op : model().g.ops())
      for (int dp : {1, 2, 4, 8}) k.push_back(shape_key(op, ParallelConfig{dp, 1, false}, "bf16"));
    return k;
  }();
  return keys;
}

Profile decode(Bytes& b) {
  Profile p;
  p.backend = b.get<std::uint8_t>() % 8 == 0 ? b.str(8) : "cuda";
  p.device = b.get<std::uint8_t>() % 4 == 0 ? b.str(20) : model().s.cluster.gpu.name;
  const int ops = b.get<std::uint8_t>() % 9, colls = b.get<std::uint8_t>() % 5;
  for (int i = 0; i < ops && !b.done(); ++i) {
    OpMeasurement m;
    const std::uint8_t how = b.get<std::uint8_t>();
    if (how % 4 != 0) {
      m.key = real_keys()[b.get<std::uint16_t>() % real_keys().size()];
      if (how % 4 == 2) m.key.batch = b.get<std::int64_t>();
    } else {
      m.key.kind = b.str(31);
      m.key.dtype = b.get<std::uint8_t>() % 2 ? b.str(8) : "bf16";
      m.key.batch = b.get<std::int64_t>(), m.key.seq = b.get<std::int64_t>(), m.key.hidden = b.get<std::int64_t>();
      m.key.heads = b.get<std::int64_t>(), m.key.ffn = b.get<std::int64_t>();
      m.key.mlp = b.get<std::int32_t>(), m.key.causal = b.get<std::int32_t>(), m.key.tp = b.get<std::int32_t>();
    }
    m.fwd_ms = b.get<double>(), m.bwd_ms = b.get<double>(), m.samples = b.get<std::int32_t>();
    m.fwd_spread_ms = b.get<double>(), m.bwd_spread_ms = b.get<double>();
    if (how % 8 == 1) {  // kernel records (a GPU's profile)
      m.fwd_kernel_ms = b.get<double>(), m.bwd_kernel_ms = b.get<double>();
      m.fwd_kernels = b.get<double>(), m.bwd_kernels = b.get<double>();
      for (int k = b.get<std::uint8_t>() % 4; k > 0 && !b.done(); --k)
        m.kernels.push_back({b.get<std::uint8_t>() % 4 ? "fwd" : b.str(4), b.str(40), b.get<double>(), b.get<double>()});
    }
    p.add(m);
  }
  for (int i = 0; i < colls && !b.done(); ++i) {
    CollectiveMeasurement c;
    c.kind = b.str(15), c.algorithm = b.str(15);
    c.ranks = b.get<std::int32_t>(), c.nodes = b.get<std::int32_t>(), c.ranks_per_node = b.get<std::int32_t>();
    c.bytes = b.get<std::int64_t>(), c.time_ms = b.get<double>();
    c.samples = b.get<std::int32_t>(), c.spread_ms = b.get<double>();
    p.collectives.push_back(c);
  }
  return p;
}

// A file whose layout differs from the schema: attributes from the bytes, and an /ops table
// of i64 or f64 columns named from a list that misses or adds fields.
void write_odd(const std::filesystem::path& file, Bytes& b) {
  static const char* names[] = {"kind", "dtype", "batch", "seq", "hidden", "heads", "ffn", "cross_seq", "out_hidden",
                                "out_seq", "in_features", "mlp", "causal", "tp", "samples", "fwd_ms", "bwd_ms",
                                "fwd_spread_ms", "bwd_spread_ms", "extra"};
  h5::Writer w(file);
  if (b.get<std::uint8_t>() % 2) w.string_attr("/", "schema", b.get<std::uint8_t>() % 2 ? "spindle-profile" : b.str(20));
  if (b.get<std::uint8_t>() % 2) w.string_attr("/", "version", b.get<std::uint8_t>() % 2 ? (b.get<std::uint8_t>() % 2 ? "4" : "3") : b.str(4));
  for (const char* attr : {"backend", "device", "timer", "libraries", "date", "notes"})
    if (b.get<std::uint8_t>() % 2) w.string_attr("/", attr, b.str(20));
  h5::Layout l;
  const std::uint32_t mask = b.get<std::uint32_t>();
  for (std::size_t i = 0; i < std::size(names); ++i)
    if (mask >> i & 1) {
      const bool text = i <= 1;
      l.fields.push_back(h5::Field{names[i], l.size, text ? h5::Kind::kString : (mask >> 24 & 1 ? h5::Kind::kF64 : h5::Kind::kI64),
                                   text ? std::size_t{32} : 0});
      l.size += text ? 32 : 8;
    }
  if (!l.fields.empty()) {
    const std::size_t rows = b.get<std::uint8_t>() % 5;
    std::vector<char> data(rows * l.size);
    for (char& c : data) c = static_cast<char>(b.get<std::uint8_t>());
    w.table("ops", l, data.data(), rows);
  }
  w.commit();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("spindle-fuzz-profile-" + std::to_string(::getpid()) + ".h5");
  Bytes b(data, size);
  try {
    if (b.get<std::uint8_t>() % 8 == 0) write_odd(file, b);
    else write_profile(file, decode(b));
  } catch (const IoError&) {  // a string too long for its column: the writer refuses it
    return 0;
  }
  try {
    const Profile p = read_profile(file);
    const ScenarioModel& m = model();
    (void)CostModel(m.s, m.g, m.mg, &p);
    // Every measured collective looked up around its size: a time the simulator can use.
    const CollectiveTable table(p);
    for (const CollectiveMeasurement& c : p.collectives)
      for (double f : {0.5, 1.0, 3.0}) {
        const auto t = table.lookup(*collective_from_name(c.kind), c.ranks, c.nodes, c.ranks_per_node,
                                    static_cast<double>(c.bytes) * f);
        if (!t || !(t->time_s > 0) || !std::isfinite(t->time_s) || !(t->floor_s > 0)) std::abort();
      }
  } catch (const InputError&) {
  }
  return 0;
}
