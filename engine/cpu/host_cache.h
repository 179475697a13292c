// Host memory for the CPU backend's tensors, cached by size: a freed block goes back to the
// free list of its byte size and the next allocation of that size reuses it (zeroed), so the
// buffers of one iteration are not returned to the kernel and faulted in again the next (as a
// GPU caching allocator keeps device memory). Counts the bytes in use and their peak, per
// memory part (the allocating thread's MemPartScope, memory_parts.h).
// Thread-safe: a rank's sync thread allocates beside its program.
#pragma once

#include <cstddef>
#include <memory>

#include "engine/memory_parts.h"

namespace spindle::engine::cpu {

class HostCache : public std::enable_shared_from_this<HostCache> {
 public:
  static std::shared_ptr<HostCache> make() { return std::shared_ptr<HostCache>(new HostCache()); }
  ~HostCache();
  HostCache(const HostCache&) = delete;
  HostCache& operator=(const HostCache&) = delete;

  // `bytes` of zeroed memory charged to `part`; the block keeps the cache alive and returns to
  // it when freed. Throws InternalError when the host has no memory left.
  std::shared_ptr<void> get(std::size_t bytes, MemPart part = MemPart::kBuffers);
  std::size_t bytes_in_use() const;
  std::size_t peak_bytes() const;  // the most in use at once
  std::size_t bytes_cached() const;  // held free for reuse
  MemoryUse use() const;           // by part
  void reset_peak();               // peaks from now on: the bytes in use now

 private:
  HostCache() = default;
  BlockPool pool_;
};

}  // namespace spindle::engine::cpu
