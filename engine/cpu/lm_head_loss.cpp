// LM head cross-entropy forward and backward (see lm_head_loss.h), on the linear kernels.
#include "engine/cpu/lm_head_loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cpu/linear.h"
#include "traces/errors.h"

namespace spindle::engine::cpu {

template <class T>
T lm_head_loss_forward(const T* x, const T* table, const std::int32_t* labels, T* probs, std::int64_t n,
                       std::int64_t hidden, std::int64_t vocab) {
  linear_forward<T>(x, table, nullptr, probs, n, hidden, vocab);  // logits, turned into probs in place
  T loss = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    T* p = probs + i * vocab;
    const std::int32_t label = labels[i];
    if (label < 0 || label >= vocab) throw InternalError("label " + std::to_string(label) + " outside the vocabulary");
    const T mx = *std::max_element(p, p + vocab);
    T sum = 0;
    for (std::int64_t v = 0; v < vocab; ++v) sum += std::exp(p[v] - mx);
    const T lse = mx + std::log(sum);
    loss += lse - p[label];
    for (std::int64_t v = 0; v < vocab; ++v) p[v] = std::exp(p[v] - lse);
  }
  return loss / static_cast<T>(n);
}

template <class T>
void lm_head_loss_backward(const T* x, const T* table, const std::int32_t* labels, const T* probs, T dloss, T* dx,
                           T* dtable, std::int64_t n, std::int64_t hidden, std::int64_t vocab) {
  std::vector<T> dlogits(probs, probs + n * vocab);
  const T scale = dloss / static_cast<T>(n);
  for (std::int64_t i = 0; i < n; ++i) {
    dlogits[static_cast<size_t>(i * vocab + labels[i])] -= T(1);
    for (std::int64_t v = 0; v < vocab; ++v) dlogits[static_cast<size_t>(i * vocab + v)] *= scale;
  }
  linear_backward<T>(x, table, dlogits.data(), dx, dtable, nullptr, n, hidden, vocab);
}

template float lm_head_loss_forward<float>(const float*, const float*, const std::int32_t*, float*, std::int64_t,
                                           std::int64_t, std::int64_t);
template double lm_head_loss_forward<double>(const double*, const double*, const std::int32_t*, double*,
                                             std::int64_t, std::int64_t, std::int64_t);
template void lm_head_loss_backward<float>(const float*, const float*, const std::int32_t*, const float*, float,
                                           float*, float*, std::int64_t, std::int64_t, std::int64_t);
template void lm_head_loss_backward<double>(const double*, const double*, const std::int32_t*, const double*,
                                            double, double*, double*, std::int64_t, std::int64_t, std::int64_t);

}  // namespace spindle::engine::cpu
