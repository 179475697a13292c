// Memory parts and the thread's current part (see memory_parts.h).
#include "engine/memory_parts.h"

#include <algorithm>

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

void MemoryAccount::add(std::size_t bytes, MemPart part) {
  const auto k = static_cast<std::size_t>(part);
  use_.in_use[k] += bytes;
  use_.peak[k] = std::max(use_.peak[k], use_.in_use[k]);
  const std::size_t total = use_.total_in_use();
  if (total > use_.peak_total) {
    use_.peak_total = total;
    use_.at_peak = use_.in_use;
  }
}

void MemoryAccount::remove(std::size_t bytes, MemPart part) { use_.in_use[static_cast<std::size_t>(part)] -= bytes; }

void MemoryAccount::reset_peak() {
  use_.peak = use_.in_use;
  use_.at_peak = use_.in_use;
  use_.peak_total = use_.total_in_use();
}

void* BlockPool::take(std::size_t bytes, MemPart part) {
  std::lock_guard<std::mutex> lock(mu_);
  account_.add(bytes, part);
  auto it = free_.find(bytes);
  if (it == free_.end() || it->second.empty()) return nullptr;
  void* p = it->second.back();
  it->second.pop_back();
  cached_ -= bytes;
  return p;
}

void BlockPool::cancel(std::size_t bytes, MemPart part) {
  std::lock_guard<std::mutex> lock(mu_);
  account_.remove(bytes, part);
}

void BlockPool::give_back(void* p, std::size_t bytes, MemPart part) {
  std::lock_guard<std::mutex> lock(mu_);
  account_.remove(bytes, part);
  cached_ += bytes;
  free_[bytes].push_back(p);
}

std::vector<void*> BlockPool::drain() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<void*> all;
  for (auto& [bytes, blocks] : free_) all.insert(all.end(), blocks.begin(), blocks.end());
  free_.clear();
  cached_ = 0;
  return all;
}

MemoryUse BlockPool::use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return account_.use();
}

void BlockPool::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  account_.reset_peak();
}

std::size_t BlockPool::cached() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_;
}

MemPartScope::MemPartScope(MemPart part) : previous_(current_part) { current_part = part; }
MemPartScope::~MemPartScope() { current_part = previous_; }
MemPart MemPartScope::current() { return current_part; }

}  // namespace spindle::engine
