// Central finite differences in double precision against a kernel's backward: the kernel's
// loss is sum(forward output x R) for a fixed random R, its analytic gradient the backward
// with dy = R. Each differentiated tensor's relative error |g - g_fd| / |g_fd| is printed
// for the fp64 instantiation (the math) and the fp32 one (the kernel training runs).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/model/rng.h"

namespace spindle::engine::test {

template <class T>
using Vecs = std::vector<std::vector<T>>;

inline std::vector<double> random_vec(size_t n, std::uint64_t key, double scale = 1.0) {
  Rng r(key);
  std::vector<double> v(n);
  for (double& x : v) x = scale * r.normal();
  return v;
}

template <class T>
Vecs<T> cast(const Vecs<double>& in) {
  Vecs<T> out;
  for (const auto& v : in) out.emplace_back(v.begin(), v.end());
  return out;
}

inline double rel_error(const std::vector<double>& g, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    num += (g[i] - ref[i]) * (g[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

// `loss` is a generic lambda (T)(const Vecs<T>&) -> T; `grads` (T)(const Vecs<T>&) -> Vecs<T>,
// one gradient per entry of `names` (the first names.size() inputs are differentiated).
// Returns the largest fp32 relative error.
template <class Loss, class Grads>
double check_gradients(const std::string& kernel, const std::vector<std::string>& names, const Vecs<double>& inputs,
                       Loss loss, Grads grads, double tol32 = 2e-3, double tol64 = 1e-6) {
  const Vecs<double> g64 = grads.template operator()<double>(inputs);
  const Vecs<float> g32f = grads.template operator()<float>(cast<float>(inputs));
  double worst = 0;
  for (size_t t = 0; t < names.size(); ++t) {
    Vecs<double> x = inputs;
    std::vector<double> fd(x[t].size());
    for (size_t i = 0; i < x[t].size(); ++i) {
      const double h = 1e-5 * std::max(1.0, std::abs(inputs[t][i]));
      x[t][i] = inputs[t][i] + h;
      const double up = loss.template operator()<double>(x);
      x[t][i] = inputs[t][i] - h;
      const double down = loss.template operator()<double>(x);
      x[t][i] = inputs[t][i];
      fd[i] = (up - down) / (2 * h);
    }
    const double e64 = rel_error(g64[t], fd);
    const double e32 = rel_error(std::vector<double>(g32f[t].begin(), g32f[t].end()), fd);
    std::printf("[gradient] %-18s %-8s fp64 %.2e  fp32 %.2e  (%zu elements)\n", kernel.c_str(), names[t].c_str(), e64,
                e32, fd.size());
    EXPECT_LT(e64, tol64) << kernel << " " << names[t];
    EXPECT_LT(e32, tol32) << kernel << " " << names[t];
    worst = std::max(worst, e32);
  }
  return worst;
}

template <class T>
T dot(const std::vector<T>& a, const std::vector<double>& r) {
  T s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * static_cast<T>(r[i]);
  return s;
}

template <class T>
std::vector<T> as(const std::vector<double>& r) {
  return std::vector<T>(r.begin(), r.end());
}

}  // namespace spindle::engine::test
