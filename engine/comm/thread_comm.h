// Communicators for logical devices that are threads of one process, over host (CPU backend)
// memory: a shared mailbox for send/recv and a rendezvous per collective call. Each group keeps
// its own call count, so members must issue their collectives on a group in the same order
// (the lowering's global collective order guarantees it).
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "engine/comm/communicator.h"
#include "traces/errors.h"

namespace spindle::engine {

// What a communication call throws after ThreadWorld::abort().
class CommAborted : public Error {
 public:
  using Error::Error;
};

class ThreadWorld {
 public:
  explicit ThreadWorld(int devices) : devices_(devices) {}
  int devices() const { return devices_; }
  std::unique_ptr<Communicator> communicator(int device);
  // Makes every waiting and later call throw (a device that failed must not leave the others
  // waiting for it forever).
  void abort();

 private:
  friend class ThreadComm;
  struct Slot {  // one collective call on one group
    std::map<int, std::vector<float>> contributions;  // by device
    int readers_left = 0;
  };
  int devices_;
  bool aborted_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::tuple<int, int, int>, std::deque<std::vector<float>>> mail_;  // (from, to, tag)
  std::map<std::pair<std::vector<int>, long>, Slot> slots_;                   // (group, call number)
};

}  // namespace spindle::engine
