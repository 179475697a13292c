// The NCCL communicator (see nccl_comm.h) and SPINDLE_NCCL's check (engine/cuda/nccl_check.h).
#include "engine/comm/nccl_comm.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "engine/cuda/cuda_streams.h"
#include "engine/cuda/nccl_check.h"
#include "engine/memory_parts.h"

namespace spindle::engine {
namespace cuda {

void check_nccl(ncclResult_t status, const char* expr, const char* file, int line) {
  if (status == ncclSuccess) return;
  const char* last = ncclGetLastError(nullptr);
  throw NcclError(std::string(expr) + " failed at " + file + ":" + std::to_string(line) + ": " +
                  ncclGetErrorString(status) + (last && *last ? std::string(" (") + last + ")" : std::string()));
}

}  // namespace cuda

namespace {

using cuda::NcclError;

ncclDataType_t nccl_type(const Tensor& t) {
  switch (t.dtype()) {
    case DType::kF32: return ncclFloat32;
    case DType::kBF16: return ncclBfloat16;
    case DType::kI32: return ncclInt32;
  }
  throw InternalError("nccl: a tensor of an unknown dtype");
}

std::string group_str(const std::vector<int>& g) {
  std::string s;
  for (int d : g) s += (s.empty() ? "" : ",") + std::to_string(d);
  return "{" + s + "}";
}

// One member set's communicator: its members in NCCL rank order and this rank's place.
struct SetComm {
  std::vector<int> members;
  int my_rank = 0;
  ncclComm_t comm = nullptr;
};

// An operation queued on a stream: done once `event` has completed; `hold` keeps the memory
// it reads (a send's copy) until then.
struct InFlight {
  cudaEvent_t event = nullptr;
  std::chrono::steady_clock::time_point since;
  std::string what;
  Tensor hold;
};

class NcclComm final : public Communicator {
 public:
  NcclComm(Backend& be, int rank, int world, const std::vector<std::vector<int>>& groups,
           const std::vector<P2pLink>& links, const IdExchange& exchange, double timeout_s)
      : be_(be), rank_(rank), device_(cuda::device_of(be)), timeout_s_(timeout_s) {
    if (rank < 0 || rank >= world) throw InternalError("nccl: rank " + std::to_string(rank) + " of " + std::to_string(world));
    SPINDLE_CUDA(cudaSetDevice(device_));
    // Every set, in one global order: groups, then links (a self-link is a set of one).
    std::vector<std::vector<int>> sets = groups;
    for (const P2pLink& l : links)
      sets.push_back(l.from == l.to ? std::vector<int>{l.from} : std::vector<int>{l.from, l.to});
    for (const std::vector<int>& s : sets)
      for (int d : s)
        if (d < 0 || d >= world) throw InternalError("nccl: member " + std::to_string(d) + " of " + group_str(s));
    // The ids this rank makes (it is the set's first member), tagged with the set's index.
    std::string mine;
    for (size_t i = 0; i < sets.size(); ++i) {
      if (sets[i].front() != rank) continue;
      ncclUniqueId id;
      SPINDLE_NCCL(ncclGetUniqueId(&id));
      const auto index = static_cast<std::uint32_t>(i);
      mine.append(reinterpret_cast<const char*>(&index), sizeof index);
      mine.append(reinterpret_cast<const char*>(&id), sizeof id);
    }
    std::vector<ncclUniqueId> ids(sets.size());
    std::vector<bool> have(sets.size(), false);
    constexpr size_t kRecord = sizeof(std::uint32_t) + sizeof(ncclUniqueId);
    for (const std::string& part : exchange(mine)) {
      if (part.size() % kRecord != 0) throw InternalError("nccl: a malformed unique-id exchange");
      for (size_t at = 0; at < part.size(); at += kRecord) {
        std::uint32_t index = 0;
        std::memcpy(&index, part.data() + at, sizeof index);
        if (index >= sets.size()) throw InternalError("nccl: a unique id for an unknown set");
        std::memcpy(&ids[index], part.data() + at + sizeof index, sizeof(ncclUniqueId));
        have[index] = true;
      }
    }
    size_t free_before = 0, total = 0;
    SPINDLE_CUDA(cudaMemGetInfo(&free_before, &total));
    // Every communicator this rank is in, initialised together (one thread, many communicators).
    std::vector<SetComm*> created;
    SPINDLE_NCCL(ncclGroupStart());
    try {
      for (size_t i = 0; i < sets.size(); ++i) {
        const std::vector<int>& s = sets[i];
        const auto at = std::find(s.begin(), s.end(), rank);
        if (at == s.end()) continue;
        if (!have[i]) throw InternalError("nccl: no unique id arrived for set " + group_str(s));
        SetComm* c = nullptr;
        if (i < groups.size()) {
          c = &groups_[s];
        } else {
          const P2pLink& l = links[i - groups.size()];
          c = &links_[{l.from, l.to, l.channel}].set;
        }
        c->members = s;
        c->my_rank = static_cast<int>(at - s.begin());
        SPINDLE_NCCL(ncclCommInitRank(&c->comm, static_cast<int>(s.size()), ids[i], c->my_rank));
        created.push_back(c);
      }
    } catch (...) {
      (void)ncclGroupEnd();
      throw;
    }
    SPINDLE_NCCL(ncclGroupEnd());
    for (auto& [key, link] : links_)
      if (std::get<0>(key) == rank_) SPINDLE_CUDA(cudaStreamCreateWithFlags(&link.stream, cudaStreamNonBlocking));
    size_t free_after = 0;
    SPINDLE_CUDA(cudaMemGetInfo(&free_after, &total));
    resident_bytes_ = free_before > free_after ? free_before - free_after : 0;
    watchdog_ = std::thread([this] { watch(); });
  }

  ~NcclComm() override {
    {  // let queued sends finish (the watchdog aborts them on a timeout or an error)
      std::unique_lock<std::mutex> lock(mu_);
      done_cv_.wait(lock, [this] { return in_flight_.empty() || !error_.empty(); });
      stop_ = true;
    }
    cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
    cudaSetDevice(device_);
    for (InFlight& f : in_flight_) cudaEventDestroy(f.event);
    in_flight_.clear();
    for_each_comm([this](ncclComm_t c) {
      if (aborted_) return;
      if (ncclCommFinalize(c) != ncclSuccess) (void)ncclCommAbort(c);
    });
    for_each_comm([this](ncclComm_t c) {
      if (!aborted_) (void)ncclCommDestroy(c);
    });
    for (auto& [key, link] : links_)
      if (link.stream) cudaStreamDestroy(link.stream);
  }

  int device() const override { return rank_; }

  void send(int peer, int tag, int channel, const Tensor& t) override {
    (void)tag;  // NCCL matches a link's sends and receives by order (the channel's guarantee)
    Link& l = link(rank_, peer, channel);
    Tensor copy;
    {
      MemPartScope part(MemPart::kBuffers);
      copy = be_.alloc(t.shape(), t.dtype());
    }
    copy_flat(be_, t, copy, false);
    if (peer == rank_) {  // sent to itself: the matching receive runs both halves as one group
      l.self_queue.push_back(copy);
      return;
    }
    const cudaStream_t caller = cuda::calling_stream(be_);
    cudaEvent_t copied = nullptr;
    SPINDLE_CUDA(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming));
    SPINDLE_CUDA(cudaEventRecord(copied, caller));
    SPINDLE_CUDA(cudaStreamWaitEvent(l.stream, copied, 0));
    SPINDLE_CUDA(cudaEventDestroy(copied));  // destroyed once the wait is queued: allowed
    SPINDLE_NCCL(ncclSend(copy.data(), static_cast<size_t>(copy.numel()), nccl_type(copy), /*peer=*/1, l.set.comm,
                          l.stream));
    track(l.stream, "send to " + std::to_string(peer) + " on channel " + std::to_string(channel), copy);
  }

  void recv(int peer, int tag, int channel, Tensor& t) override {
    (void)tag;
    Link& l = link(peer, rank_, channel);
    const cudaStream_t s = cuda::calling_stream(be_);
    if (peer == rank_) {
      if (l.self_queue.empty()) throw InternalError("nccl: a receive from itself on channel " + std::to_string(channel) + " before its send");
      const Tensor src = l.self_queue.front();
      l.self_queue.pop_front();
      same_size("recv", src, t);
      SPINDLE_NCCL(ncclGroupStart());
      SPINDLE_NCCL(ncclSend(src.data(), static_cast<size_t>(src.numel()), nccl_type(src), 0, l.set.comm, s));
      SPINDLE_NCCL(ncclRecv(t.data(), static_cast<size_t>(t.numel()), nccl_type(t), 0, l.set.comm, s));
      SPINDLE_NCCL(ncclGroupEnd());
      track(s, "receive from itself", src);
      return;
    }
    SPINDLE_NCCL(ncclRecv(t.data(), static_cast<size_t>(t.numel()), nccl_type(t), /*peer=*/0, l.set.comm, s));
    track(s, "receive from " + std::to_string(peer) + " on channel " + std::to_string(channel), {});
  }

  void all_reduce(const std::vector<int>& group, Tensor& t) override {
    SetComm& c = set(group);
    const cudaStream_t s = cuda::calling_stream(be_);
    SPINDLE_NCCL(ncclAllReduce(t.data(), t.data(), static_cast<size_t>(t.numel()), nccl_type(t), ncclSum, c.comm, s));
    track(s, "all-reduce on " + group_str(group), {});
  }

  void reduce_scatter(const std::vector<int>& group, const Tensor& in, Tensor& out) override {
    SetComm& c = set(group);
    if (in.numel() != out.numel() * static_cast<std::int64_t>(group.size()) || in.dtype() != out.dtype())
      throw InternalError("nccl reduce-scatter of " + dims_str(in.shape()) + " into " + dims_str(out.shape()) +
                          " over " + group_str(group));
    const cudaStream_t s = cuda::calling_stream(be_);
    SPINDLE_NCCL(ncclReduceScatter(in.data(), out.data(), static_cast<size_t>(out.numel()), nccl_type(out), ncclSum,
                                   c.comm, s));
    track(s, "reduce-scatter on " + group_str(group), {});
  }

  void all_gather(const std::vector<int>& group, const Tensor& in, Tensor& out) override {
    SetComm& c = set(group);
    if (out.numel() != in.numel() * static_cast<std::int64_t>(group.size()) || in.dtype() != out.dtype())
      throw InternalError("nccl all-gather of " + dims_str(in.shape()) + " into " + dims_str(out.shape()) + " over " +
                          group_str(group));
    const cudaStream_t s = cuda::calling_stream(be_);
    SPINDLE_NCCL(ncclAllGather(in.data(), out.data(), static_cast<size_t>(in.numel()), nccl_type(in), c.comm, s));
    track(s, "all-gather on " + group_str(group), {});
  }

 private:
  struct Link {
    SetComm set;
    cudaStream_t stream = nullptr;  // the sender's: its sends queue here
    std::deque<Tensor> self_queue;  // a self-link's sends waiting for their receive
  };

  static void same_size(const char* what, const Tensor& a, const Tensor& b) {
    if (a.numel() != b.numel() || a.dtype() != b.dtype())
      throw InternalError(std::string("nccl ") + what + ": " + dims_str(a.shape()) + " arrived for " + dims_str(b.shape()));
  }

  void throw_if_failed() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_.empty()) throw NcclError(error_);
  }

  SetComm& set(const std::vector<int>& group) {
    throw_if_failed();
    const auto it = groups_.find(group);
    if (it == groups_.end()) throw InternalError("nccl: no communicator for group " + group_str(group));
    return it->second;
  }

  Link& link(int from, int to, int channel) {
    throw_if_failed();
    const auto it = links_.find({from, to, channel});
    if (it == links_.end())
      throw InternalError("nccl: no communicator for transfers " + std::to_string(from) + " -> " + std::to_string(to) +
                          " on channel " + std::to_string(channel));
    return it->second;
  }

  // Marks the end of an operation just queued on `s`, for the watchdog.
  void track(cudaStream_t s, std::string what, Tensor hold) {
    InFlight f{nullptr, std::chrono::steady_clock::now(), std::move(what), std::move(hold)};
    SPINDLE_CUDA(cudaEventCreateWithFlags(&f.event, cudaEventDisableTiming));
    SPINDLE_CUDA(cudaEventRecord(f.event, s));
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.push_back(std::move(f));
  }

  template <class Fn>
  void for_each_comm(Fn fn) {
    for (auto& [g, c] : groups_)
      if (c.comm) fn(c.comm);
    for (auto& [k, l] : links_)
      if (l.set.comm) fn(l.set.comm);
  }

  // The watchdog: drops finished operations (releasing what they held), and aborts every
  // communicator on an asynchronous error or when the oldest operation is older than the limit.
  void watch() {
    cudaSetDevice(device_);
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::milliseconds(20));
      if (!error_.empty()) continue;
      std::vector<InFlight> finished;
      for (auto it = in_flight_.begin(); it != in_flight_.end();) {
        const cudaError_t q = cudaEventQuery(it->event);
        if (q == cudaErrorNotReady) {
          ++it;
          continue;
        }
        if (q != cudaSuccess) error_ = it->what + ": " + cudaGetErrorString(q);
        finished.push_back(std::move(*it));
        it = in_flight_.erase(it);
      }
      const auto now = std::chrono::steady_clock::now();
      for (const InFlight& f : in_flight_)
        if (error_.empty() && std::chrono::duration<double>(now - f.since).count() > timeout_s_)
          error_ = f.what + " did not finish in " + std::to_string(static_cast<long>(timeout_s_)) +
                   " s (a peer failed or the programs disagree); every NCCL communicator aborted";
      for_each_comm([this](ncclComm_t c) {
        ncclResult_t async = ncclSuccess;
        if (error_.empty() && ncclCommGetAsyncError(c, &async) == ncclSuccess && async != ncclSuccess &&
            async != ncclInProgress)
          error_ = std::string("NCCL reported ") + ncclGetErrorString(async) + " (" + ncclGetLastError(c) +
                   "); every NCCL communicator aborted";
      });
      if (!error_.empty() && !aborted_) {
        aborted_ = true;
        for_each_comm([](ncclComm_t c) { (void)ncclCommAbort(c); });
      }
      lock.unlock();
      for (InFlight& f : finished) cudaEventDestroy(f.event);
      finished.clear();  // a send's copy goes back to its pool here, its send done
      lock.lock();
      if (in_flight_.empty() || !error_.empty()) done_cv_.notify_all();
    }
  }

  Backend& be_;
  int rank_, device_;
  double timeout_s_;
  std::size_t resident_bytes_ = 0;  // device memory the communicators took at creation
  std::map<std::vector<int>, SetComm> groups_;
  std::map<std::tuple<int, int, int>, Link> links_;  // (from, to, channel)
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<InFlight> in_flight_;
  std::string error_;
  bool stop_ = false, aborted_ = false;
  std::thread watchdog_;
};

}  // namespace

std::unique_ptr<Communicator> nccl_communicator(Backend& be, int rank, int world,
                                                const std::vector<std::vector<int>>& groups,
                                                const std::vector<P2pLink>& links, const IdExchange& exchange,
                                                double timeout_s) {
  return std::make_unique<NcclComm>(be, rank, world, groups, links, exchange, timeout_s);
}

}  // namespace spindle::engine
