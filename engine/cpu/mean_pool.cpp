// Mean pooling forward and backward (see mean_pool.h).
#include "engine/cpu/mean_pool.h"

#include "traces/errors.h"

namespace spindle::engine::cpu {
namespace {

void check(std::int64_t seq, std::int64_t out_seq) {
  if (out_seq < 1 || out_seq > seq)
    throw InternalError("mean_pool: " + std::to_string(out_seq) + " outputs from " + std::to_string(seq) + " tokens");
}

}  // namespace

template <class T>
void mean_pool_forward(const T* x, T* y, std::int64_t batch, std::int64_t seq, std::int64_t out_seq,
                       std::int64_t width) {
  check(seq, out_seq);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t o = 0; o < out_seq; ++o) {
      const std::int64_t first = o * seq / out_seq, end = (o + 1) * seq / out_seq;
      T* yo = y + (b * out_seq + o) * width;
      for (std::int64_t c = 0; c < width; ++c) yo[c] = 0;
      for (std::int64_t s = first; s < end; ++s)
        for (std::int64_t c = 0; c < width; ++c) yo[c] += x[(b * seq + s) * width + c];
      const T inv = T(1) / static_cast<T>(end - first);
      for (std::int64_t c = 0; c < width; ++c) yo[c] *= inv;
    }
}

template <class T>
void mean_pool_backward(const T* dy, T* dx, std::int64_t batch, std::int64_t seq, std::int64_t out_seq,
                        std::int64_t width) {
  check(seq, out_seq);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t o = 0; o < out_seq; ++o) {
      const std::int64_t first = o * seq / out_seq, end = (o + 1) * seq / out_seq;
      const T inv = T(1) / static_cast<T>(end - first);
      const T* dyo = dy + (b * out_seq + o) * width;
      for (std::int64_t s = first; s < end; ++s)
        for (std::int64_t c = 0; c < width; ++c) dx[(b * seq + s) * width + c] += dyo[c] * inv;
    }
}

template void mean_pool_forward<float>(const float*, float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t);
template void mean_pool_forward<double>(const double*, double*, std::int64_t, std::int64_t, std::int64_t,
                                        std::int64_t);
template void mean_pool_backward<float>(const float*, float*, std::int64_t, std::int64_t, std::int64_t,
                                        std::int64_t);
template void mean_pool_backward<double>(const double*, double*, std::int64_t, std::int64_t, std::int64_t,
                                         std::int64_t);

}  // namespace spindle::engine::cpu
