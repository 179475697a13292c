// Thread communicators (see thread_comm.h).
#include "engine/comm/thread_comm.h"

#include <algorithm>
#include <cstring>

#include "engine/cpu/bf16.h"
#include "traces/errors.h"

namespace spindle::engine {

class ThreadComm final : public Communicator {
 public:
  ThreadComm(ThreadWorld& w, int device) : w_(w), device_(device) {}
  int device() const override { return device_; }

  void send(int peer, int tag, int /*channel: matched by tag*/, const Tensor& t) override {
    std::vector<float> data = cpu::widen(t);  // bf16 widens exactly and narrows back to the same bits
    std::lock_guard<std::mutex> lock(w_.mu_);
    w_.mail_[{device_, peer, tag}].push_back(std::move(data));
    w_.cv_.notify_all();
  }

  void recv(int peer, int tag, int /*channel*/, Tensor& t) override {
    std::unique_lock<std::mutex> lock(w_.mu_);
    auto& box = w_.mail_[{peer, device_, tag}];
    w_.cv_.wait(lock, [&] { return !box.empty() || w_.aborted_; });
    if (box.empty()) throw CommAborted("device " + std::to_string(device_) + ": communication aborted");
    std::vector<float> data = std::move(box.front());
    box.pop_front();
    if (static_cast<std::int64_t>(data.size()) != t.numel())
      throw InternalError("recv from device " + std::to_string(peer) + " tag " + std::to_string(tag) + ": " +
                          std::to_string(data.size()) + " elements sent, " + std::to_string(t.numel()) + " expected");
    cpu::narrow_into(data.data(), t);
  }

  void all_reduce(const std::vector<int>& group, Tensor& t) override {
    exchange(group, t, [&](const std::vector<const std::vector<float>*>& in) {
      std::vector<float> sum(static_cast<size_t>(t.numel()));
      for (size_t i = 0; i < sum.size(); ++i) {
        float s = 0;
        for (const auto* v : in) s += (*v)[i];
        sum[i] = s;
      }
      cpu::narrow_into(sum.data(), t);
    });
  }

  void reduce_scatter(const std::vector<int>& group, const Tensor& in, Tensor& out) override {
    const std::int64_t k = out.numel();
    if (in.numel() != k * static_cast<std::int64_t>(group.size()))
      throw InternalError("reduce_scatter: input of " + std::to_string(in.numel()) + " for " +
                          std::to_string(group.size()) + " chunks of " + std::to_string(k));
    const std::int64_t r = rank(group);
    exchange(group, in, [&](const std::vector<const std::vector<float>*>& all) {
      std::vector<float> sum(static_cast<size_t>(k));
      for (std::int64_t i = 0; i < k; ++i) {
        float s = 0;
        for (const auto* v : all) s += (*v)[static_cast<size_t>(r * k + i)];
        sum[static_cast<size_t>(i)] = s;
      }
      cpu::narrow_into(sum.data(), out);
    });
  }

  void all_gather(const std::vector<int>& group, const Tensor& in, Tensor& out) override {
    const std::int64_t k = in.numel();
    if (out.numel() != k * static_cast<std::int64_t>(group.size()))
      throw InternalError("all_gather: output of " + std::to_string(out.numel()) + " for " +
                          std::to_string(group.size()) + " inputs of " + std::to_string(k));
    exchange(group, in, [&](const std::vector<const std::vector<float>*>& all) {
      std::vector<float> joined;
      for (const auto* v : all) joined.insert(joined.end(), v->begin(), v->end());
      cpu::narrow_into(joined.data(), out);
    });
  }

  void broadcast(const std::vector<int>& group, int root, Tensor& t) override {
    const auto at = std::find(group.begin(), group.end(), root);
    if (at == group.end()) throw InternalError("broadcast from device " + std::to_string(root) + ", not in its group");
    const auto r = static_cast<size_t>(at - group.begin());
    exchange(group, t, [&](const std::vector<const std::vector<float>*>& all) {
      if (static_cast<std::int64_t>(all[r]->size()) != t.numel())
        throw InternalError("broadcast: " + std::to_string(all[r]->size()) + " elements from the root, " +
                            std::to_string(t.numel()) + " here");
      cpu::narrow_into(all[r]->data(), t);
    });
  }

 private:
  std::int64_t rank(const std::vector<int>& group) const {
    auto it = std::find(group.begin(), group.end(), device_);
    if (it == group.end()) throw InternalError("device " + std::to_string(device_) + " is not in the collective's group");
    return it - group.begin();
  }

  // Deposits this device's contribution, waits for every member's, and hands them, in group
  // order, to `combine`; the last member to read frees the slot.
  template <class Combine>
  void exchange(const std::vector<int>& group, const Tensor& mine, Combine combine) {
    rank(group);
    const long call = calls_[group]++;
    std::unique_lock<std::mutex> lock(w_.mu_);
    ThreadWorld::Slot& slot = w_.slots_[{group, call}];
    slot.contributions[device_] = cpu::widen(mine);
    if (slot.contributions.size() == group.size()) {
      slot.readers_left = static_cast<int>(group.size());
      w_.cv_.notify_all();
    }
    w_.cv_.wait(lock, [&] { return slot.contributions.size() == group.size() || w_.aborted_; });
    if (slot.contributions.size() != group.size())
      throw CommAborted("device " + std::to_string(device_) + ": communication aborted");
    std::vector<const std::vector<float>*> in;
    for (int d : group) in.push_back(&slot.contributions.at(d));
    combine(in);
    if (--slot.readers_left == 0) w_.slots_.erase({group, call});
  }

  ThreadWorld& w_;
  int device_;
  std::map<std::vector<int>, long> calls_;
};

void ThreadWorld::abort() {
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = true;
  cv_.notify_all();
}

std::unique_ptr<Communicator> ThreadWorld::communicator(int device) {
  if (device < 0 || device >= devices_) throw InternalError("no device " + std::to_string(device));
  return std::make_unique<ThreadComm>(*this, device);
}

}  // namespace spindle::engine
