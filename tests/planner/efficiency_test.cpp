// The GEMM efficiency model against every published GEMM measurement cited in scenarios/gpus/*.toml (within
// 15%): A100 points for the A100 and A800 files, H100 points for the H100 and H200 files.
#include <gtest/gtest.h>

#include <cmath>

#include "planner/cost/op_time.h"
#include "planner/graph/graph_builder.h"
#include "test_scenarios.h"

namespace spindle::testing {
namespace {

GpuSpec gpu(const std::string& id) {
  std::string text = replace_line(small_scenario(), 6, "gpu = \"" + id + "\"");
  return load_text(text).cluster.gpu;
}

struct Point {
  double m, n, k, tflops;
};

void expect_points(const GpuSpec& g, const std::vector<Point>& points, double best_tflops) {
  for (const Point& p : points) {
    const double model = gemm_tflops(g, p.m, p.n, p.k);
    EXPECT_LE(std::abs(model / p.tflops - 1), 0.15)
        << g.name << " " << p.m << "x" << p.n << "x" << p.k << ": model " << model << " TF, measured " << p.tflops;
  }
  // The best achievable matmul (stas00/ml-engineering MAMF) bounds the curve's plateau.
  EXPECT_LE(std::abs(g.bf16_dense_TFLOPS * g.gemm_peak_efficiency / best_tflops - 1), 0.15) << g.name;
}

// Azure ND A100 v4, cuBLASLt fp16, m = n = k.
const std::vector<Point> kA100 = {{1024, 1024, 1024, 119}, {2048, 2048, 2048, 222}, {4096, 4096, 4096, 228},
                                  {8192, 8192, 8192, 254}};
// XLA matmul_interpolator_data.h, H100 bf16, b x m x n x k with b = 1.
const std::vector<Point> kH100 = {{512, 256, 256, 11.5},    {1024, 256, 1024, 68},   {256, 2048, 4096, 286},
                                  {1024, 1024, 2048, 350},  {2048, 2048, 2048, 632}, {4096, 4096, 4096, 783}};

TEST(Efficiency, A100AndA800MatchPublishedGemms) {
  expect_points(gpu("a100-80gb"), kA100, 271);
  expect_points(gpu("a800-80gb"), kA100, 271);
}

TEST(Efficiency, H100AndH200MatchPublishedGemms) {
  expect_points(gpu("h100-sxm"), kH100, 795);
  expect_points(gpu("h200"), kH100, 795);
}

TEST(Efficiency, SmallGemmsRunFarBelowPeak) {
  GpuSpec g = gpu("a800-80gb");
  EXPECT_LT(gemm_efficiency(g, 32, 1024, 768), 0.1);
  EXPECT_GT(gemm_efficiency(g, 8192, 8192, 8192), 0.7);
  // Monotone in size: a bigger square GEMM is never less efficient.
  double prev = 0;
  for (double s = 16; s <= 16384; s *= 2) {
    EXPECT_GE(gemm_efficiency(g, s, s, s), prev);
    prev = gemm_efficiency(g, s, s, s);
  }
}

TEST(OpTime, ForwardAndBackwardAreKeptApart) {
  Scenario s = load_scenario(default_data_dir() / "multitask-clip-10.toml");
  Graph g = build_graph(s);
  for (const Operator& op : g.ops()) {
    if (op.kind != OpKind::kEncoderLayer) continue;
    OpTime t = analytic_op_time(op, s.cluster.gpu, ParallelConfig{});
    EXPECT_GT(t.fwd_s, 0);
    // Layers: backward about twice forward (two GEMMs per forward GEMM, 2.5x attention).
    EXPECT_GT(t.bwd_s / t.fwd_s, 1.6) << op.name;
    EXPECT_LT(t.bwd_s / t.fwd_s, 2.6) << op.name;
    // Never faster than the FLOPs at peak.
    EXPECT_GT(t.total_s(), flops_only_time_s(op, s.cluster.gpu, ParallelConfig{}));
  }
}

// A device computing in fp32 moves 4 bytes per activation and weight element, bf16 2: every
// kernel's bytes double, its FLOPs stay (fp32 logits and embedding gradients are fp32 either way).
TEST(OpTime, KernelBytesFollowTheComputeDtype) {
  Scenario s = load_scenario(default_data_dir() / "multitask-clip-10.toml");
  Graph g = build_graph(s);
  int layers = 0;
  for (const Operator& op : g.ops()) {
    if (op.kind != OpKind::kEncoderLayer) continue;
    ++layers;
    std::vector<Kernel> f2, b2, f4, b4;
    op_kernels(op, ParallelConfig{}, 2, f2, b2);
    op_kernels(op, ParallelConfig{}, 4, f4, b4);
    ASSERT_EQ(f2.size(), f4.size());
    ASSERT_EQ(b2.size(), b4.size());
    for (size_t i = 0; i < f2.size(); ++i) {
      EXPECT_DOUBLE_EQ(f4[i].bytes, 2 * f2[i].bytes) << op.name << " kernel " << i;
      EXPECT_DOUBLE_EQ(f4[i].flops, f2[i].flops);
    }
    GpuSpec fp32 = s.cluster.gpu;
    fp32.compute_dtype = "fp32";
    EXPECT_GT(analytic_op_time(op, fp32, ParallelConfig{}).total_s(),
              analytic_op_time(op, s.cluster.gpu, ParallelConfig{}).total_s()) << op.name;
  }
  EXPECT_GT(layers, 0);
}

}  // namespace
}  // namespace spindle::testing
