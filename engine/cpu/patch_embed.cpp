// Patch embedding forward and backward (see patch_embed.h).
#include "engine/cpu/patch_embed.h"

#include "engine/cpu/linear.h"

namespace spindle::engine::cpu {

template <class T>
void patch_embed_forward(const T* x, const T* w, const T* bias, const T* pos, T* y, std::int64_t batch,
                         std::int64_t tokens, std::int64_t features, std::int64_t hidden) {
  linear_forward(x, w, bias, y, batch * tokens, features, hidden);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < tokens; ++t)
      for (std::int64_t c = 0; c < hidden; ++c) y[(b * tokens + t) * hidden + c] += pos[t * hidden + c];
}

template <class T>
void patch_embed_backward(const T* x, const T* dy, T* dw, T* dbias, T* dpos, std::int64_t batch,
                          std::int64_t tokens, std::int64_t features, std::int64_t hidden) {
  linear_backward<T>(x, nullptr, dy, nullptr, dw, dbias, batch * tokens, features, hidden);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < tokens; ++t)
      for (std::int64_t c = 0; c < hidden; ++c) dpos[t * hidden + c] += dy[(b * tokens + t) * hidden + c];
}

template void patch_embed_forward<float>(const float*, const float*, const float*, const float*, float*,
                                         std::int64_t, std::int64_t, std::int64_t, std::int64_t);
template void patch_embed_forward<double>(const double*, const double*, const double*, const double*, double*,
                                          std::int64_t, std::int64_t, std::int64_t, std::int64_t);
template void patch_embed_backward<float>(const float*, const float*, float*, float*, float*, std::int64_t,
                                          std::int64_t, std::int64_t, std::int64_t);
template void patch_embed_backward<double>(const double*, const double*, double*, double*, double*, std::int64_t,
                                           std::int64_t, std::int64_t, std::int64_t);

}  // namespace spindle::engine::cpu
