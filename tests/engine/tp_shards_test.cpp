// Tensor-parallel weight shards (engine/model/tp_shards.h): which tensors split which way, shard
// names, and that the shards a WeightStore creates put back together are the unsharded weights.
#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/model/tp_shards.h"
#include "engine/model/weight_store.h"
#include "engine_test_util.h"
#include "planner/cost/tensor_parallel.h"
#include "planner/graph/graph_builder.h"

namespace spindle::engine::test {
namespace {

TEST(TpShards, ColumnAndRowParallelTensors) {
  for (const char* t : {"attn.wq", "attn.bq", "attn.wk", "attn.bv", "cross.wq", "mlp.w1", "mlp.b1", "mlp.wg", "mlp.wu"})
    EXPECT_EQ(tp_split(t), TpSplit::kRows) << t;
  for (const char* t : {"attn.wo", "cross.wo", "mlp.w2", "mlp.wd"}) EXPECT_EQ(tp_split(t), TpSplit::kCols) << t;
  for (const char* t : {"attn.bo", "cross.bo", "mlp.b2", "ln1.g", "lnc.b", "queries", "proj.w", "table"})
    EXPECT_EQ(tp_split(t), TpSplit::kReplicated) << t;
}

TEST(TpShards, NamesRoundTrip) {
  const std::string group = tp_shard_group("llm/layer3", 1, 4);
  EXPECT_EQ(group, "llm/layer3@1of4");
  EXPECT_EQ(tp_shard_group("llm/layer3", 0, 1), "llm/layer3");
  const ShardedName n = parse_sharded(group + "/attn.wq");
  EXPECT_EQ(n.group, "llm/layer3");
  EXPECT_EQ(n.shard, 1);
  EXPECT_EQ(n.of, 4);
  EXPECT_EQ(n.unsharded(), "llm/layer3/attn.wq");
  EXPECT_FALSE(n.extra_copy());
  EXPECT_TRUE(parse_sharded(group + "/ln1.g").extra_copy());
  EXPECT_FALSE(parse_sharded("llm/layer3@0of4/ln1.g").extra_copy());
  EXPECT_EQ(parse_sharded("vision/embed/w").of, 1);
}

// Every shard's elements, placed by unsharded_ranges, cover the whole tensor exactly once.
TEST(TpShards, ShardsReassembleTheTensor) {
  const Dims dims{4, 6};
  std::vector<float> full(24);
  std::iota(full.begin(), full.end(), 0.0f);
  for (TpSplit split : {TpSplit::kRows, TpSplit::kCols})
    for (int of : {2, 3}) {
      if (split == TpSplit::kRows && 4 % of != 0) continue;
      std::vector<float> back(24, -1.0f);
      for (int j = 0; j < of; ++j) {
        const std::vector<float> shard = shard_values(full, dims, split, j, of);
        const Dims sd = shard_dims(dims, split, of);
        ASSERT_EQ(static_cast<std::int64_t>(shard.size()), sd[0] * sd[1]);
        std::int64_t at = 0;
        for (auto [a, e] : unsharded_ranges(dims, split, j, of, 0, static_cast<std::int64_t>(shard.size())))
          for (std::int64_t i = a; i < e; ++i) {
            EXPECT_EQ(back[static_cast<size_t>(i)], -1.0f) << "element " << i << " in two shards";
            back[static_cast<size_t>(i)] = shard[static_cast<size_t>(at++)];
          }
      }
      EXPECT_EQ(back, full);
    }
  // A ZeRO-1 part of a column shard maps to pieces of several rows: shard 1 of 3 is columns
  // [2, 4); its elements [1, 4) are (row 0, col 3), (row 1, cols 2-3).
  const auto parts = unsharded_ranges(dims, TpSplit::kCols, 1, 3, 1, 4);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], std::make_pair(std::int64_t{3}, std::int64_t{4}));
  EXPECT_EQ(parts[1], std::make_pair(std::int64_t{8}, std::int64_t{10}));
}

// A device's store of both shards of a layer holds the unsharded initial weights, split.
TEST(TpShards, StoreShardsAreTheWholeWeightsSplit) {
  const Scenario s = zoo("qwen-val-3");
  const Graph g = build_graph(s);
  CpuBackend be;
  const WeightStore whole(s, g, be, 7);
  std::string layer;  // the language model's first decoder layer (SwiGLU)
  for (const Operator& op : g.ops())
    if (op.kind == OpKind::kDecoderLayer && tp_unfit(op, 2).empty()) {
      layer = op.weights;
      break;
    }
  ASSERT_FALSE(layer.empty()) << "no decoder layer that splits in two";
  const std::set<std::string> only{layer + "@0of2", layer + "@1of2"};
  const WeightStore sharded(s, g, be, 7, &only);
  int split = 0;
  for (const auto& [name, p] : whole.params()) {
    if (!name.starts_with(layer + "/")) continue;
    std::vector<float> want(static_cast<size_t>(p.value.numel())), got(want.size(), 0.0f);
    be.download(p.value, want);
    const std::string tensor = name.substr(layer.size() + 1);
    const TpSplit sp = tp_split(tensor);
    split += sp != TpSplit::kReplicated;
    for (int j = 0; j < 2; ++j) {
      const Param& shard = sharded.params().at(tp_shard_group(layer, j, 2) + "/" + tensor);
      std::vector<float> v(static_cast<size_t>(shard.value.numel()));
      be.download(shard.value, v);
      if (sp == TpSplit::kReplicated) {
        EXPECT_EQ(v, want) << name << " copy " << j;
        continue;
      }
      place_shard(v, p.value.shape(), sp, j, 2, got);
    }
    if (sp != TpSplit::kReplicated) {
      EXPECT_EQ(got, want) << name;
    }
  }
  EXPECT_EQ(split, 10);  // q, k, v with their biases and o; SwiGLU's gate, up and down
}

}  // namespace
}  // namespace spindle::engine::test
