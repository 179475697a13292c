// Tensor-parallel weight shards (see tp_shards.h).
#include "engine/model/tp_shards.h"

#include <algorithm>

#include "traces/errors.h"

namespace spindle::engine {

TpSplit tp_split(const std::string& tensor) {
  // Column-parallel: Q, K, V (self- and cross-attention) and the MLP's first linears split their
  // output features (heads, ffn); row-parallel: the attention output and the MLP's last linear
  // split their input features. Their biases (bo, b2) are added once, after the all-reduce.
  static const char* const rows[] = {"wq", "bq", "wk", "bk", "wv", "bv", "w1", "b1", "wg", "wu"};
  static const char* const cols[] = {"wo", "w2", "wd"};
  const size_t dot = tensor.find('.');
  const std::string prefix = dot == std::string::npos ? "" : tensor.substr(0, dot);
  const std::string leaf = dot == std::string::npos ? tensor : tensor.substr(dot + 1);
  if (prefix != "attn" && prefix != "cross" && prefix != "mlp") return TpSplit::kReplicated;
  for (const char* r : rows)
    if (leaf == r) return TpSplit::kRows;
  for (const char* c : cols)
    if (leaf == c) return TpSplit::kCols;
  return TpSplit::kReplicated;
}

ShardedName parse_sharded(const std::string& name) {
  const size_t slash = name.rfind('/');
  if (slash == std::string::npos) throw InternalError("weight name without a group: " + name);
  ShardedName n;
  n.group = name.substr(0, slash);
  n.tensor = name.substr(slash + 1);
  const size_t at = n.group.find('@');
  if (at == std::string::npos) return n;
  const std::string tag = n.group.substr(at + 1);  // "<j>of<t>"
  const size_t of = tag.find("of");
  if (of == std::string::npos || of == 0 || of + 2 >= tag.size())
    throw InternalError("weight group " + n.group + ": a shard is named <group>@<j>of<t>");
  n.shard = std::stoi(tag.substr(0, of));
  n.of = std::stoi(tag.substr(of + 2));
  n.group.resize(at);
  if (n.of < 1 || n.shard < 0 || n.shard >= n.of) throw InternalError("weight " + name + ": no such shard");
  return n;
}

Dims shard_dims(const Dims& full, TpSplit split, int of) {
  Dims d = full;
  if (split == TpSplit::kReplicated || of == 1) return d;
  const size_t axis = split == TpSplit::kRows ? 0 : 1;
  if (d.size() <= axis || d[axis] % of != 0)
    throw InternalError("a tensor of shape " + dims_str(full) + " does not split " + std::to_string(of) + " ways");
  d[axis] /= of;
  return d;
}

namespace {

// Rows x columns of a tensor as the split sees it (a vector is one column of rows).
std::pair<std::int64_t, std::int64_t> matrix(const Dims& dims) {
  if (dims.empty()) return {1, 1};
  std::int64_t cols = 1;
  for (size_t i = 1; i < dims.size(); ++i) cols *= dims[i];
  return {dims[0], cols};
}

}  // namespace

std::vector<std::pair<std::int64_t, std::int64_t>> unsharded_ranges(const Dims& dims, TpSplit split, int shard, int of,
                                                                    std::int64_t first, std::int64_t last) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  if (first >= last) return out;
  if (split == TpSplit::kReplicated || of == 1) return {{first, last}};
  const auto [rows, cols] = matrix(dims);
  if (split == TpSplit::kRows) {  // a shard is a contiguous block of rows
    const std::int64_t base = shard * (rows / of) * cols;
    return {{base + first, base + last}};
  }
  const std::int64_t w = cols / of;  // a shard's columns: one range per row
  for (std::int64_t i = first; i < last;) {
    const std::int64_t r = i / w, c = i % w, n = std::min(last - i, w - c);
    const std::int64_t g = r * cols + shard * w + c;
    out.push_back({g, g + n});
    i += n;
  }
  return out;
}

std::vector<float> shard_values(const std::vector<float>& full, const Dims& dims, TpSplit split, int shard, int of) {
  std::vector<float> v;
  const auto n = static_cast<std::int64_t>(full.size()) / (split == TpSplit::kReplicated ? 1 : of);
  for (auto [a, e] : unsharded_ranges(dims, split, shard, of, 0, n))
    v.insert(v.end(), full.begin() + a, full.begin() + e);
  return v;
}

void place_shard(const std::vector<float>& values, const Dims& dims, TpSplit split, int shard, int of,
                 std::vector<float>& full) {
  std::int64_t at = 0;  // the ranges come in the shard's own element order
  for (auto [a, e] : unsharded_ranges(dims, split, shard, of, 0, static_cast<std::int64_t>(values.size()))) {
    std::copy(values.begin() + at, values.begin() + at + (e - a), full.begin() + a);
    at += e - a;
  }
}

}  // namespace spindle::engine
