// LM head cross-entropy forward and backward (see lm_head_loss.h), on the linear kernels, a
// block of rows at a time.
#include "engine/cpu/lm_head_loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cpu/linear.h"
#include "traces/errors.h"

namespace spindle::engine::cpu {

std::int64_t lm_head_block_rows(std::int64_t vocab) {
  return std::max<std::int64_t>(1, kLmHeadBlockElements / std::max<std::int64_t>(1, vocab));
}

template <class T>
T lm_head_loss_forward(const T* x, const T* table, const std::int32_t* labels, T* stats, std::int64_t n,
                       std::int64_t hidden, std::int64_t vocab, std::int64_t block_rows) {
  for (std::int64_t i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= vocab)
      throw InternalError("label " + std::to_string(labels[i]) + " outside the vocabulary");
  const std::int64_t block = block_rows > 0 ? block_rows : lm_head_block_rows(vocab);
  std::vector<T> logits(static_cast<size_t>(std::min(n, block) * vocab));
  T loss = 0;
  for (std::int64_t first = 0; first < n; first += block) {
    const std::int64_t rows = std::min(block, n - first);
    linear_forward<T>(x + first * hidden, table, nullptr, logits.data(), rows, hidden, vocab);
    for (std::int64_t i = 0; i < rows; ++i) {
      const T* p = logits.data() + i * vocab;
      const T mx = *std::max_element(p, p + vocab);
      T sum = 0;
      for (std::int64_t v = 0; v < vocab; ++v) sum += std::exp(p[v] - mx);
      const T lse = mx + std::log(sum);
      stats[first + i] = lse;
      loss += lse - p[labels[first + i]];
    }
  }
  return loss / static_cast<T>(n);
}

template <class T>
void lm_head_loss_backward(const T* x, const T* table, const std::int32_t* labels, const T* stats, T dloss, T* dx,
                           T* dtable, std::int64_t n, std::int64_t hidden, std::int64_t vocab,
                           std::int64_t block_rows) {
  const std::int64_t block = block_rows > 0 ? block_rows : lm_head_block_rows(vocab);
  std::vector<T> dlogits(static_cast<size_t>(std::min(n, block) * vocab));
  const T scale = dloss / static_cast<T>(n);
  for (std::int64_t first = 0; first < n; first += block) {
    const std::int64_t rows = std::min(block, n - first);
    linear_forward<T>(x + first * hidden, table, nullptr, dlogits.data(), rows, hidden, vocab);
    for (std::int64_t i = 0; i < rows; ++i) {
      T* d = dlogits.data() + i * vocab;
      const T lse = stats[first + i];
      for (std::int64_t v = 0; v < vocab; ++v) d[v] = std::exp(d[v] - lse);
      d[labels[first + i]] -= T(1);
      for (std::int64_t v = 0; v < vocab; ++v) d[v] *= scale;
    }
    linear_backward<T>(x + first * hidden, table, dlogits.data(), dx ? dx + first * hidden : nullptr, dtable, nullptr,
                       rows, hidden, vocab);
  }
}

template float lm_head_loss_forward<float>(const float*, const float*, const std::int32_t*, float*, std::int64_t,
                                           std::int64_t, std::int64_t, std::int64_t);
template double lm_head_loss_forward<double>(const double*, const double*, const std::int32_t*, double*,
                                             std::int64_t, std::int64_t, std::int64_t, std::int64_t);
template void lm_head_loss_backward<float>(const float*, const float*, const std::int32_t*, const float*, float,
                                           float*, float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t);
template void lm_head_loss_backward<double>(const double*, const double*, const std::int32_t*, const double*,
                                            double, double*, double*, std::int64_t, std::int64_t, std::int64_t,
                                            std::int64_t);

}  // namespace spindle::engine::cpu
