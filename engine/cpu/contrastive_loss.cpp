// InfoNCE forward and backward (see contrastive_loss.h). With P_row = softmax over j of L_ij
// and P_col = softmax over i of L_ij: dL_ij = (P_row_ij + P_col_ij - 2 [i = j]) / (2B);
// da^_i = s sum_j dL_ij b^_j; normalisation backward da = (da^ - a^ (a^.da^)) / |a|.
#include "engine/cpu/contrastive_loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace spindle::engine::cpu {
namespace {

constexpr double kNormEps = 1e-12;

template <class T>
struct Normalised {
  std::vector<T> a, b, norm_a, norm_b, logits;  // a^, b^ [B, D]; norms [B]; L [B, B]
};

template <class T>
Normalised<T> normalise(const T* a, const T* b, std::int64_t n, std::int64_t d, T s) {
  Normalised<T> r{std::vector<T>(a, a + n * d), std::vector<T>(b, b + n * d), std::vector<T>(static_cast<size_t>(n)),
                  std::vector<T>(static_cast<size_t>(n)), std::vector<T>(static_cast<size_t>(n * n))};
  for (int side = 0; side < 2; ++side) {
    std::vector<T>& x = side == 0 ? r.a : r.b;
    std::vector<T>& norm = side == 0 ? r.norm_a : r.norm_b;
    for (std::int64_t i = 0; i < n; ++i) {
      T ss = static_cast<T>(kNormEps);
      for (std::int64_t c = 0; c < d; ++c) ss += x[static_cast<size_t>(i * d + c)] * x[static_cast<size_t>(i * d + c)];
      norm[static_cast<size_t>(i)] = std::sqrt(ss);
      for (std::int64_t c = 0; c < d; ++c) x[static_cast<size_t>(i * d + c)] /= norm[static_cast<size_t>(i)];
    }
  }
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      T dot = 0;
      for (std::int64_t c = 0; c < d; ++c) dot += r.a[static_cast<size_t>(i * d + c)] * r.b[static_cast<size_t>(j * d + c)];
      r.logits[static_cast<size_t>(i * n + j)] = s * dot;
    }
  return r;
}

// Softmax of row i (by_row) or column i of the n x n logits into p; returns log-sum-exp.
template <class T>
T softmax_line(const std::vector<T>& logits, std::int64_t n, std::int64_t i, bool by_row, T* p) {
  auto at = [&](std::int64_t j) { return logits[static_cast<size_t>(by_row ? i * n + j : j * n + i)]; };
  T mx = at(0);
  for (std::int64_t j = 1; j < n; ++j) mx = std::max(mx, at(j));
  T sum = 0;
  for (std::int64_t j = 0; j < n; ++j) sum += std::exp(at(j) - mx);
  const T lse = mx + std::log(sum);
  if (p)
    for (std::int64_t j = 0; j < n; ++j) p[j] = std::exp(at(j) - lse);
  return lse;
}

}  // namespace

template <class T>
T contrastive_loss_forward(const T* a, const T* b, std::int64_t batch, std::int64_t width, T inv_temperature) {
  return contrastive_loss_share(a, b, batch, width, inv_temperature, std::int64_t{0}, batch);
}

template <class T>
void contrastive_loss_backward(const T* a, const T* b, T dloss, T* da, T* db, std::int64_t batch, std::int64_t width,
                               T inv_temperature) {
  contrastive_loss_share_backward(a, b, dloss, da, db, batch, width, inv_temperature, std::int64_t{0}, batch);
}

template <class T>
T contrastive_loss_share(const T* a, const T* b, std::int64_t batch, std::int64_t width, T inv_temperature,
                         std::int64_t first, std::int64_t last) {
  const Normalised<T> r = normalise(a, b, batch, width, inv_temperature);
  T loss = 0;
  for (std::int64_t i = first; i < last; ++i) {
    const T diag = r.logits[static_cast<size_t>(i * batch + i)];
    loss += softmax_line<T>(r.logits, batch, i, true, nullptr) - diag;
    loss += softmax_line<T>(r.logits, batch, i, false, nullptr) - diag;
  }
  return loss / static_cast<T>(2 * batch);
}

template <class T>
void contrastive_loss_share_backward(const T* a, const T* b, T dloss, T* da, T* db, std::int64_t batch,
                                     std::int64_t width, T inv_temperature, std::int64_t first, std::int64_t last) {
  const std::int64_t n = batch, d = width;
  const Normalised<T> r = normalise(a, b, n, d, inv_temperature);
  std::vector<T> dl(static_cast<size_t>(n * n), T(0)), p(static_cast<size_t>(n));
  const T scale = dloss / static_cast<T>(2 * n);
  for (std::int64_t i = first; i < last; ++i) {
    softmax_line<T>(r.logits, n, i, true, p.data());
    for (std::int64_t j = 0; j < n; ++j) dl[static_cast<size_t>(i * n + j)] += scale * p[static_cast<size_t>(j)];
    softmax_line<T>(r.logits, n, i, false, p.data());
    for (std::int64_t j = 0; j < n; ++j) dl[static_cast<size_t>(j * n + i)] += scale * p[static_cast<size_t>(j)];
    dl[static_cast<size_t>(i * n + i)] -= 2 * scale;
  }
  std::vector<T> dhat(static_cast<size_t>(d));
  for (int side = 0; side < 2; ++side) {
    const std::vector<T>& self = side == 0 ? r.a : r.b;
    const std::vector<T>& other = side == 0 ? r.b : r.a;
    const std::vector<T>& norm = side == 0 ? r.norm_a : r.norm_b;
    T* grad = side == 0 ? da : db;
    for (std::int64_t i = 0; i < n; ++i) {
      std::fill(dhat.begin(), dhat.end(), T(0));
      for (std::int64_t j = 0; j < n; ++j) {
        const T g = inv_temperature * (side == 0 ? dl[static_cast<size_t>(i * n + j)] : dl[static_cast<size_t>(j * n + i)]);
        for (std::int64_t c = 0; c < d; ++c) dhat[static_cast<size_t>(c)] += g * other[static_cast<size_t>(j * d + c)];
      }
      T dot = 0;
      for (std::int64_t c = 0; c < d; ++c) dot += self[static_cast<size_t>(i * d + c)] * dhat[static_cast<size_t>(c)];
      for (std::int64_t c = 0; c < d; ++c)
        grad[i * d + c] += (dhat[static_cast<size_t>(c)] - self[static_cast<size_t>(i * d + c)] * dot) / norm[static_cast<size_t>(i)];
    }
  }
}

template float contrastive_loss_forward<float>(const float*, const float*, std::int64_t, std::int64_t, float);
template double contrastive_loss_forward<double>(const double*, const double*, std::int64_t, std::int64_t, double);
template void contrastive_loss_backward<float>(const float*, const float*, float, float*, float*, std::int64_t,
                                               std::int64_t, float);
template void contrastive_loss_backward<double>(const double*, const double*, double, double*, double*,
                                                std::int64_t, std::int64_t, double);
template float contrastive_loss_share<float>(const float*, const float*, std::int64_t, std::int64_t, float,
                                             std::int64_t, std::int64_t);
template double contrastive_loss_share<double>(const double*, const double*, std::int64_t, std::int64_t, double,
                                               std::int64_t, std::int64_t);
template void contrastive_loss_share_backward<float>(const float*, const float*, float, float*, float*, std::int64_t,
                                                     std::int64_t, float, std::int64_t, std::int64_t);
template void contrastive_loss_share_backward<double>(const double*, const double*, double, double*, double*,
                                                      std::int64_t, std::int64_t, double, std::int64_t, std::int64_t);

}  // namespace spindle::engine::cpu
