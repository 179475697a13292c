// What a device's memory holds, by part: the parts `spindle-run --memory-report` measures
// beside the planner's estimate (planner/program/program_memory.h). Allocations are charged
// to the part of the innermost MemPartScope on the allocating thread (buffers when none):
// weights, their gradients, optimizer state, activations kept for backward, and buffers
// (activation gradients, transfers, kernel temporaries).
#pragma once

#include <array>
#include <cstddef>

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
