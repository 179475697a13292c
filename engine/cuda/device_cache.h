// Device memory for the CUDA backend's tensors, cached by size as PyTorch's caching allocator
// does: a freed block goes back to its size's free list and the next allocation of that size
// reuses it, so an iteration's buffers are not cudaMalloc'ed (a device-wide synchronisation)
// again every iteration. Counts bytes by memory part (memory_parts.h). One cache per stream
// (the backend's compute and side streams): a block is reused in its own stream's order only,
// and zeroed on that stream before use. Thread-safe.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "engine/memory_parts.h"

namespace spindle::engine::cuda {

class DeviceCache : public std::enable_shared_from_this<DeviceCache> {
 public:
  static std::shared_ptr<DeviceCache> make(cudaStream_t stream) {
    return std::shared_ptr<DeviceCache>(new DeviceCache(stream));
  }
  ~DeviceCache();
  DeviceCache(const DeviceCache&) = delete;
  DeviceCache& operator=(const DeviceCache&) = delete;

  // `bytes` of zeroed device memory charged to `part` (zeroed in stream order).
  std::shared_ptr<void> get(std::size_t bytes, MemPart part);
  MemoryUse use() const;
  void reset_peak();
  std::size_t bytes_cached() const;

 private:
  explicit DeviceCache(cudaStream_t stream) : stream_(stream) {}
  cudaStream_t stream_;
  BlockPool pool_;
};

}  // namespace spindle::engine::cuda
