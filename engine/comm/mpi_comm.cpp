// MPI session and communicators (see mpi_comm.h). Every MPI call goes through SPINDLE_MPI,
// which names the call, file and line in the typed error it throws (MPI_ERRORS_RETURN).
#include "engine/comm/mpi_comm.h"

// The C API only (Open MPI's and MPICH's deprecated C++ bindings stay out).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <list>
#include <map>
#include <mutex>
#include <thread>

#include "engine/cpu/bf16.h"
#include "traces/errors.h"

namespace spindle::engine {
namespace {

void mpi_check(int code, const char* expr, const char* file, int line) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
  throw Error(std::string(expr) + " failed (" + file + ":" + std::to_string(line) + "): " +
              (len > 0 ? std::string(text, static_cast<size_t>(len)) : "MPI error " + std::to_string(code)));
}

#define SPINDLE_MPI(expr) mpi_check((expr), #expr, __FILE__, __LINE__)

int count_of(std::int64_t n, const char* what) {
  if (n < 0 || n > INT_MAX) throw InternalError(std::string(what) + ": " + std::to_string(n) + " elements exceed one MPI call's int count");
  return static_cast<int>(n);
}

// MpiSession::receivers_pull: every rank on one node (a collective) and Open MPI's shared-memory
// transport with a single-copy mechanism (cross-memory attach, XPMEM or KNEM: the receiver reads
// the sender's buffer), as MPI_T reports it. Anything else (another MPI, ranks on several nodes,
// copy-in/copy-out) says no.
bool find_receivers_pull() {
  MPI_Comm node = MPI_COMM_NULL;
  int world = 0, local = 0;
  if (MPI_Comm_size(MPI_COMM_WORLD, &world) != MPI_SUCCESS ||
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS)
    return false;
  MPI_Comm_size(node, &local);
  MPI_Comm_free(&node);
  if (local != world) return false;
  int provided = 0;
  if (MPI_T_init_thread(MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) return false;
  std::string mechanism;
  int index = -1;
  if (MPI_T_cvar_get_index("btl_vader_single_copy_mechanism", &index) == MPI_SUCCESS) {
    char name[256], desc[256];
    int name_len = sizeof name, desc_len = sizeof desc, verbosity = 0, bind = 0, scope = 0;
    MPI_Datatype type;
    MPI_T_enum enumtype;
    MPI_T_cvar_handle handle;
    int count = 0, value = 0;
    if (MPI_T_cvar_get_info(index, name, &name_len, &verbosity, &type, &enumtype, desc, &desc_len, &bind, &scope) ==
            MPI_SUCCESS &&
        type == MPI_INT && enumtype != MPI_T_ENUM_NULL &&
        MPI_T_cvar_handle_alloc(index, nullptr, &handle, &count) == MPI_SUCCESS) {
      if (count == 1 && MPI_T_cvar_read(handle, &value) == MPI_SUCCESS) {
        int items = 0, len = sizeof name;
        if (MPI_T_enum_get_info(enumtype, &items, name, &len) == MPI_SUCCESS)
          for (int i = 0; i < items; ++i) {
            int v = 0;
            char item[256];
            int item_len = sizeof item;
            if (MPI_T_enum_get_item(enumtype, i, &v, item, &item_len) == MPI_SUCCESS && v == value) mechanism = item;
          }
      }
      MPI_T_cvar_handle_free(&handle);
    }
  }
  MPI_T_finalize();
  return mechanism == "cma" || mechanism == "xpmem" || mechanism == "knem";
}

class MpiComm final : public Communicator {
 public:
  MpiComm(const MpiSession& session, const std::vector<std::vector<int>>& groups)
      : progress_thread_(!session.receivers_pull()), rank_(session.rank()) {
    SPINDLE_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &p2p_));
    int* ub = nullptr;
    int found = 0;
    SPINDLE_MPI(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &found));
    tag_ub_ = found && ub != nullptr ? *ub : 32767;  // the standard's least upper bound
    for (const std::vector<int>& g : groups) {
      if (comms_.count(g)) throw InternalError("mpi_communicator: group listed twice");
      const auto at = std::find(g.begin(), g.end(), rank_);
      MPI_Comm c = MPI_COMM_NULL;
      SPINDLE_MPI(MPI_Comm_split(MPI_COMM_WORLD, at == g.end() ? MPI_UNDEFINED : 0,
                                 static_cast<int>(at - g.begin()), &c));
      comms_[g] = c;
    }
  }

  ~MpiComm() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (progress_.joinable()) progress_.join();
    // Sends still in flight complete first: their receivers run the same programs (after a
    // failed test nothing is waited for: the run is failing anyway).
    if (progress_error_.empty())
      for (Pending& p : pending_) MPI_Wait(&p.request, MPI_STATUS_IGNORE);
    for (auto& [g, c] : comms_)
      if (c != MPI_COMM_NULL) MPI_Comm_free(&c);
    MPI_Comm_free(&p2p_);
  }

  int device() const override { return rank_; }

  // The progress thread's failure (a send MPI could not complete), at the iteration's end.
  void check() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!progress_error_.empty()) throw Error(progress_error_);
  }

  // A probe is the cheapest MPI call: it runs the transport's progress, which moves the queued
  // sends' fragments (the progress thread cleans up the completed ones).
  // Without a progress thread the sends are this thread's alone: completed ones are freed here.
  void poll() override {
    if (pending_count_.load(std::memory_order_relaxed) == 0) return;
    if (progress_thread_) {
      int flag = 0;
      SPINDLE_MPI(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, p2p_, &flag, MPI_STATUS_IGNORE));
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      int done = 0;
      SPINDLE_MPI(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE));
      it = done ? pending_.erase(it) : std::next(it);
    }
    pending_count_.store(static_cast<int>(pending_.size()), std::memory_order_relaxed);
  }

  void send(int peer, int tag, int /*channel: matched by tag*/, const Tensor& t) override {
    check_tag(tag);
    // The tensor's bytes as stored (bf16: 2 per element, as the programs count them).
    const char* bytes = static_cast<const char*>(t.data());
    std::vector<char> data(bytes, bytes + t.bytes());
    std::lock_guard<std::mutex> lock(mu_);
    if (!progress_error_.empty()) throw Error(progress_error_);
    pending_.push_back({std::move(data), MPI_REQUEST_NULL});
    Pending& p = pending_.back();
    SPINDLE_MPI(MPI_Isend(p.data.data(), count_of(t.bytes(), "send"), MPI_BYTE, peer, tag, p2p_, &p.request));
    pending_count_.store(static_cast<int>(pending_.size()), std::memory_order_relaxed);
    if (!progress_thread_) return;  // receivers pull: poll() frees what completed
    if (!progress_.joinable()) progress_ = std::thread([this] { progress(); });
    if (pending_.size() == 1) cv_.notify_all();  // it sleeps on an empty queue only
  }

  void recv(int peer, int tag, int /*channel*/, Tensor& t) override {
    check_tag(tag);
    check();
    MPI_Status st;
    SPINDLE_MPI(MPI_Probe(peer, tag, p2p_, &st));
    int n = 0;
    SPINDLE_MPI(MPI_Get_count(&st, MPI_BYTE, &n));
    if (n != t.bytes())
      throw InternalError("recv from device " + std::to_string(peer) + " tag " + std::to_string(tag) + ": " +
                          std::to_string(n) + " bytes sent, " + std::to_string(t.bytes()) + " expected");
    SPINDLE_MPI(MPI_Recv(t.data(), n, MPI_BYTE, peer, tag, p2p_, MPI_STATUS_IGNORE));
  }

  // Sums run in fp32 (MPI has no bf16 sum): a bf16 tensor is widened, reduced and narrowed.
  void all_reduce(const std::vector<int>& group, Tensor& t) override {
    Floats f(t, true);
    SPINDLE_MPI(MPI_Allreduce(MPI_IN_PLACE, f.p, count_of(t.numel(), "all_reduce"), MPI_FLOAT, MPI_SUM, comm(group)));
    f.store(t);
  }

  void reduce_scatter(const std::vector<int>& group, const Tensor& in, Tensor& out) override {
    const std::int64_t k = out.numel();
    if (in.numel() != k * static_cast<std::int64_t>(group.size()))
      throw InternalError("reduce_scatter: input of " + std::to_string(in.numel()) + " for " +
                          std::to_string(group.size()) + " chunks of " + std::to_string(k));
    Floats a(in, true), b(out, false);
    SPINDLE_MPI(MPI_Reduce_scatter_block(a.p, b.p, count_of(k, "reduce_scatter"), MPI_FLOAT, MPI_SUM, comm(group)));
    b.store(out);
  }

  void all_gather(const std::vector<int>& group, const Tensor& in, Tensor& out) override {
    const std::int64_t k = in.numel();
    if (out.numel() != k * static_cast<std::int64_t>(group.size()))
      throw InternalError("all_gather: output of " + std::to_string(out.numel()) + " for " +
                          std::to_string(group.size()) + " chunks of " + std::to_string(k));
    if (in.dtype() != out.dtype()) throw InternalError("all_gather from " + std::string(dtype_name(in.dtype())) + " into " + dtype_name(out.dtype()));
    SPINDLE_MPI(MPI_Allgather(in.data(), count_of(in.bytes(), "all_gather"), MPI_BYTE, out.data(),
                              count_of(in.bytes(), "all_gather"), MPI_BYTE, comm(group)));
  }

  void broadcast(const std::vector<int>& group, int root, Tensor& t) override {
    const auto at = std::find(group.begin(), group.end(), root);  // ranks in group order
    if (at == group.end()) throw InternalError("broadcast from device " + std::to_string(root) + ", not in its group");
    SPINDLE_MPI(MPI_Bcast(t.data(), count_of(t.bytes(), "broadcast"), MPI_BYTE, static_cast<int>(at - group.begin()),
                          comm(group)));
  }

 private:
  struct Pending {
    std::vector<char> data;
    MPI_Request request;
  };
  // A tensor's elements as fp32 for MPI's sums: its own memory when fp32, else a widened copy
  // (`read`) that store() narrows back.
  struct Floats {
    Floats(const Tensor& t, bool read) {
      if (t.dtype() == DType::kF32) {
        p = t.f32();
        return;
      }
      copy.resize(static_cast<size_t>(t.numel()));
      if (read) cpu::widen_into(t, copy.data());
      p = copy.data();
    }
    void store(Tensor& t) const {
      if (!copy.empty()) cpu::narrow_into(copy.data(), t);
    }
    std::vector<float> copy;
    float* p = nullptr;
  };

  MPI_Comm comm(const std::vector<int>& group) const {
    const auto it = comms_.find(group);
    if (it == comms_.end() || it->second == MPI_COMM_NULL) {
      std::string g;
      for (int d : group) g += (g.empty() ? "" : ",") + std::to_string(d);
      throw InternalError("device " + std::to_string(rank_) + ": a collective on {" + g +
                          "}, a group not made from the programs (or without this device)");
    }
    return it->second;
  }

  void check_tag(int tag) const {
    if (tag < 0 || tag > tag_ub_)
      throw InternalError("transfer tag " + std::to_string(tag) + " outside MPI's tags [0, " + std::to_string(tag_ub_) + "]");
  }

  // The progress thread. MPI moves a large message only while its sender is inside MPI (Open
  // MPI's shared-memory transport past its eager limit sends in fragments the sender copies),
  // so a rank computing after its sends would hold its receivers back until its next MPI call
  // (measured on two cores: 4.2 ms of a 10.9 ms iteration spent waiting in receives). This
  // thread tests the posted sends until they complete, then frees their buffers, as NCCL's
  // proxy thread progresses its sends; MPI_THREAD_MULTIPLE allows the calls. It shares its
  // rank's core, and every wake-up preempts the rank's compute (a plan whose sends wait long for
  // their receives made 300 context switches per step when it slept 5-100 us), so it is the
  // backstop: it sleeps 200 us between tests (1 us timer slack: Linux's default 50 us would
  // stretch it), woken only when the queue was empty, while the interpreter's poll() between
  // layers and instructions moves the sends at compute granularity. Where receivers pull their
  // messages themselves (MpiSession::receivers_pull) there is no thread: its wake-ups only cost
  // compute (plan at -27%: 16.6k -> 4.1k context switches per 100 steps, -19%).
  // MPI_Test runs outside the lock (where the transport copies fragments), on the sends posted
  // so far: send() only appends (a list's nodes never move), and only this thread erases.
  void progress() {
    prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);  // nanoseconds, for this thread (Linux)
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
      if (stop_) return;
      std::vector<std::list<Pending>::iterator> posted;
      for (auto it = pending_.begin(); it != pending_.end(); ++it) posted.push_back(it);
      lock.unlock();
      std::vector<std::list<Pending>::iterator> done;
      std::string failed;
      for (auto it : posted) {
        int complete = 0;
        const int code = MPI_Test(&it->request, &complete, MPI_STATUS_IGNORE);
        if (code != MPI_SUCCESS) {
          failed = "MPI_Test of a send failed (MPI error " + std::to_string(code) + ")";
          break;
        }
        if (complete) done.push_back(it);
      }
      lock.lock();
      for (auto it : done) pending_.erase(it);
      pending_count_.store(static_cast<int>(pending_.size()), std::memory_order_relaxed);
      if (!failed.empty()) {  // check(), the next send or receive reports it
        progress_error_ = failed;
        return;
      }
      if (pending_.empty()) continue;
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(kSleepUs));
      lock.lock();
    }
  }

  static constexpr int kSleepUs = 200;
  std::atomic<int> pending_count_{0};  // pending_.size(), read without the lock by poll()
  bool progress_thread_ = true;        // whether sends need one (MpiSession::receivers_pull)
  int rank_ = 0;
  int tag_ub_ = 32767;
  MPI_Comm p2p_ = MPI_COMM_NULL;
  std::map<std::vector<int>, MPI_Comm> comms_;
  std::list<Pending> pending_;  // a list: a posted buffer never moves (guarded by mu_)
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::string progress_error_;
  std::thread progress_;  // started with the first send
};

}  // namespace

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

MpiSession::MpiSession() {
  int provided = 0;
  SPINDLE_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
  SPINDLE_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  if (provided < MPI_THREAD_MULTIPLE) {
    MPI_Finalize();
    throw Error("MPI_Init_thread: the MPI library does not provide MPI_THREAD_MULTIPLE (a rank's weight-sync "
                "thread runs collectives beside its program); use an MPI built with thread support");
  }
  SPINDLE_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  SPINDLE_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  receivers_pull_ = find_receivers_pull();
}

MpiSession::~MpiSession() { MPI_Finalize(); }

std::vector<double> MpiSession::all_gather(const std::vector<double>& mine) const {
  std::vector<double> out(mine.size() * static_cast<size_t>(size_));
  const int n = count_of(static_cast<std::int64_t>(mine.size()), "all_gather");
  SPINDLE_MPI(MPI_Allgather(mine.data(), n, MPI_DOUBLE, out.data(), n, MPI_DOUBLE, MPI_COMM_WORLD));
  return out;
}

std::vector<std::int64_t> MpiSession::all_gather(const std::vector<std::int64_t>& mine) const {
  std::vector<std::int64_t> out(mine.size() * static_cast<size_t>(size_));
  const int n = count_of(static_cast<std::int64_t>(mine.size()), "all_gather");
  SPINDLE_MPI(MPI_Allgather(mine.data(), n, MPI_INT64_T, out.data(), n, MPI_INT64_T, MPI_COMM_WORLD));
  return out;
}

std::vector<std::string> MpiSession::all_gather(const std::string& mine) const {
  const std::vector<std::int64_t> sizes = all_gather(std::vector<std::int64_t>{static_cast<std::int64_t>(mine.size())});
  std::vector<int> counts, offsets;
  int total = 0;
  for (std::int64_t s : sizes) {
    offsets.push_back(total);
    counts.push_back(count_of(s, "all_gather"));
    total = count_of(static_cast<std::int64_t>(total) + s, "all_gather");
  }
  std::string all(static_cast<size_t>(total), '\0');
  SPINDLE_MPI(MPI_Allgatherv(mine.data(), count_of(static_cast<std::int64_t>(mine.size()), "all_gather"), MPI_CHAR,
                             all.data(), counts.data(), offsets.data(), MPI_CHAR, MPI_COMM_WORLD));
  std::vector<std::string> out;
  for (size_t r = 0; r < counts.size(); ++r) out.push_back(all.substr(static_cast<size_t>(offsets[r]), static_cast<size_t>(counts[r])));
  return out;
}

void MpiSession::barrier() const { SPINDLE_MPI(MPI_Barrier(MPI_COMM_WORLD)); }

void MpiSession::abort(const std::string& message, int exit_code) const {
  std::cerr << message << std::endl;
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::abort();  // MPI_Abort does not return; should it, end this process anyway
}

std::unique_ptr<Communicator> mpi_communicator(const MpiSession& session, const std::vector<std::vector<int>>& groups) {
  return std::make_unique<MpiComm>(session, groups);
}

}  // namespace spindle::engine
