// What a device's memory holds, by part: the parts `spindle-run --memory-report` measures
// beside the planner's estimate (planner/program/program_memory.h). Allocations are charged
// to the part of the innermost MemPartScope on the allocating thread (buffers when none):
// weights, their gradients, optimizer state, activations kept for backward, and buffers
// (activation gradients, transfers, kernel temporaries).
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <mutex>
#include <vector>

namespace spindle::engine {

enum class MemPart { kWeights, kGrads, kOptimizer, kActivations, kBuffers };
inline constexpr int kMemParts = 5;
const char* mem_part_name(MemPart p);

// Bytes in use per part, each part's own peak, and the parts at the moment the total peaked.
struct MemoryUse {
  std::array<std::size_t, kMemParts> in_use{}, peak{}, at_peak{};
  std::size_t peak_total = 0;
  std::size_t total_in_use() const;
};

// What an allocator counts: bytes in use by part, their peaks and the parts at the total's
// peak. Not locked: the allocator that owns it locks around it.
class MemoryAccount {
 public:
  void add(std::size_t bytes, MemPart part);
  void remove(std::size_t bytes, MemPart part);
  void reset_peak();  // peaks from now on: what is in use now
  const MemoryUse& use() const { return use_; }

 private:
  MemoryUse use_;
};

// The bookkeeping of a caching allocator, host or device: blocks in use counted by part, freed
// blocks kept by byte size for the next allocation of that size. Thread-safe; the memory calls
// (calloc, cudaMalloc, zeroing) stay with the allocator.
class BlockPool {
 public:
  // Counts `bytes` in use under `part` and returns a cached block of that size, or nullptr
  // (the caller allocates one; if that fails it calls cancel).
  void* take(std::size_t bytes, MemPart part);
  void cancel(std::size_t bytes, MemPart part);
  void give_back(void* p, std::size_t bytes, MemPart part);
  std::vector<void*> drain();  // every cached block, no longer cached (for the caller to free)
  MemoryUse use() const;
  void reset_peak();
  std::size_t cached() const;

 private:
  mutable std::mutex mu_;
  std::map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_ = 0;
  MemoryAccount account_;
};

// Charges this thread's allocations to `part` while it lives.
class MemPartScope {
 public:
  explicit MemPartScope(MemPart part);
  ~MemPartScope();
  MemPartScope(const MemPartScope&) = delete;
  MemPartScope& operator=(const MemPartScope&) = delete;
  static MemPart current();

 private:
  MemPart previous_;
};

}  // namespace spindle::engine
