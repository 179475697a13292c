// The NCCL communicators of a rank (see nccl_comm.h) and SPINDLE_NCCL's check
// (engine/cuda/nccl_check.h).
#include "engine/comm/nccl_comm.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
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
using Clock = std::chrono::steady_clock;

// Point-to-point links run on at most this many CTAs, so that the kernels of the many link
// communicators, the program's and the sync thread's collectives, all waiting on peers at
// once, fit on the GPU together (NCCL asks that concurrently running communicators' kernels be
// co-resident). A guess to measure on GPUs (unverified).
constexpr int kLinkMaxCtas = 4;

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

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// One member set's communicator: its members in NCCL rank order and this rank's place.
struct SetComm {
  std::vector<int> members;
  int my_rank = 0;
  bool link = false;
  ncclComm_t comm = nullptr;
};

// A link this rank is on: its set, and (the sender's) the stream its sends queue on.
struct Link {
  int set = -1;
  cudaStream_t stream = nullptr;
  std::deque<Tensor> self_queue;  // a self-link's sends waiting for their receive
};

// An operation queued on a stream: done once `event` has completed; `hold` keeps the memory
// it reads (a send's copy) until then.
struct InFlight {
  cudaEvent_t event = nullptr;
  Clock::time_point since;
  std::string what;
  Tensor hold;
};

// A rank's NCCL state, shared by its program and sync communicators.
class NcclRank {
 public:
  NcclRank(Backend& be, int rank, int world, const std::vector<std::vector<int>>& groups,
           const std::vector<std::vector<int>>& sync_groups, const std::vector<P2pLink>& links,
           const IdExchange& exchange, double timeout_s)
      : be_(be), rank_(rank), device_(cuda::device_of(be)), timeout_s_(timeout_s) {
    if (rank < 0 || rank >= world) throw InternalError("nccl: rank " + std::to_string(rank) + " of " + std::to_string(world));
    int devices = 0;
    SPINDLE_CUDA(cudaGetDeviceCount(&devices));
    const int local = cuda::local_rank();
    if (local >= devices)
      throw InputError("--backend cuda under MPI: local rank " + std::to_string(local) + " but " +
                       std::to_string(devices) + " GPU(s) on this node; allowed: one process per GPU (NCCL refuses "
                       "two ranks of a communicator on one GPU)");
    SPINDLE_CUDA(cudaSetDevice(device_));
    // Every set in one global order: the program's groups, the buckets' groups, the links (a
    // self-link is a set of one).
    std::vector<SetComm> sets;
    for (const auto* list : {&groups, &sync_groups})
      for (const std::vector<int>& g : *list) sets.push_back({g, 0, false, nullptr});
    for (const P2pLink& l : links)
      sets.push_back({l.from == l.to ? std::vector<int>{l.from} : std::vector<int>{l.from, l.to}, 0, true, nullptr});
    for (const SetComm& s : sets)
      for (int d : s.members)
        if (d < 0 || d >= world) throw InternalError("nccl: member " + std::to_string(d) + " of " + group_str(s.members));
    const std::vector<ncclUniqueId> ids = unique_ids(sets, exchange);
    try {
      size_t free_before = 0, total = 0;
      SPINDLE_CUDA(cudaMemGetInfo(&free_before, &total));
      create(sets, ids);
      for (size_t i = 0; i < sets.size(); ++i) {
        if (sets[i].comm == nullptr) continue;  // not a member
        if (i < groups.size()) program_[sets[i].members] = static_cast<int>(sets_.size());
        else if (i < groups.size() + sync_groups.size()) sync_[sets[i].members] = static_cast<int>(sets_.size());
        else {
          const P2pLink& l = links[i - groups.size() - sync_groups.size()];
          Link& k = links_[{l.from, l.to, l.channel}];
          k.set = static_cast<int>(sets_.size());
          if (l.from == rank_ && l.to != rank_) SPINDLE_CUDA(cudaStreamCreateWithFlags(&k.stream, cudaStreamNonBlocking));
        }
        sets_.push_back(sets[i]);
        sets[i].comm = nullptr;  // owned by sets_ now
      }
      connect();
      size_t free_after = 0;
      SPINDLE_CUDA(cudaMemGetInfo(&free_after, &total));
      resident_bytes_ = free_before > free_after ? free_before - free_after : 0;
    } catch (...) {
      for (SetComm& s : sets)
        if (s.comm) (void)ncclCommAbort(s.comm);
      release(/*abort=*/true);
      throw;
    }
    watchdog_ = std::thread([this] { watch(); });
  }

  ~NcclRank() {
    {  // let queued operations finish (the watchdog aborts them on a timeout or an error)
      std::unique_lock<std::mutex> lock(mu_);
      done_cv_.wait(lock, [this] { return in_flight_.empty() || !error_.empty(); });
      stop_ = true;
    }
    cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
    cudaSetDevice(device_);
    for (InFlight& f : in_flight_) cudaEventDestroy(f.event);
    in_flight_.clear();
    release(/*abort=*/!error_.empty());
  }

  NcclRank(const NcclRank&) = delete;
  NcclRank& operator=(const NcclRank&) = delete;

  Backend& backend() { return be_; }
  int rank() const { return rank_; }
  std::size_t resident_bytes() const { return resident_bytes_; }

  // Throws NcclError once the watchdog found a failure.
  void check() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_.empty()) throw NcclError(error_);
  }

  SetComm& group(bool sync, const std::vector<int>& g) {
    const std::map<std::vector<int>, int>& sets = sync ? sync_ : program_;
    const auto it = sets.find(g);
    if (it == sets.end())
      throw InternalError(std::string("nccl: no ") + (sync ? "weight-sync " : "") + "communicator for group " +
                          group_str(g));
    return sets_[static_cast<size_t>(it->second)];
  }
  Link& link(int from, int to, int channel) {
    const auto it = links_.find({from, to, channel});
    if (it == links_.end())
      throw InternalError("nccl: no communicator for transfers " + std::to_string(from) + " -> " + std::to_string(to) +
                          " on channel " + std::to_string(channel));
    return it->second;
  }
  SetComm& set_of(const Link& l) { return sets_[static_cast<size_t>(l.set)]; }

  // Queues NCCL work through `enqueue` (onto `stream`) under the rank's call lock, so that the
  // program's and the sync thread's calls never interleave and the watchdog's abort never
  // frees a communicator in use; then tracks it until done, keeping `hold` alive.
  template <class Fn>
  void call(std::string what, cudaStream_t stream, Tensor hold, Fn enqueue) {
    std::unique_lock<std::timed_mutex> calls(call_mu_);
    check();
    call_since_.store(Clock::now().time_since_epoch().count());
    try {
      enqueue();
    } catch (...) {
      call_since_.store(0);
      throw;
    }
    call_since_.store(0);
    InFlight f{nullptr, Clock::now(), std::move(what), std::move(hold)};
    SPINDLE_CUDA(cudaEventCreateWithFlags(&f.event, cudaEventDisableTiming));
    SPINDLE_CUDA(cudaEventRecord(f.event, stream));
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.push_back(std::move(f));
  }

 private:
  // Each set's id: made by its first member, tagged with the set's index, all-gathered.
  std::vector<ncclUniqueId> unique_ids(const std::vector<SetComm>& sets, const IdExchange& exchange) {
    std::string mine;
    for (size_t i = 0; i < sets.size(); ++i) {
      if (sets[i].members.front() != rank_) continue;
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
    for (size_t i = 0; i < sets.size(); ++i)
      if (!have[i]) throw InternalError("nccl: no unique id arrived for set " + group_str(sets[i].members));
    return ids;
  }

  // Every communicator this rank is in, initialised together (one thread, many communicators).
  void create(std::vector<SetComm>& sets, const std::vector<ncclUniqueId>& ids) {
    SPINDLE_NCCL(ncclGroupStart());
    ncclResult_t status = ncclSuccess;
    for (size_t i = 0; i < sets.size() && status == ncclSuccess; ++i) {
      SetComm& s = sets[i];
      const auto at = std::find(s.members.begin(), s.members.end(), rank_);
      if (at == s.members.end()) continue;
      s.my_rank = static_cast<int>(at - s.members.begin());
      ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
      if (s.link) config.maxCTAs = kLinkMaxCtas;
      status = ncclCommInitRankConfig(&s.comm, static_cast<int>(s.members.size()), ids[i], s.my_rank, &config);
    }
    const ncclResult_t end = ncclGroupEnd();
    SPINDLE_NCCL(status);
    SPINDLE_NCCL(end);
  }

  // One grouped warm-up: a word over every link this rank is on (NCCL connects point-to-point
  // peers on first use, where a sender waits for its receiver) and a one-word all-reduce on
  // every set, waited for (up to the timeout) before anything else runs.
  void connect() {
    cudaStream_t s = nullptr;
    float* words = nullptr;
    SPINDLE_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    try {
      SPINDLE_CUDA(cudaMalloc(&words, 4 * sizeof(float)));
      SPINDLE_CUDA(cudaMemsetAsync(words, 0, 4 * sizeof(float), s));
      SPINDLE_NCCL(ncclGroupStart());
      ncclResult_t status = ncclSuccess;
      auto ok = [&status](ncclResult_t r) {
        if (status == ncclSuccess) status = r;
      };
      for (const auto& [key, l] : links_) {
        const SetComm& c = sets_[static_cast<size_t>(l.set)];
        const int from = std::get<0>(key), to = std::get<1>(key);
        if (from == rank_) ok(ncclSend(words, 1, ncclFloat32, to == rank_ ? 0 : 1, c.comm, s));
        if (to == rank_) ok(ncclRecv(words + 1, 1, ncclFloat32, 0, c.comm, s));
      }
      for (const SetComm& c : sets_)
        if (!c.link) ok(ncclAllReduce(words + 2, words + 3, 1, ncclFloat32, ncclSum, c.comm, s));
      const ncclResult_t end = ncclGroupEnd();
      SPINDLE_NCCL(status);
      SPINDLE_NCCL(end);
      const auto start = Clock::now();
      for (;;) {
        const cudaError_t q = cudaStreamQuery(s);
        if (q == cudaSuccess) break;
        if (q != cudaErrorNotReady) SPINDLE_CUDA(q);
        for (const SetComm& c : sets_) {
          ncclResult_t async = ncclSuccess;
          SPINDLE_NCCL(ncclCommGetAsyncError(c.comm, &async));
          if (async != ncclSuccess && async != ncclInProgress) SPINDLE_NCCL(async);
        }
        if (seconds_since(start) > timeout_s_)
          throw NcclError("nccl: connecting the communicators did not finish in " +
                          std::to_string(static_cast<long>(timeout_s_)) + " s (a peer did not start or failed)");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    } catch (...) {
      cudaFree(words);
      cudaStreamDestroy(s);
      throw;
    }
    SPINDLE_CUDA(cudaFree(words));
    SPINDLE_CUDA(cudaStreamDestroy(s));
  }

  // Ends every communicator (aborted, or finalised and destroyed) and the links' streams.
  void release(bool abort) {
    for (SetComm& c : sets_) {
      if (c.comm == nullptr) continue;
      if (abort || ncclCommFinalize(c.comm) != ncclSuccess) (void)ncclCommAbort(c.comm);
      else (void)ncclCommDestroy(c.comm);
      c.comm = nullptr;
    }
    for (auto& [key, l] : links_)
      if (l.stream) {
        cudaStreamDestroy(l.stream);
        l.stream = nullptr;
      }
  }

  // The watchdog: drops finished operations (releasing what they held), and on an asynchronous
  // error, an operation older than the limit or a call stuck that long, aborts every
  // communicator.
  void watch() {
    cudaSetDevice(device_);
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::milliseconds(20));
      if (aborted_) continue;
      std::vector<InFlight> finished;
      try {
        for (auto it = in_flight_.begin(); it != in_flight_.end();) {
          const cudaError_t q = cudaEventQuery(it->event);
          if (q == cudaErrorNotReady) {
            ++it;
            continue;
          }
          if (q != cudaSuccess && error_.empty()) error_ = it->what + ": " + cudaGetErrorString(q);
          finished.push_back(std::move(*it));
          it = in_flight_.erase(it);
        }
        const std::string limit = std::to_string(static_cast<long>(timeout_s_)) + " s";
        if (error_.empty() && !in_flight_.empty() && seconds_since(in_flight_.front().since) > timeout_s_)
          error_ = in_flight_.front().what + " did not finish in " + limit + " (a peer failed, or the programs disagree)";
        const auto since = call_since_.load();
        if (error_.empty() && since != 0 &&
            seconds_since(Clock::time_point(Clock::duration(since))) > timeout_s_)
          error_ = "a call into NCCL did not return in " + limit;
        for (const SetComm& c : sets_) {
          ncclResult_t async = ncclSuccess;
          if (error_.empty() && c.comm && ncclCommGetAsyncError(c.comm, &async) == ncclSuccess &&
              async != ncclSuccess && async != ncclInProgress)
            error_ = std::string("NCCL reported ") + ncclGetErrorString(async) + " on the communicator of " +
                     group_str(c.members) + " (" + ncclGetLastError(c.comm) + ")";
        }
      } catch (const std::exception& e) {
        if (error_.empty()) error_ = std::string("the NCCL watchdog failed: ") + e.what();
      }
      const bool abort = !error_.empty();
      lock.unlock();
      for (InFlight& f : finished) cudaEventDestroy(f.event);
      finished.clear();  // a send's copy goes back to its pool here, its send done
      if (abort) abort_all();
      lock.lock();
      if (abort) aborted_ = true;
      if (in_flight_.empty() || !error_.empty()) done_cv_.notify_all();
    }
  }

  // Aborts every communicator once no call is inside NCCL. A call stuck there past 10 s keeps
  // the abort out for good: the process ends (as PyTorch's NCCL watchdog does), and under MPI
  // mpirun ends the other ranks.
  void abort_all() {
    std::unique_lock<std::timed_mutex> calls(call_mu_, std::defer_lock);
    if (!calls.try_lock_for(std::chrono::seconds(10))) {
      std::string what;
      {
        std::lock_guard<std::mutex> lock(mu_);
        what = error_;
      }
      std::fprintf(stderr, "spindle-run: rank %d: %s; every NCCL communicator must be aborted but a call into NCCL "
                   "is stuck: ending this process\n", rank_, what.c_str());
      std::fflush(stderr);
      std::_Exit(1);
    }
    for (SetComm& c : sets_)
      if (c.comm) {
        (void)ncclCommAbort(c.comm);
        c.comm = nullptr;
      }
    std::lock_guard<std::mutex> lock(mu_);
    error_ += "; every NCCL communicator of rank " + std::to_string(rank_) + " aborted";
  }

  Backend& be_;
  int rank_, device_;
  double timeout_s_;
  std::size_t resident_bytes_ = 0;  // device memory the communicators took, connected
  std::vector<SetComm> sets_;       // this rank's, in the global order
  std::map<std::vector<int>, int> program_, sync_;   // group -> its set
  std::map<std::tuple<int, int, int>, Link> links_;  // (from, to, channel) -> its link
  std::timed_mutex call_mu_;                         // held across every enqueue and the abort
  std::atomic<Clock::rep> call_since_{0};         // when the call in progress began (0: none)
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<InFlight> in_flight_;
  std::string error_;
  bool stop_ = false, aborted_ = false;
  std::thread watchdog_;
};

// One of a rank's two communicators (the program's, or the sync thread's) over its NcclRank.
class NcclComm final : public Communicator {
 public:
  NcclComm(std::shared_ptr<NcclRank> r, bool sync) : r_(std::move(r)), sync_(sync) {}

  int device() const override { return r_->rank(); }
  std::size_t resident_bytes() const override { return sync_ ? 0 : r_->resident_bytes(); }
  void check() override { r_->check(); }

  void send(int peer, int tag, int channel, const Tensor& t) override {
    (void)tag;  // NCCL matches a link's sends and receives by order (the channel's guarantee)
    r_->check();
    Link& l = r_->link(r_->rank(), peer, channel);
    Backend& be = r_->backend();
    Tensor copy;
    {
      MemPartScope part(MemPart::kBuffers);
      copy = be.alloc(t.shape(), t.dtype());
    }
    copy_flat(be, t, copy, false);
    if (peer == r_->rank()) {  // sent to itself: the matching receive runs both halves as one group
      l.self_queue.push_back(copy);
      return;
    }
    const cudaStream_t caller = cuda::calling_stream(be);
    const SetComm& c = r_->set_of(l);
    r_->call("send to " + std::to_string(peer) + " on channel " + std::to_string(channel), l.stream, copy, [&] {
      cudaEvent_t copied = nullptr;
      SPINDLE_CUDA(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming));
      SPINDLE_CUDA(cudaEventRecord(copied, caller));
      SPINDLE_CUDA(cudaStreamWaitEvent(l.stream, copied, 0));
      SPINDLE_CUDA(cudaEventDestroy(copied));  // destroyed once the wait is queued: allowed
      SPINDLE_NCCL(ncclSend(copy.data(), static_cast<size_t>(copy.numel()), nccl_type(copy), /*peer=*/1, c.comm,
                            l.stream));
    });
  }

  // NCCL cannot check that the sizes agree (the programs guarantee it; replay checks them).
  void recv(int peer, int tag, int channel, Tensor& t) override {
    (void)tag;
    Link& l = r_->link(peer, r_->rank(), channel);
    const SetComm& c = r_->set_of(l);
    const cudaStream_t s = cuda::calling_stream(r_->backend());
    if (peer == r_->rank()) {
      if (l.self_queue.empty())
        throw InternalError("nccl: a receive from itself on channel " + std::to_string(channel) + " before its send");
      const Tensor src = l.self_queue.front();
      l.self_queue.pop_front();
      if (src.numel() != t.numel() || src.dtype() != t.dtype())
        throw InternalError("nccl receive: " + dims_str(src.shape()) + " arrived for " + dims_str(t.shape()));
      r_->call("receive from itself", s, src, [&] {
        SPINDLE_NCCL(ncclGroupStart());
        const ncclResult_t a = ncclSend(src.data(), static_cast<size_t>(src.numel()), nccl_type(src), 0, c.comm, s);
        const ncclResult_t b = ncclRecv(t.data(), static_cast<size_t>(t.numel()), nccl_type(t), 0, c.comm, s);
        const ncclResult_t end = ncclGroupEnd();
        SPINDLE_NCCL(a);
        SPINDLE_NCCL(b);
        SPINDLE_NCCL(end);
      });
      return;
    }
    r_->call("receive from " + std::to_string(peer) + " on channel " + std::to_string(channel), s, {}, [&] {
      SPINDLE_NCCL(ncclRecv(t.data(), static_cast<size_t>(t.numel()), nccl_type(t), /*peer=*/0, c.comm, s));
    });
  }

  void all_reduce(const std::vector<int>& group, Tensor& t) override {
    const SetComm& c = r_->group(sync_, group);
    const cudaStream_t s = cuda::calling_stream(r_->backend());
    r_->call("all-reduce on " + group_str(group), s, {}, [&] {
      SPINDLE_NCCL(ncclAllReduce(t.data(), t.data(), static_cast<size_t>(t.numel()), nccl_type(t), ncclSum, c.comm, s));
    });
  }

  void reduce_scatter(const std::vector<int>& group, const Tensor& in, Tensor& out) override {
    const SetComm& c = r_->group(sync_, group);
    if (in.numel() != out.numel() * static_cast<std::int64_t>(group.size()) || in.dtype() != out.dtype())
      throw InternalError("nccl reduce-scatter of " + dims_str(in.shape()) + " into " + dims_str(out.shape()) +
                          " over " + group_str(group));
    const cudaStream_t s = cuda::calling_stream(r_->backend());
    r_->call("reduce-scatter on " + group_str(group), s, {}, [&] {
      SPINDLE_NCCL(ncclReduceScatter(in.data(), out.data(), static_cast<size_t>(out.numel()), nccl_type(out), ncclSum,
                                     c.comm, s));
    });
  }

  void all_gather(const std::vector<int>& group, const Tensor& in, Tensor& out) override {
    const SetComm& c = r_->group(sync_, group);
    if (out.numel() != in.numel() * static_cast<std::int64_t>(group.size()) || in.dtype() != out.dtype())
      throw InternalError("nccl all-gather of " + dims_str(in.shape()) + " into " + dims_str(out.shape()) + " over " +
                          group_str(group));
    const cudaStream_t s = cuda::calling_stream(r_->backend());
    r_->call("all-gather on " + group_str(group), s, {}, [&] {
      SPINDLE_NCCL(ncclAllGather(in.data(), out.data(), static_cast<size_t>(in.numel()), nccl_type(in), c.comm, s));
    });
  }

  void broadcast(const std::vector<int>& group, int root, Tensor& t) override {
    const SetComm& c = r_->group(sync_, group);
    const auto at = std::find(c.members.begin(), c.members.end(), root);  // NCCL ranks in member order
    if (at == c.members.end()) throw InternalError("nccl broadcast from " + std::to_string(root) + " over " + group_str(group));
    const cudaStream_t s = cuda::calling_stream(r_->backend());
    r_->call("broadcast on " + group_str(group), s, {}, [&] {
      SPINDLE_NCCL(ncclBroadcast(t.data(), t.data(), static_cast<size_t>(t.numel()), nccl_type(t),
                                 static_cast<int>(at - c.members.begin()), c.comm, s));
    });
  }

 private:
  std::shared_ptr<NcclRank> r_;
  bool sync_;
};

}  // namespace

NcclCommunicators nccl_communicators(Backend& be, int rank, int world, const std::vector<std::vector<int>>& groups,
                                     const std::vector<std::vector<int>>& sync_groups,
                                     const std::vector<P2pLink>& links, const IdExchange& exchange,
                                     double timeout_s) {
  auto r = std::make_shared<NcclRank>(be, rank, world, groups, sync_groups, links, exchange, timeout_s);
  return {std::make_unique<NcclComm>(r, false), std::make_unique<NcclComm>(r, true)};
}

}  // namespace spindle::engine
