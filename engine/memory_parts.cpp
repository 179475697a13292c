// Memory parts and the thread's current part (see memory_parts.h).
#include "engine/memory_parts.h"

namespace spindle::engine {
namespace {
thread_local MemPart current_part = MemPart::kBuffers;
}  // namespace

const char* mem_part_name(MemPart p) {
  switch (p) {
    case MemPart::kWeights: return "weights";
    case MemPart::kGrads: return "grads";
    case MemPart::kOptimizer: return "optimizer";
    case MemPart::kActivations: return "activations";
    case MemPart::kBuffers: return "buffers";
  }
  return "?";
}

std::size_t MemoryUse::total_in_use() const {
  std::size_t t = 0;
  for (std::size_t b : in_use) t += b;
  return t;
}

MemPartScope::MemPartScope(MemPart part) : previous_(current_part) { current_part = part; }
MemPartScope::~MemPartScope() { current_part = previous_; }
MemPart MemPartScope::current() { return current_part; }

}  // namespace spindle::engine
