// Tensor shapes (see tensor.h).
#include "engine/tensor.h"

#include "traces/errors.h"

namespace spindle::engine {

std::string dims_str(const Dims& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

int dtype_bytes(DType d) { return d == DType::kBF16 ? 2 : 4; }

const char* dtype_name(DType d) {
  switch (d) {
    case DType::kF32: return "fp32";
    case DType::kI32: return "int32";
    case DType::kBF16: return "bf16";
  }
  return "?";
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

Tensor Tensor::rows_view(std::int64_t first, std::int64_t last) const {
  if (shape_.empty() || first < 0 || last < first || last > shape_[0])
    throw InternalError("rows [" + std::to_string(first) + "," + std::to_string(last) + ") of " + dims_str(shape_));
  Dims d = shape_;
  d[0] = last - first;
  const std::int64_t per_row = shape_[0] > 0 ? numel() / shape_[0] : 0;
  return Tensor(std::move(d), dtype_,
                std::shared_ptr<void>(memory_, static_cast<char*>(memory_.get()) + first * per_row * dtype_bytes(dtype_)));
}

Tensor Tensor::flat_view(std::int64_t offset, std::int64_t count) const {
  if (offset < 0 || count < 0 || offset + count > numel())
    throw InternalError("elements [" + std::to_string(offset) + "," + std::to_string(offset + count) + ") of " +
                        dims_str(shape_));
  return Tensor({count}, dtype_, std::shared_ptr<void>(memory_, static_cast<char*>(memory_.get()) + offset * dtype_bytes(dtype_)));
}

}  // namespace spindle::engine
