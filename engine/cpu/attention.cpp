// Attention forward and backward (see attention.h). Per (batch, head, query): scores
// s_j = q.k_j / sqrt(head dim), masked keys get probability 0, P = softmax(s), out = sum P_j v_j.
// Backward: dP_j = dout.v_j, ds_j = P_j (dP_j - sum_j' P_j' dP_j'), dq = sum ds_j k_j / sqrt(hd).
#include "engine/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

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

template <class T>
void attention_forward(const T* q, const T* k, const T* v, T* out, T* probs, const AttentionDims& d) {
  check(d);
  const std::int64_t hd = d.width / d.heads;
  const T scale = T(1) / std::sqrt(static_cast<T>(hd));
  for (std::int64_t b = 0; b < d.batch; ++b)
    for (std::int64_t h = 0; h < d.heads; ++h)
      for (std::int64_t i = 0; i < d.q_len; ++i) {
        const T* qi = q + (b * d.q_len + i) * d.width + h * hd;
        T* p = probs + ((b * d.heads + h) * d.q_len + i) * d.kv_len;
        const std::int64_t last = last_key(d, i);
        T mx = -INFINITY;
        for (std::int64_t j = 0; j <= last; ++j) {
          const T* kj = k + (b * d.kv_len + j) * d.width + h * hd;
          T s = 0;
          for (std::int64_t c = 0; c < hd; ++c) s += qi[c] * kj[c];
          p[j] = s * scale;
          mx = std::max(mx, p[j]);
        }
        T sum = 0;
        for (std::int64_t j = 0; j <= last; ++j) {
          p[j] = std::exp(p[j] - mx);
          sum += p[j];
        }
        for (std::int64_t j = 0; j <= last; ++j) p[j] /= sum;
        for (std::int64_t j = last + 1; j < d.kv_len; ++j) p[j] = 0;
        T* oi = out + (b * d.q_len + i) * d.width + h * hd;
        for (std::int64_t c = 0; c < hd; ++c) oi[c] = 0;
        for (std::int64_t j = 0; j <= last; ++j) {
          const T* vj = v + (b * d.kv_len + j) * d.width + h * hd;
          for (std::int64_t c = 0; c < hd; ++c) oi[c] += p[j] * vj[c];
        }
      }
}

template <class T>
void attention_backward(const T* q, const T* k, const T* v, const T* probs, const T* dout, T* dq, T* dk, T* dv,
                        const AttentionDims& d) {
  check(d);
  const std::int64_t hd = d.width / d.heads;
  const T scale = T(1) / std::sqrt(static_cast<T>(hd));
  std::vector<T> dp(static_cast<size_t>(d.kv_len));
  for (std::int64_t b = 0; b < d.batch; ++b)
    for (std::int64_t h = 0; h < d.heads; ++h)
      for (std::int64_t i = 0; i < d.q_len; ++i) {
        const T* p = probs + ((b * d.heads + h) * d.q_len + i) * d.kv_len;
        const T* doi = dout + (b * d.q_len + i) * d.width + h * hd;
        const T* qi = q + (b * d.q_len + i) * d.width + h * hd;
        const std::int64_t last = last_key(d, i);
        T dot = 0;
        for (std::int64_t j = 0; j <= last; ++j) {
          const T* vj = v + (b * d.kv_len + j) * d.width + h * hd;
          T* dvj = dv + (b * d.kv_len + j) * d.width + h * hd;
          T s = 0;
          for (std::int64_t c = 0; c < hd; ++c) {
            s += doi[c] * vj[c];
            dvj[c] += p[j] * doi[c];
          }
          dp[static_cast<size_t>(j)] = s;
          dot += p[j] * s;
        }
        T* dqi = dq + (b * d.q_len + i) * d.width + h * hd;
        for (std::int64_t j = 0; j <= last; ++j) {
          const T ds = p[j] * (dp[static_cast<size_t>(j)] - dot) * scale;
          const T* kj = k + (b * d.kv_len + j) * d.width + h * hd;
          T* dkj = dk + (b * d.kv_len + j) * d.width + h * hd;
          for (std::int64_t c = 0; c < hd; ++c) {
            dqi[c] += ds * kj[c];
            dkj[c] += ds * qi[c];
          }
        }
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
