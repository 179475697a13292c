// Every backend against the CPU reference, as ggml's test-backend-ops does: one list of kernel
// cases (shapes, dtypes, tolerances), each run on the CPU backend and on every other backend
// built in, from the same inputs, forward and backward, outputs compared element by element.
// Label gpu: without a CUDA device (or a CUDA build) the binary exits 77, which ctest reports
// as skipped. Cases cover the kernels the CUDA backend has so far (cuda_backend.cpp); the
// others join as they land (issue 22).
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/backend_registry.h"
#include "traces/errors.h"

namespace spindle::engine::test {
namespace {

// A case builds its tensors on `be` from `rng` and returns the outputs it compares, downloaded.
struct Case {
  std::string name;
  double tolerance;  // max |a - b| / (|b| + 1e-3 * scale of b)
  std::function<std::vector<std::vector<float>>(Backend& be, std::mt19937& rng)> run;
};

Tensor random(Backend& be, const Dims& shape, std::mt19937& rng, DType dtype = DType::kF32) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  Tensor t = be.alloc(shape, dtype);
  be.upload(t, v);
  return t;
}

std::vector<float> host(Backend& be, const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  be.download(t, v);
  return v;
}

std::vector<Case> cases() {
  std::vector<Case> c;
  for (DType dt : {DType::kF32, DType::kBF16})
    for (bool acc : {false, true})
      c.push_back({std::string("copy_tokens ") + dtype_name(dt) + (acc ? " accumulate" : ""), 1e-6,
                   [dt, acc](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                     Tensor src = random(be, {3, 5, 7}, rng, dt), dst = random(be, {3, 4, 7}, rng, DType::kF32);
                     be.copy_tokens(src, 1, dst, 2, 2, acc);
                     return {host(be, dst)};
                   }});
  c.push_back({"repeat_batch and backward", 1e-5, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 Tensor q = random(be, {6, 8}, rng), r = be.alloc({4, 6, 8}, DType::kF32);
                 be.repeat_batch(q, r);
                 Tensor dr = random(be, {4, 6, 8}, rng), dq = random(be, {6, 8}, rng);
                 be.repeat_batch_backward(dr, dq);
                 return {host(be, r), host(be, dq)};
               }});
  c.push_back({"scale and sum_squares", 1e-5, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 Tensor t = random(be, {1000, 33}, rng), u = random(be, {7}, rng), e = be.alloc({0}, DType::kF32);
                 be.scale(t, 0.5f);
                 const std::vector<Tensor> all{t, e, u};  // one reduction over several tensors
                 return {host(be, t), {static_cast<float>(be.sum_squares({&t, 1})), static_cast<float>(be.sum_squares(all))}};
               }});
  c.push_back({"residual and backward", 1e-6, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 Tensor a = random(be, {5, 9}, rng), b = random(be, {5, 9}, rng), y = be.alloc({5, 9}, DType::kF32);
                 be.residual_forward(a, b, y);
                 Tensor da = random(be, {5, 9}, rng), db = random(be, {5, 9}, rng);
                 be.residual_backward(y, da, db);
                 return {host(be, y), host(be, da), host(be, db)};
               }});
  for (bool bias : {false, true})
    c.push_back({std::string("linear and backward") + (bias ? " with bias" : ""), 1e-4,
                 [bias](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                   Tensor x = random(be, {3, 17, 64}, rng), w = random(be, {48, 64}, rng);
                   Tensor b = bias ? random(be, {48}, rng) : Tensor(), y = be.alloc({3, 17, 48}, DType::kF32);
                   be.linear_forward(x, w, b, y);
                   Tensor dy = random(be, {3, 17, 48}, rng), dx = random(be, {3, 17, 64}, rng),
                          dw = random(be, {48, 64}, rng), db = bias ? random(be, {48}, rng) : Tensor();
                   be.linear_backward(x, w, dy, dx, dw, db);
                   std::vector<std::vector<float>> out{host(be, y), host(be, dx), host(be, dw)};
                   if (bias) out.push_back(host(be, db));
                   return out;
                 }});
  c.push_back({"layer_norm and backward", 1e-4, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 Tensor x = random(be, {2, 9, 96}, rng), g = random(be, {96}, rng), b = random(be, {96}, rng);
                 Tensor y = be.alloc({2, 9, 96}, DType::kF32), mean = be.alloc({18}, DType::kF32),
                        rstd = be.alloc({18}, DType::kF32);
                 be.layer_norm_forward(x, g, b, y, mean, rstd);
                 Tensor dy = random(be, {2, 9, 96}, rng), dx = random(be, {2, 9, 96}, rng), dg = random(be, {96}, rng),
                        db = random(be, {96}, rng);
                 be.layer_norm_backward(x, g, mean, rstd, dy, dx, dg, db);
                 return {host(be, y), host(be, mean), host(be, rstd), host(be, dx), host(be, dg), host(be, db)};
               }});
  for (bool causal : {false, true})
    for (std::int64_t sk : {std::int64_t{12}, std::int64_t{20}})
      c.push_back({std::string("attention and backward") + (causal ? " causal" : "") + " sk " + std::to_string(sk), 1e-4,
                   [causal, sk](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                     const std::int64_t b = 2, sq = 12, w = 32;
                     const int heads = 4;
                     Tensor q = random(be, {b, sq, w}, rng), k = random(be, {b, sk, w}, rng), v = random(be, {b, sk, w}, rng);
                     Tensor out = be.alloc({b, sq, w}, DType::kF32), p = be.alloc({b, heads, sq}, DType::kF32);
                     be.attention_forward(q, k, v, heads, causal, out, p);
                     Tensor dout = random(be, {b, sq, w}, rng), dq = random(be, {b, sq, w}, rng),
                            dk = random(be, {b, sk, w}, rng), dv = random(be, {b, sk, w}, rng);
                     be.attention_backward(q, k, v, p, heads, causal, dout, dq, dk, dv);
                     return {host(be, out), host(be, p), host(be, dq), host(be, dk), host(be, dv)};
                   }});
  c.push_back({"gelu_mlp and backward", 1e-4, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 Tensor x = random(be, {2, 5, 32}, rng), w1 = random(be, {64, 32}, rng), b1 = random(be, {64}, rng),
                        w2 = random(be, {32, 64}, rng), b2 = random(be, {32}, rng);
                 Tensor pre = be.alloc({10, 64}, DType::kF32), act = be.alloc({10, 64}, DType::kF32),
                        y = be.alloc({2, 5, 32}, DType::kF32);
                 be.gelu_mlp_forward(x, w1, b1, w2, b2, pre, act, y);
                 Tensor dy = random(be, {2, 5, 32}, rng), dx = random(be, {2, 5, 32}, rng), dw1 = random(be, {64, 32}, rng),
                        db1 = random(be, {64}, rng), dw2 = random(be, {32, 64}, rng), db2 = random(be, {32}, rng);
                 be.gelu_mlp_backward(x, w1, w2, pre, act, dy, dx, dw1, db1, dw2, db2);
                 return {host(be, y), host(be, act), host(be, dx), host(be, dw1), host(be, db1), host(be, dw2), host(be, db2)};
               }});
  c.push_back({"swiglu_mlp and backward", 1e-4, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 Tensor x = random(be, {2, 5, 32}, rng), wg = random(be, {48, 32}, rng), wu = random(be, {48, 32}, rng),
                        wd = random(be, {32, 48}, rng);
                 Tensor gate = be.alloc({10, 48}, DType::kF32), up = be.alloc({10, 48}, DType::kF32),
                        act = be.alloc({10, 48}, DType::kF32), y = be.alloc({2, 5, 32}, DType::kF32);
                 be.swiglu_mlp_forward(x, wg, wu, wd, gate, up, act, y);
                 Tensor dy = random(be, {2, 5, 32}, rng), dx = random(be, {2, 5, 32}, rng), dwg = random(be, {48, 32}, rng),
                        dwu = random(be, {48, 32}, rng), dwd = random(be, {32, 48}, rng);
                 be.swiglu_mlp_backward(x, wg, wu, wd, gate, up, act, dy, dx, dwg, dwu, dwd);
                 return {host(be, y), host(be, dx), host(be, dwg), host(be, dwu), host(be, dwd)};
               }});
  c.push_back({"mean_pool and backward", 1e-5, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 Tensor x = random(be, {3, 10, 8}, rng), y = be.alloc({3, 4, 8}, DType::kF32);
                 be.mean_pool_forward(x, y);
                 Tensor dy = random(be, {3, 4, 8}, rng), dx = random(be, {3, 10, 8}, rng);
                 be.mean_pool_backward(dy, dx);
                 return {host(be, y), host(be, dx)};
               }});
  c.push_back({"patch_embed and backward", 1e-4, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 Tensor x = random(be, {2, 6, 12}, rng), w = random(be, {16, 12}, rng), b = random(be, {16}, rng),
                        pos = random(be, {8, 16}, rng), y = be.alloc({2, 6, 16}, DType::kF32);
                 be.patch_embed_forward(x, w, b, pos, y);
                 Tensor dy = random(be, {2, 6, 16}, rng), dw = random(be, {16, 12}, rng), db = random(be, {16}, rng),
                        dpos = random(be, {8, 16}, rng);
                 be.patch_embed_backward(x, dy, dw, db, dpos);
                 return {host(be, y), host(be, dw), host(be, db), host(be, dpos)};
               }});
  c.push_back({"token_embed and backward", 1e-5, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 std::vector<std::int32_t> ids{3, 0, 3, 7, 1, 3};
                 Tensor t = be.alloc({2, 3}, DType::kI32);
                 be.upload(t, ids);
                 Tensor table = random(be, {8, 16}, rng), y = be.alloc({2, 3, 16}, DType::kF32);
                 be.token_embed_forward(t, table, y);
                 Tensor dy = random(be, {2, 3, 16}, rng), dtable = random(be, {8, 16}, rng);
                 be.token_embed_backward(t, dy, dtable);
                 return {host(be, y), host(be, dtable)};
               }});
  c.push_back({"contrastive_loss and backward", 1e-5, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 Tensor a = random(be, {6, 16}, rng), b = random(be, {6, 16}, rng), loss = be.alloc({1}, DType::kF32);
                 be.contrastive_loss_forward(a, b, 1.0f / 0.07f, 1, 4, loss);
                 Tensor da = random(be, {6, 16}, rng), db = random(be, {6, 16}, rng);
                 be.contrastive_loss_backward(a, b, 1.0f / 0.07f, 1, 4, 1.0f, da, db);
                 return {host(be, loss), host(be, da), host(be, db)};
               }});
  c.push_back({"lm_head_loss and backward", 1e-4, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 std::vector<std::int32_t> labels{5, 0, 99, 42, 7, 7};
                 Tensor l = be.alloc({6}, DType::kI32);
                 be.upload(l, labels);
                 Tensor x = random(be, {6, 24}, rng), table = random(be, {100, 24}, rng), probs = be.alloc({6}, DType::kF32),
                        loss = be.alloc({1}, DType::kF32);
                 be.lm_head_loss_forward(x, table, l, probs, loss);
                 Tensor dx = random(be, {6, 24}, rng), dtable = random(be, {100, 24}, rng);
                 be.lm_head_loss_backward(x, table, l, probs, 0.5f, dx, dtable);
                 return {host(be, loss), host(be, probs), host(be, dx), host(be, dtable)};
               }});
  // A vocabulary large enough that the rows go in two blocks (cpu::lm_head_block_rows).
  c.push_back({"lm_head_loss and backward, blocks of rows", 1e-4,
               [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 const std::int64_t n = 40, vocab = 40000;
                 std::vector<std::int32_t> labels(n);
                 for (std::int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = static_cast<std::int32_t>(i * 997 % vocab);
                 Tensor l = be.alloc({n}, DType::kI32);
                 be.upload(l, labels);
                 Tensor x = random(be, {n, 16}, rng), table = random(be, {vocab, 16}, rng),
                        stats = be.alloc({n}, DType::kF32), loss = be.alloc({1}, DType::kF32);
                 be.lm_head_loss_forward(x, table, l, stats, loss);
                 Tensor dx = random(be, {n, 16}, rng), dtable = random(be, {vocab, 16}, rng);
                 be.lm_head_loss_backward(x, table, l, stats, 1.0f, dx, dtable);
                 return {host(be, loss), host(be, stats), host(be, dx), host(be, dtable)};
               }});
  // bf16 storage: activations and their gradients bf16, weights and their gradients fp32
  // (outputs may round to neighbouring bf16 values: tolerance of a few bf16 ulps).
  c.push_back({"linear and backward, bf16 activations", 2e-2,
               [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 const DType h = DType::kBF16;
                 Tensor x = random(be, {3, 17, 64}, rng, h), w = random(be, {48, 64}, rng), b = random(be, {48}, rng);
                 Tensor y = be.alloc({3, 17, 48}, h);
                 be.linear_forward(x, w, b, y);
                 Tensor dy = random(be, {3, 17, 48}, rng, h), dx = random(be, {3, 17, 64}, rng, h),
                        dw = random(be, {48, 64}, rng), db = random(be, {48}, rng);
                 be.linear_backward(x, w, dy, dx, dw, db);
                 return {host(be, y), host(be, dx), host(be, dw), host(be, db)};
               }});
  c.push_back({"attention and backward causal, bf16", 2e-2,
               [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 const DType h = DType::kBF16;
                 Tensor q = random(be, {2, 12, 32}, rng, h), k = random(be, {2, 12, 32}, rng, h),
                        v = random(be, {2, 12, 32}, rng, h);
                 Tensor out = be.alloc({2, 12, 32}, h), p = be.alloc({2, 4, 12}, DType::kF32);
                 be.attention_forward(q, k, v, 4, true, out, p);
                 Tensor dout = random(be, {2, 12, 32}, rng, h), dq = be.alloc({2, 12, 32}, h), dk = be.alloc({2, 12, 32}, h),
                        dv = be.alloc({2, 12, 32}, h);
                 be.attention_backward(q, k, v, p, 4, true, dout, dq, dk, dv);
                 return {host(be, out), host(be, p), host(be, dq), host(be, dk), host(be, dv)};
               }});
  c.push_back({"adamw", 1e-5, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 Tensor w = random(be, {257}, rng), g = random(be, {257}, rng), m = be.alloc({257}, DType::kF32),
                        v = be.alloc({257}, DType::kF32);
                 for (std::int64_t step = 1; step <= 3; ++step)  // the last step with a clip factor
                   be.adamw_step(w, g, m, v, {1e-2f, 0.9f, 0.95f, 1e-8f, 0.01f, step == 3 ? 0.25f : 1.0f}, step);
                 return {host(be, w), host(be, m), host(be, v)};
               }});
  // A multi-tensor step and norm over more tensors than one CUDA launch takes (36 and 110),
  // of many sizes (an empty one too) and both weight decays.
  c.push_back({"adamw and sum_squares over 150 tensors", 1e-5, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 std::vector<AdamWSlice> slices;
                 std::vector<Tensor> grads;
                 for (int k = 0; k < 150; ++k) {
                   const std::int64_t n = (k * 37) % 301;
                   Tensor m = be.alloc({n}, DType::kF32), v = be.alloc({n}, DType::kF32);
                   be.zero(m);
                   be.zero(v);
                   slices.push_back({random(be, {n}, rng), random(be, {n}, rng), m, v, k % 3 == 0 ? 0.0f : 0.01f});
                   grads.push_back(slices.back().grad);
                 }
                 const double sum = be.sum_squares(grads);
                 for (std::int64_t step = 1; step <= 2; ++step)
                   be.adamw_step(slices, {1e-2f, 0.9f, 0.95f, 1e-8f, 0.5f, step == 2 ? 0.25f : 1.0f}, step);
                 std::vector<std::vector<float>> out{{static_cast<float>(sum)}};
                 for (const AdamWSlice& s : slices) {
                   out.push_back(host(be, s.w));
                   out.push_back(host(be, s.v));
                 }
                 return out;
               }});
  return c;
}

// Worst relative difference of `got` against `want`, each element against its own magnitude
// plus a floor of 1e-3 times the output's largest; infinite when the sizes differ or an
// element is not finite on either side (a NaN must not compare as no difference).
double worst(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return INFINITY;
  double scale = 0, w = 0;
  for (float x : want) scale = std::max(scale, std::abs(static_cast<double>(x)));
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i]) || !std::isfinite(want[i])) return INFINITY;
    w = std::max(w, std::abs(static_cast<double>(got[i]) - want[i]) / (std::abs(static_cast<double>(want[i])) + 1e-3 * scale + 1e-30));
  }
  return w;
}

}  // namespace
}  // namespace spindle::engine::test

// --cpu-against-itself runs the cases with the CPU backend on both sides (the cases' own check,
// run by CI where no GPU is: they must build, run and agree exactly).
int main(int argc, char** argv) {
  using namespace spindle::engine;
  using namespace spindle::engine::test;
  const bool itself = argc > 1 && std::string(argv[1]) == "--cpu-against-itself";
  std::vector<std::unique_ptr<Backend>> others;
  if (itself) others.push_back(make_backend("cpu"));
  for (const std::string& name : backend_names()) {
    if (itself) break;
    if (name == "cpu") continue;
    try {
      others.push_back(make_backend(name));
    } catch (const spindle::InputError& e) {
      std::printf("backend %s unavailable: %s\n", name.c_str(), e.what());
    }
  }
  if (others.empty()) {
    std::printf("no backend besides the CPU reference here: skipped\n");
    return 77;
  }
  auto cpu = make_backend("cpu");
  int failed = 0;
  for (const auto& be : others)
    for (const Case& c : cases()) {
      std::mt19937 r1(42), r2(42);
      const auto want = c.run(*cpu, r1);
      std::vector<std::vector<float>> got;
      try {
        got = c.run(*be, r2);
      } catch (const std::exception& e) {
        std::printf("FAIL %s %s: %s\n", be->name().c_str(), c.name.c_str(), e.what());
        ++failed;
        continue;
      }
      double w = got.size() == want.size() ? 0 : INFINITY;
      for (size_t i = 0; i < want.size() && i < got.size(); ++i) w = std::max(w, worst(got[i], want[i]));
      const bool ok = itself ? w == 0 : w <= c.tolerance;
      failed += !ok;
      std::printf("%s %s %s: worst relative difference %.3g (tolerance %.1g)\n", ok ? "ok  " : "FAIL",
                  be->name().c_str(), c.name.c_str(), w, c.tolerance);
    }
  return failed == 0 ? 0 : 1;
}
