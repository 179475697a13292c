// Tensor shapes (see tensor.h).
#include "engine/tensor.h"

#include "traces/errors.h"

namespace spindle::engine {

std::string dims_str(const Dims& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

std::int64_t Tensor::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape_) n *= d;
  return n;
}

Tensor Tensor::reshaped(Dims shape) const {
  Tensor t(std::move(shape), dtype_, memory_);
  if (t.numel() != numel())
    throw InternalError("reshape " + dims_str(shape_) + " -> " + dims_str(t.shape_) + " changes the element count");
  return t;
}

}  // namespace spindle::engine
