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
                 Tensor t = random(be, {1000, 33}, rng);
                 be.scale(t, 0.5f);
                 return {host(be, t), {static_cast<float>(be.sum_squares(t))}};
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
  c.push_back({"adamw", 1e-5, [](Backend& be, std::mt19937& rng) -> std::vector<std::vector<float>> {
                 Tensor w = random(be, {257}, rng), g = random(be, {257}, rng), m = be.alloc({257}, DType::kF32),
                        v = be.alloc({257}, DType::kF32);
                 for (std::int64_t step = 1; step <= 3; ++step) be.adamw_step(w, g, m, v, {1e-2f, 0.9f, 0.95f, 1e-8f, 0.01f}, step);
                 return {host(be, w), host(be, m), host(be, v)};
               }});
  return c;
}

// Worst relative difference of `got` against `want`, each element against its own magnitude
// plus a floor of 1e-3 times the output's largest.
double worst(const std::vector<float>& got, const std::vector<float>& want) {
  double scale = 0, w = 0;
  for (float x : want) scale = std::max(scale, std::abs(static_cast<double>(x)));
  for (size_t i = 0; i < want.size(); ++i)
    w = std::max(w, std::abs(static_cast<double>(got[i]) - want[i]) / (std::abs(static_cast<double>(want[i])) + 1e-3 * scale + 1e-30));
  return w;
}

}  // namespace
}  // namespace spindle::engine::test

int main() {
  using namespace spindle::engine;
  using namespace spindle::engine::test;
  std::vector<std::unique_ptr<Backend>> others;
  for (const std::string& name : backend_names()) {
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
      double w = 0;
      for (size_t i = 0; i < want.size(); ++i) w = std::max(w, worst(got[i], want[i]));
      const bool ok = w <= c.tolerance;
      failed += !ok;
      std::printf("%s %s %s: worst relative difference %.3g (tolerance %.1g)\n", ok ? "ok  " : "FAIL",
                  be->name().c_str(), c.name.c_str(), w, c.tolerance);
    }
  return failed == 0 ? 0 : 1;
}
