// Attention forward and backward (see attention.h). Per (batch, head, query): scores
// s_j = q.k_j / sqrt(head dim), masked keys get probability 0, P = softmax(s) = exp(s - lse),
// out = sum P_j v_j. Backward: P again from lse, dP_j = dout.v_j,
// ds_j = P_j (dP_j - sum_j' P_j' dP_j'), dq = sum ds_j k_j / sqrt(hd). The products run as
// GEMMs per (batch, head) through cpu/blas.h, one head's [Sq, Sk] block at a time.
#include "engine/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cpu/blas.h"
#include "traces/errors.h"

namespace spindle::engine::cpu {
namespace {

std::int64_t last_key(const AttentionDims& d, std::int64_t i) {
  return d.causal ? i + (d.kv_len - d.q_len) : d.kv_len - 1;
}

void check(const AttentionDims& d) {
  if (d.heads <= 0 || d.width % d.heads != 0)
    throw InternalError("attention: width " + std::to_string(d.width) + " not divisible by heads " +
                        std::to_string(d.heads));
  if (d.causal && d.kv_len < d.q_len) throw InternalError("causal attention with fewer keys than queries");
}

}  // namespace

// One (batch, head)'s probabilities into P [Sq, Sk]: S = Q K^T / sqrt(hd) through the BLAS
// wrapper, then each row's softmax over its visible keys (masked keys get 0). Without `lse_in`
// the row's log-sum-exp is computed (and written to lse_out); with it, P = exp(S - lse).
template <class T>
void head_probs(const T* qh, const T* kh, T* P, const AttentionDims& d, const T* lse_in, T* lse_out) {
  const std::int64_t hd = d.width / d.heads, W = d.width;
  const T scale = T(1) / std::sqrt(static_cast<T>(hd));
  gemm<T>(false, true, d.q_len, d.kv_len, hd, scale, qh, W, kh, W, T(0), P, d.kv_len);
  for (std::int64_t i = 0; i < d.q_len; ++i) {
    T* p = P + i * d.kv_len;
    const std::int64_t last = last_key(d, i);
    T lse = 0;
    if (lse_in) {
      lse = lse_in[i];
    } else {
      T mx = -INFINITY;
      for (std::int64_t j = 0; j <= last; ++j) mx = std::max(mx, p[j]);
      T sum = 0;
      for (std::int64_t j = 0; j <= last; ++j) sum += std::exp(p[j] - mx);
      lse = mx + std::log(sum);
      lse_out[i] = lse;
    }
    for (std::int64_t j = 0; j <= last; ++j) p[j] = std::exp(p[j] - lse);
    for (std::int64_t j = last + 1; j < d.kv_len; ++j) p[j] = 0;
  }
}

// Per (batch, head): the head's probabilities (their log-sum-exps kept), then out = P V.
template <class T>
void attention_forward(const T* q, const T* k, const T* v, T* out, T* stats, const AttentionDims& d) {
  check(d);
  const std::int64_t hd = d.width / d.heads, W = d.width;
  std::vector<T> P(static_cast<size_t>(d.q_len * d.kv_len));
  for (std::int64_t b = 0; b < d.batch; ++b)
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const std::int64_t qo = b * d.q_len * W + h * hd, ko = b * d.kv_len * W + h * hd;
      head_probs<T>(q + qo, k + ko, P.data(), d, nullptr, stats + (b * d.heads + h) * d.q_len);
      gemm<T>(false, false, d.q_len, hd, d.kv_len, T(1), P.data(), d.kv_len, v + ko, W, T(0), out + qo, W);
    }
}

// Per (batch, head): P recomputed from stats, dP = dout V^T, dV += P^T dout,
// dS = P (dP - rowsum(P dP)) / sqrt(hd), dQ += dS K, dK += dS^T Q (masked keys have P = 0, so
// dS = 0 there).
template <class T>
void attention_backward(const T* q, const T* k, const T* v, const T* stats, const T* dout, T* dq, T* dk, T* dv,
                        const AttentionDims& d) {
  check(d);
  const std::int64_t hd = d.width / d.heads, W = d.width;
  const T scale = T(1) / std::sqrt(static_cast<T>(hd));
  std::vector<T> P(static_cast<size_t>(d.q_len * d.kv_len)), ds(P.size());
  for (std::int64_t b = 0; b < d.batch; ++b)
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const std::int64_t qo = b * d.q_len * W + h * hd, ko = b * d.kv_len * W + h * hd;
      head_probs<T>(q + qo, k + ko, P.data(), d, stats + (b * d.heads + h) * d.q_len, nullptr);
      gemm<T>(false, true, d.q_len, d.kv_len, hd, T(1), dout + qo, W, v + ko, W, T(0), ds.data(), d.kv_len);  // dP
      gemm<T>(true, false, d.kv_len, hd, d.q_len, T(1), P.data(), d.kv_len, dout + qo, W, T(1), dv + ko, W);
      for (std::int64_t i = 0; i < d.q_len; ++i) {
        const T* p = P.data() + i * d.kv_len;
        T* r = ds.data() + i * d.kv_len;
        T dot = 0;
        for (std::int64_t j = 0; j < d.kv_len; ++j) dot += p[j] * r[j];
        for (std::int64_t j = 0; j < d.kv_len; ++j) r[j] = p[j] * (r[j] - dot) * scale;
      }
      gemm<T>(false, false, d.q_len, hd, d.kv_len, T(1), ds.data(), d.kv_len, k + ko, W, T(1), dq + qo, W);
      gemm<T>(true, false, d.kv_len, hd, d.q_len, T(1), ds.data(), d.kv_len, q + qo, W, T(1), dk + ko, W);
    }
}

template void attention_forward<float>(const float*, const float*, const float*, float*, float*,
                                       const AttentionDims&);
template void attention_forward<double>(const double*, const double*, const double*, double*, double*,
                                        const AttentionDims&);
template void attention_backward<float>(const float*, const float*, const float*, const float*, const float*,
                                        float*, float*, float*, const AttentionDims&);
template void attention_backward<double>(const double*, const double*, const double*, const double*,
                                         const double*, double*, double*, double*, const AttentionDims&);

}  // namespace spindle::engine::cpu
