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

std::shared_ptr<void> HostCache::get(std::size_t bytes, MemPart part) {
  const auto k = static_cast<size_t>(part);
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
    use_.in_use[k] += bytes;
    use_.peak[k] = std::max(use_.peak[k], use_.in_use[k]);
    if (in_use_ > peak_) {
      peak_ = in_use_;
      use_.peak_total = in_use_;
      use_.at_peak = use_.in_use;
    }
  }
  if (p != nullptr) {
    std::memset(p, 0, bytes);
  } else {
    p = std::calloc(bytes, 1);
    if (p == nullptr) {
      std::lock_guard<std::mutex> lock(mu_);
      in_use_ -= bytes;
      use_.in_use[k] -= bytes;
      throw InternalError("out of host memory allocating " + std::to_string(bytes) + " bytes");
    }
  }
  return std::shared_ptr<void>(p, [cache = shared_from_this(), bytes, part](void* q) { cache->put(q, bytes, part); });
}

void HostCache::put(void* p, std::size_t bytes, MemPart part) {
  std::lock_guard<std::mutex> lock(mu_);
  in_use_ -= bytes;
  use_.in_use[static_cast<size_t>(part)] -= bytes;
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

namespace spindle::engine::cpu {

void HostCache::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  peak_ = in_use_;
  use_.peak = use_.in_use;
  use_.at_peak = use_.in_use;
  use_.peak_total = in_use_;
}

MemoryUse HostCache::use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return use_;
}

}  // namespace spindle::engine::cpu
