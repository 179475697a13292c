// The CPU backend's host memory cache (see host_cache.h).
#include "engine/cpu/host_cache.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "traces/errors.h"

namespace spindle::engine::cpu {

HostCache::~HostCache() {
  for (void* p : pool_.drain()) std::free(p);
}

std::shared_ptr<void> HostCache::get(std::size_t bytes, MemPart part) {
  void* p = pool_.take(bytes, part);
  if (p != nullptr) {
    std::memset(p, 0, bytes);
  } else {
    p = std::calloc(bytes, 1);
    if (p == nullptr) {
      pool_.cancel(bytes, part);
      throw InternalError("out of host memory allocating " + std::to_string(bytes) + " bytes");
    }
  }
  return std::shared_ptr<void>(
      p, [cache = shared_from_this(), bytes, part](void* q) { cache->pool_.give_back(q, bytes, part); });
}

std::size_t HostCache::bytes_in_use() const { return pool_.use().total_in_use(); }
std::size_t HostCache::peak_bytes() const { return pool_.use().peak_total; }
std::size_t HostCache::bytes_cached() const { return pool_.cached(); }
MemoryUse HostCache::use() const { return pool_.use(); }
void HostCache::reset_peak() { pool_.reset_peak(); }

}  // namespace spindle::engine::cpu
