// A tensor: a shape, an element type and memory owned by the backend that allocated it (host
// memory for the CPU backend, device memory for a GPU one). Copies share the memory; only the
// backend reads or writes the elements, through its kernels and upload/download.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace spindle::engine {

// fp32; int32 (token ids, labels); bf16 storage (the top 16 bits of an fp32, rounded to
// nearest even): activations under TrainOptions::bf16, computed in fp32 by the CPU backend.
enum class DType { kF32, kI32, kBF16 };
int dtype_bytes(DType d);
const char* dtype_name(DType d);

using Dims = std::vector<std::int64_t>;
std::string dims_str(const Dims& d);  // "[4,8,32]"

class Tensor {
 public:
  Tensor() = default;
  Tensor(Dims shape, DType dtype, std::shared_ptr<void> memory)
      : shape_(std::move(shape)), dtype_(dtype), memory_(std::move(memory)) {}

  const Dims& shape() const { return shape_; }
  std::int64_t dim(int i) const { return shape_[static_cast<size_t>(i < 0 ? static_cast<int>(shape_.size()) + i : i)]; }
  int rank() const { return static_cast<int>(shape_.size()); }
  std::int64_t numel() const;
  std::int64_t rows() const { return shape_.empty() ? 1 : numel() / shape_.back(); }  // all but the last dim
  DType dtype() const { return dtype_; }
  bool empty() const { return memory_ == nullptr; }

  // Raw memory for the owning backend's kernels (a device pointer on a GPU backend).
  float* f32() const { return static_cast<float*>(memory_.get()); }
  std::int32_t* i32() const { return static_cast<std::int32_t*>(memory_.get()); }
  std::uint16_t* bf16() const { return static_cast<std::uint16_t*>(memory_.get()); }
  void* data() const { return memory_.get(); }
  std::int64_t bytes() const { return numel() * dtype_bytes(dtype_); }

  // The same memory seen with another shape of the same element count.
  Tensor reshaped(Dims shape) const;
  // Leading-dimension rows [first, last) of this tensor: a view sharing its memory.
  Tensor rows_view(std::int64_t first, std::int64_t last) const;
  // Elements [offset, offset + count) of the flattened tensor: a 1-D view sharing its memory.
  Tensor flat_view(std::int64_t offset, std::int64_t count) const;

 private:
  Dims shape_;
  DType dtype_ = DType::kF32;
  std::shared_ptr<void> memory_;
};

}  // namespace spindle::engine
