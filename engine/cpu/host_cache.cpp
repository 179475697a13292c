// The CPU backend's host memory cache (see host_cache.h).
#include "engine/cpu/host_cache.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "traces/errors.h"

namespace spindle::engine::cpu {

HostCache::~HostCache() {
  for (auto& [bytes, blocks] : free_)
    for (void* p : blocks) std::free(p);
}

std::shared_ptr<void> HostCache::get(std::size_t bytes) {
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(bytes);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      cached_ -= bytes;
    }
    in_use_ += bytes;
    peak_ = std::max(peak_, in_use_);
  }
  if (p != nullptr) {
    std::memset(p, 0, bytes);
  } else {
    p = std::calloc(bytes, 1);
    if (p == nullptr) {
      std::lock_guard<std::mutex> lock(mu_);
      in_use_ -= bytes;
      throw InternalError("out of host memory allocating " + std::to_string(bytes) + " bytes");
    }
  }
  return std::shared_ptr<void>(p, [cache = shared_from_this(), bytes](void* q) { cache->put(q, bytes); });
}

void HostCache::put(void* p, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  in_use_ -= bytes;
  cached_ += bytes;
  free_[bytes].push_back(p);
}

std::size_t HostCache::bytes_in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}

std::size_t HostCache::peak_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_;
}

std::size_t HostCache::bytes_cached() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_;
}

}  // namespace spindle::engine::cpu
