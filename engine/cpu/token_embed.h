// Token embedding: y[b, t] = table[id[b, t]], the planner's weights (the vocabulary table
// alone, no position embedding: a causal tower knows positions through its mask).
// ids [B, T] int32; table [V, H]. Backward scatters dy into the table rows.
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

template <class T>
void token_embed_forward(const std::int32_t* ids, const T* table, T* y, std::int64_t batch, std::int64_t tokens,
                         std::int64_t vocab, std::int64_t hidden);

template <class T>
void token_embed_backward(const std::int32_t* ids, const T* dy, T* dtable, std::int64_t batch, std::int64_t tokens,
                          std::int64_t hidden);

}  // namespace spindle::engine::cpu
