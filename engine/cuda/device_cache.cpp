// The CUDA backend's caching device allocator (see device_cache.h).
#include "engine/cuda/device_cache.h"

#include "engine/cuda/cuda_check.h"

namespace spindle::engine::cuda {

DeviceCache::~DeviceCache() {
  for (void* p : pool_.drain()) cudaFree(p);  // no throwing from a destructor: a failed free is lost memory at exit
}

std::shared_ptr<void> DeviceCache::get(std::size_t bytes, MemPart part) {
  void* p = pool_.take(bytes, part);
  if (p == nullptr) {
    cudaError_t status = cudaMalloc(&p, bytes);
    if (status == cudaErrorMemoryAllocation) {  // give the cached blocks back and try once more
      (void)cudaGetLastError();  // clear the failure, or the next launch check would report it
      for (void* q : pool_.drain()) cudaFree(q);
      status = cudaMalloc(&p, bytes);
    }
    if (status != cudaSuccess) pool_.cancel(bytes, part);
    SPINDLE_CUDA(status);
  }
  SPINDLE_CUDA(cudaMemsetAsync(p, 0, bytes, stream_));
  return std::shared_ptr<void>(
      p, [cache = shared_from_this(), bytes, part](void* q) { cache->pool_.give_back(q, bytes, part); });
}

MemoryUse DeviceCache::use() const { return pool_.use(); }
void DeviceCache::reset_peak() { pool_.reset_peak(); }
std::size_t DeviceCache::bytes_cached() const { return pool_.cached(); }

}  // namespace spindle::engine::cuda
