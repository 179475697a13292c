// Token embedding forward and backward (see token_embed.h).
#include "engine/cpu/token_embed.h"

#include "traces/errors.h"

namespace spindle::engine::cpu {

template <class T>
void token_embed_forward(const std::int32_t* ids, const T* table, T* y, std::int64_t batch, std::int64_t tokens,
                         std::int64_t vocab, std::int64_t hidden) {
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < tokens; ++t) {
      const std::int32_t id = ids[b * tokens + t];
      if (id < 0 || id >= vocab)
        throw InternalError("token id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(vocab));
      T* yr = y + (b * tokens + t) * hidden;
      const T* row = table + static_cast<std::int64_t>(id) * hidden;
      for (std::int64_t c = 0; c < hidden; ++c) yr[c] = row[c];
    }
}

template <class T>
void token_embed_backward(const std::int32_t* ids, const T* dy, T* dtable, std::int64_t batch, std::int64_t tokens,
                          std::int64_t hidden) {
  for (std::int64_t i = 0; i < batch * tokens; ++i) {
    T* row = dtable + static_cast<std::int64_t>(ids[i]) * hidden;
    for (std::int64_t c = 0; c < hidden; ++c) row[c] += dy[i * hidden + c];
  }
}

template void token_embed_forward<float>(const std::int32_t*, const float*, float*, std::int64_t, std::int64_t,
                                         std::int64_t, std::int64_t);
template void token_embed_forward<double>(const std::int32_t*, const double*, double*, std::int64_t, std::int64_t,
                                          std::int64_t, std::int64_t);
template void token_embed_backward<float>(const std::int32_t*, const float*, float*, std::int64_t, std::int64_t,
                                          std::int64_t);
template void token_embed_backward<double>(const std::int32_t*, const double*, double*, std::int64_t, std::int64_t,
                                           std::int64_t);

}  // namespace spindle::engine::cpu
