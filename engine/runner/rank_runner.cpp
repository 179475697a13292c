// One rank's execution of its program (see rank_runner.h).
#include "engine/runner/rank_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "engine/backend_registry.h"
#include "engine/model/op_runner.h"
#include "engine/model/synthetic_data.h"
#include "engine/model/tp_shards.h"
#include "planner/cost/tensor_parallel.h"
#include "traces/errors.h"

namespace spindle::engine {
namespace {

using Key = std::pair<int, int>;  // (MetaOp, layer): whose output a buffer holds

// How device `device` runs the layers of compute instruction `in` that tensor parallelism
// splits: the shards it holds (lowering.h instr_shards); whole layers otherwise.
LayerShards rank_shards(const Instr& in, const Operator& op, int device) {
  if (in.layout_tp <= 1 || !tp_splittable(op)) return LayerShards::whole(op.weights);
  const auto [first, last] = instr_shards(in, device);
  LayerShards ls;
  ls.of = in.layout_tp;
  for (int j = first; j < last; ++j) ls.groups.push_back(tp_shard_group(op.weights, j, ls.of));
  ls.adds_bias = first == 0;  // its TP group's rank 0
  return ls;
}

// A weight tensor's place in a bucket's flattened gradients.
struct Piece {
  std::string param;
  std::int64_t offset = 0, numel = 0;
};

// A weight-sync bucket: its weights' gradients (and under ZeRO-1 their values, which the
// parameter gather fills) live in one flat tensor each, the weights' own tensors being views
// into it, so that its collectives run in place (no bucket-sized copy).
struct Bucket {
  std::vector<int> group;
  bool zero1 = false;
  std::vector<Piece> pieces;
  std::int64_t total = 0, chunk = 0;  // elements; ZeRO-1 shard size (total padded to group x chunk)
  std::int64_t rank = 0;
  Tensor grads, values;  // flat: total elements, group x chunk under ZeRO-1; values only under ZeRO-1
  // After this iteration's sync on the sync thread's stream (set there, read after the sync-wait).
  std::shared_ptr<const Fence> synced;
  Tensor shard;  // ZeRO-1: the reduce-scatter's buffer, from the sync-start to the sync-wait
  std::int64_t own_first() const { return std::min(total, rank * chunk); }  // a small bucket leaves late ranks none
  std::int64_t own_last() const { return std::min(total, (rank + 1) * chunk); }
};

// The part of `p` inside [first, last) of the flattened bucket, in the piece's own elements.
std::pair<std::int64_t, std::int64_t> overlap(const Piece& p, std::int64_t first, std::int64_t last) {
  const std::int64_t a = std::max(first, p.offset), b = std::min(last, p.offset + p.numel);
  return {a - p.offset, std::max(a, b) - p.offset};
}

// Elements [first, last) of a weight.
struct WeightRange {
  Param* param;
  std::int64_t first, last;
};

// A device's weight-sync thread: runs the buckets' collectives in the order their sync-starts
// post them, while the device goes on with its program; sync-wait waits for one. Started once
// per rank and kept across iterations (a thread started per iteration cost ~85 us of the
// iteration's start on a 2-core host, in no instruction's time).
class SyncThread {
 public:
  SyncThread() : thread_([this] { loop(); }) {}
  ~SyncThread() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
  }
  // An iteration starts: no bucket is synced yet, no failure stands.
  void begin() {
    std::lock_guard<std::mutex> lock(mu_);
    done_.clear();
    error_ = nullptr;
  }
  void post(int id, std::function<void()> job) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.emplace_back(id, std::move(job));
    cv_.notify_all();
  }
  // Waits until bucket `id` is synced; rethrows the sync thread's failure.
  void wait(int id) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_.count(id) > 0 || error_; });
    if (error_) std::rethrow_exception(error_);
  }
  // Waits until no job is queued or running: the end of an iteration, also one that failed
  // (its jobs use the iteration's state; after a failure the queued ones are dropped).
  void drain() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return jobs_.empty() && !running_; });
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      if (error_) {  // after a failure this iteration runs no more collectives
        jobs_.clear();
        cv_.notify_all();
        continue;
      }
      auto [id, job] = std::move(jobs_.front());
      jobs_.pop_front();
      running_ = true;
      lock.unlock();
      std::exception_ptr failed;
      try {
        job();
      } catch (...) {
        failed = std::current_exception();
      }
      lock.lock();
      running_ = false;
      if (failed) {
        error_ = failed;
        jobs_.clear();
      } else {
        done_.insert(id);
      }
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<int, std::function<void()>>> jobs_;
  std::set<int> done_;
  std::exception_ptr error_;
  bool running_ = false;
  bool stop_ = false;
  std::jthread thread_;  // last: started once the rest exists, joined first
};

}  // namespace

struct RankRunner::State {
  State(const Scenario& scenario, const Graph& graph, const MetaGraph& metagraph, const DeviceProgram& prog, int ranks,
        const TrainOptions& options)
      : id(prog.device), s(scenario), g(graph), mg(metagraph), program(prog), world(ranks), opt(options) {}
  int id = 0;
  const Scenario& s;
  const Graph& g;
  const MetaGraph& mg;
  const DeviceProgram& program;
  int world = 1;
  TrainOptions opt;
  std::vector<std::pair<int, int>> op_key;      // operator -> (MetaOp, layer in it)
  std::unique_ptr<Backend> be;
  std::unique_ptr<WeightStore> ws;
  std::unique_ptr<SyntheticData> data;
  std::unique_ptr<Communicator> comm;
  std::unique_ptr<Communicator> sync_comm;       // the sync thread's, in a world of its own
  std::map<int, Bucket> buckets;                 // by collective id
  std::map<std::string, int> bucket_of;          // weight tensor -> collective id
  // What this device counts in the gradient norm (each element once over all devices) and
  // updates in the step (its own shards); found at the first step.
  std::vector<WeightRange> counted, owned;
  bool ranged = false;
  // Per iteration.
  // Per MetaOp layer output: the batch rows [first, last) this device's program touches (its
  // slices' rows, what it sends and receives, a contrastive loss's whole batch), computed once;
  // the buffers below hold only those rows.
  std::map<Key, std::pair<std::int64_t, std::int64_t>> span;
  std::map<Key, Tensor> act, grad;               // [span rows, S, H] per MetaOp layer output
  std::map<int, OpState> ctx;                    // by operator
  std::map<int, TaskBatch> batches;              // by task: the rows data_rows names
  std::vector<std::int64_t> batches_at;          // the positions `batches` were drawn at
  std::map<int, std::pair<std::int64_t, std::int64_t>> data_rows;  // task -> rows its data-reading operators run
  std::map<int, Tensor> contrastive_din;         // by loss MetaOp: the share's gradient, all rows
  std::vector<double> loss;                      // per task: this device's share
  double grad_norm = 0;
  DeviceCounters counters;
  std::vector<ExecutedInstr> timeline;
  std::map<int, std::pair<double, double>> sync_span;  // bucket -> its collective on the sync thread
  GradientSnapshot snapshot;
  std::vector<std::int64_t> tp_reduced;  // program bytes of the TP all-reduces the last compute ran, not yet matched
  std::map<std::pair<Key, int>, Tensor> shipped;  // (gradient buffer, peer) -> what was sent to the peer, by row
  // Instruction -> the buffers (layer output, gradient or not) it is the last to touch, freed
  // after it (computed once from the program); those freed this iteration.
  std::map<size_t, std::vector<std::pair<Key, bool>>> last_use;
  std::set<std::pair<Key, bool>> released;
  std::unique_ptr<SyncThread> sync_thread;  // last: stopped before the rest goes
};

namespace {

// The bucket of sync instruction `in` on this device: its weights flattened in name order
// (made once, the first time asked).
Bucket& make_bucket(RankRunner::State& d, const Instr& in) {
  auto [it, fresh] = d.buckets.try_emplace(in.collective);
  Bucket& b = it->second;
  if (!fresh) return b;
  b.group = in.group;
  b.zero1 = in.zero1;
  b.rank = std::find(in.group.begin(), in.group.end(), d.id) - in.group.begin();
  for (const std::string& w : in.weights) {
    const size_t before = b.pieces.size();
    for (auto& [name, p] : d.ws->params())
      if (name.compare(0, w.size() + 1, w + "/") == 0) {
        b.pieces.push_back({name, b.total, p.value.numel()});
        b.total += p.value.numel();
        d.bucket_of[name] = in.collective;
      }
    // Members that flattened different sizes would read past each other's buffers.
    if (b.pieces.size() == before)
      throw InternalError("device " + std::to_string(d.id) + ": bucket " + std::to_string(in.collective) +
                          " names weight group " + w + ", which the device does not hold");
  }
  const auto n = static_cast<std::int64_t>(b.group.size());
  b.chunk = (b.total + n - 1) / n;
  return b;
}

// The element ranges of weight `name` this device holds reduced: its shard under ZeRO-1.
std::vector<std::pair<std::int64_t, std::int64_t>> owned_ranges(const RankRunner::State& d, const std::string& name,
                                                                const Param& p) {
  auto it = d.bucket_of.find(name);
  if (it == d.bucket_of.end()) return {{0, p.value.numel()}};
  const Bucket& b = d.buckets.at(it->second);
  if (!b.zero1) return {{0, p.value.numel()}};
  for (const Piece& pc : b.pieces)
    if (pc.param == name) {
      const auto [a, e] = overlap(pc, b.own_first(), b.own_last());
      if (a < e) return {{a, e}};
    }
  return {};
}

// The ranges of `name` this device counts among all devices, each element once: its own
// weights, a bucket's on the group's first member (its ZeRO-1 part under ZeRO-1), a replicated
// TP tensor by shard 0's copy.
std::vector<std::pair<std::int64_t, std::int64_t>> counted_ranges(const RankRunner::State& d, const std::string& name,
                                                                  const Param& p) {
  auto it = d.bucket_of.find(name);
  const bool elsewhere = it != d.bucket_of.end() && !d.buckets.at(it->second).zero1 &&
                         d.buckets.at(it->second).group.front() != d.id;
  if (elsewhere || parse_sharded(name).extra_copy()) return {};
  return owned_ranges(d, name, p);
}

// Moves a bucket's gradients (and under ZeRO-1 its values) into one flat tensor each; the
// weights' tensors become views into it.
void lay_out(RankRunner::State& d, Bucket& b) {
  const std::int64_t size = b.zero1 ? static_cast<std::int64_t>(b.group.size()) * b.chunk : b.total;
  {
    MemPartScope part(MemPart::kGrads);
    b.grads = d.be->alloc({size});
  }
  if (b.zero1) {
    MemPartScope part(MemPart::kWeights);
    b.values = d.be->alloc({size});
  }
  for (const Piece& pc : b.pieces) {
    Param& p = d.ws->at(pc.param);
    p.grad = b.grads.flat_view(pc.offset, pc.numel).reshaped(p.grad.shape());
    if (!b.zero1) continue;
    Tensor v = b.values.flat_view(pc.offset, pc.numel).reshaped(p.value.shape());
    copy_flat(*d.be, p.value, v, false);
    p.value = v;
  }
}

// Every buffer each instruction of the program touches, as fn(instruction, layer output, its
// gradient or not, first row, last row): computes (their outputs and inputs; a contrastive loss
// reads the whole batch), transfers and contrastive gathers. The one list behind the buffers'
// row spans and their last uses.
template <class Fn>
void for_each_touch(const RankRunner::State& d, Fn fn) {
  const auto& code = d.program.instrs;
  for (size_t i = 0; i < code.size(); ++i) {
    const Instr& in = code[i];
    if (in.metaop < 0) continue;
    const MetaOp& m = d.mg.metaops[static_cast<size_t>(in.metaop)];
    const bool grads = in.kind == InstrKind::kBackward || in.for_backward;
    if (in.kind == InstrKind::kForward || in.kind == InstrKind::kBackward) {
      for (int l = in.first_layer; l < in.last_layer; ++l) {
        const int id = m.ops[static_cast<size_t>(l)];
        const Operator& op = d.g.op(id);
        fn(i, d.op_key[static_cast<size_t>(id)], grads, in.first_row, in.last_row);
        const bool whole = op.kind == OpKind::kContrastiveLoss;
        const std::int64_t batch = d.s.tasks[static_cast<size_t>(op.task)].batch;
        const OpInputs io = op_inputs(d.g, id);
        for (const std::vector<int>* ids : {&io.sources, &io.memory})
          for (int src : *ids)
            fn(i, d.op_key[static_cast<size_t>(src)], grads, whole ? 0 : std::int64_t{in.first_row},
               whole ? batch : std::int64_t{in.last_row});
      }
    } else if (in.kind == InstrKind::kSend || in.kind == InstrKind::kRecv || in.kind == InstrKind::kCopy) {
      fn(i, Key{in.metaop, in.first_layer}, grads, in.first_row, in.last_row);
    } else if (in.kind == InstrKind::kGather) {
      for (int src : op_inputs(d.g, m.ops.front()).sources)
        for (auto [f, e] : in.rows_of) fn(i, d.op_key[static_cast<size_t>(src)], grads, f, e);
    }
  }
}

// Widens the row range of `key` in `ranges` to cover [first, last).
template <class K>
void extend(std::map<K, std::pair<std::int64_t, std::int64_t>>& ranges, const K& key, std::int64_t first,
            std::int64_t last) {
  auto [it, fresh] = ranges.try_emplace(key, first, last);
  if (!fresh) it->second = {std::min(it->second.first, first), std::max(it->second.second, last)};
}

// One device's iteration: the interpreter of its program.
class Interpreter {
 public:
  // Iteration `step` of rank `d` on the tasks' samples from `positions`.
  Interpreter(RankRunner::State& d, const std::vector<std::int64_t>& positions, std::int64_t step, bool keep)
      : d_(d), s_(d.s), g_(d.g), mg_(d.mg), p_(d.program), op_key_(d.op_key), positions_(positions), opt_(d.opt),
        step_(step), world_(d.world), keep_(keep), be_(*d.be), runner_(*d.be, *d.ws), sync_(*d.sync_thread) {
    sync_.begin();
  }
  // The sync thread's jobs use this iteration's state: none may outlive it.
  ~Interpreter() { sync_.drain(); }
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // `abort_all` stops every device's communication (called before this device's failure
  // unwinds, so that the sync thread it joins is not left waiting for other devices).
  void run(double t0_s, const std::function<void()>& abort_all) {
    t0_s_ = t0_s;
    try {
      interpret(t0_s);
      // A communicator that failed on its own (NCCL's watchdog) fails the iteration, before its
      // gradients reach the optimizer of the next or a checkpoint.
      d_.comm->check();
      d_.sync_comm->check();
    } catch (...) {
      abort_all();
      throw;
    }
  }

 private:
  void interpret(double t0_s) {
    for (size_t i = 0; i < p_.instrs.size(); ++i) {
      const Instr& in = p_.instrs[i];
      if (in.kind != InstrKind::kTpReduce && !d_.tp_reduced.empty()) unmatched_tp_reduce();
      const double t = wall_clock_s();
      switch (in.kind) {
        case InstrKind::kForward: forward(in); break;
        case InstrKind::kBackward: backward(in); break;
        case InstrKind::kSend: send(in); break;
        case InstrKind::kRecv: recv(in); break;
        case InstrKind::kCopy: break;  // the rows are already in this device's buffer
        case InstrKind::kGather: gather(in); break;
        case InstrKind::kSyncStart: sync(in); break;
        case InstrKind::kSyncWait:
          sync_.wait(in.collective);
          be_.wait(bucket(in).synced);
          bucket(in).shard = Tensor();
          break;
        case InstrKind::kGradNorm: grad_norm(); break;
        case InstrKind::kClipNorm: clip_norm(in); break;
        case InstrKind::kStep: optimizer_step(); break;
        case InstrKind::kParamGather: param_gather(in); break;
        case InstrKind::kTpReduce: tp_reduce(in); break;
      }
      release_after(i);
      d_.comm->poll();
      d_.timeline.push_back({static_cast<int>(i), t - t0_s, wall_clock_s() - t0_s});
    }
    if (!d_.tp_reduced.empty()) unmatched_tp_reduce();
  }

  // Frees the layer outputs and gradients instruction `i` was the last to touch (a forward's
  // saved state keeps what backward reads of them until that backward).
  void release_after(size_t i) {
    auto it = d_.last_use.find(i);
    if (it == d_.last_use.end()) return;
    for (const auto& [k, grads] : it->second) {
      (grads ? d_.grad : d_.act).erase(k);
      d_.released.insert({k, grads});
      if (grads)
        for (auto s = d_.shipped.lower_bound({k, -1}); s != d_.shipped.end() && s->first.first == k;) s = d_.shipped.erase(s);
    }
  }

  // The layer a compute instruction ran did its TP all-reduces inside (after each row-parallel
  // linear, for each column-parallel input's gradient); the program's tp-all-reduce
  // instructions that follow it account for them: each must match one by size (the program
  // counts its activation_bytes per element, whatever this backend stores), and none may be
  // left over.
  void tp_reduce(const Instr& in) {
    auto it = std::find(d_.tp_reduced.begin(), d_.tp_reduced.end(), in.bytes);
    if (it == d_.tp_reduced.end())
      throw InternalError("device " + std::to_string(d_.id) + ": the program's tp-all-reduce of " +
                          std::to_string(in.bytes) + " B (MetaOp " + std::to_string(in.metaop) + ", layer " +
                          std::to_string(in.first_layer) + ") matches none its layer ran");
    d_.tp_reduced.erase(it);
  }
  [[noreturn]] void unmatched_tp_reduce() {
    throw InternalError("device " + std::to_string(d_.id) + ": a layer ran a TP all-reduce of " +
                        std::to_string(d_.tp_reduced.front()) + " B that its program does not have");
  }

  // How this device runs layer `op` of compute `in`, with its TP all-reduces on the
  // instruction's group (recorded for tp_reduce).
  LayerShards shards_for(const Instr& in, const Operator& op) {
    LayerShards ls = rank_shards(in, op, d_.id);
    if (in.group.size() > 1 && ls.of > 1) {
      ls.all_reduce = [this, members = in.group](Tensor& t) {
        d_.comm->all_reduce(members, t);
        d_.tp_reduced.push_back(t.numel() * d_.program.activation_bytes);
        d_.counters.tp_reduce_bytes += t.bytes();
      };
    }
    return ls;
  }

  const Operator& op_at(const Key& k) const {
    return g_.op(mg_.metaops[static_cast<size_t>(k.first)].ops[static_cast<size_t>(k.second)]);
  }
  std::int64_t batch_of(const Operator& op) const { return s_.tasks[static_cast<size_t>(op.task)].batch; }

  // The rows this device holds of layer output `k` (state.span).
  const std::pair<std::int64_t, std::int64_t>& span(const Key& k) const {
    auto it = d_.span.find(k);
    if (it == d_.span.end())
      throw InternalError("device " + std::to_string(d_.id) + ": MetaOp " + std::to_string(k.first) + " layer " +
                          std::to_string(k.second) + " is not in its program");
    return it->second;
  }
  Tensor& buffer(std::map<Key, Tensor>& m, const Key& k) {
    auto it = m.find(k);
    if (it != m.end()) return it->second;
    const bool grads = &m == &d_.grad;
    if (d_.released.count({k, grads}))
      throw InternalError("device " + std::to_string(d_.id) + ": MetaOp " + std::to_string(k.first) + " layer " +
                          std::to_string(k.second) + (grads ? " gradient" : " output") +
                          " used after the instruction computed as its last use");
    const Operator& op = op_at(k);
    const auto [lo, hi] = span(k);
    MemPartScope part(grads ? MemPart::kBuffers : MemPart::kActivations);
    return m.emplace(k, be_.alloc({hi - lo, op.out_seq, op.out_hidden})).first->second;
  }
  // Batch rows [first, last) of layer output `k` (grads: its gradient), a view into its buffer.
  Tensor rows(const Key& k, bool grads, std::int64_t first, std::int64_t last) {
    const auto [lo, hi] = span(k);
    if (first < lo || last > hi || first > last)
      throw InternalError("device " + std::to_string(d_.id) + ": rows [" + std::to_string(first) + "," +
                          std::to_string(last) + ") of MetaOp " + std::to_string(k.first) + " layer " +
                          std::to_string(k.second) + " outside the rows it holds [" + std::to_string(lo) + "," +
                          std::to_string(hi) + ")");
    return buffer(grads ? d_.grad : d_.act, k).rows_view(first - lo, last - lo);
  }

  // What operator `op` reads of rows [first, last) of its task's batch, drawn once per iteration
  // for the rows this device's data-reading operators run (state.data_rows): the drawn batch
  // itself where those are all its rows (no copy), else a copy of those rows of what `op`
  // reads, held in `part`.
  const TaskBatch& task_rows(const Operator& op, std::int64_t first, std::int64_t last, TaskBatch& part) {
    const auto [lo, hi] = d_.data_rows.at(op.task);
    auto it = d_.batches.find(op.task);
    if (it == d_.batches.end())
      it = d_.batches.emplace(op.task, d_.data->batch(op.task, positions_[static_cast<size_t>(op.task)], lo, hi)).first;
    if (first == lo && last == hi) return it->second;
    part = batch_rows(it->second, op, first - lo, last - lo);
    return part;
  }

  // Rows [first, last) of the outputs (or their gradients) of `ids`.
  std::vector<Tensor> views(const std::vector<int>& ids, bool grads, std::int64_t first, std::int64_t last) {
    std::vector<Tensor> v;
    for (int id : ids) {
      const Key& k = op_key_[static_cast<size_t>(id)];
      v.push_back(rows(k, grads, first, last));
    }
    return v;
  }

  // Puts a forward's output in the layer's buffer: the output itself becomes the buffer where
  // it is all the rows this device holds and no buffer exists yet (no zeroed allocation and
  // copy), else it is copied into its rows.
  void keep_output(const Key& k, const Operator& op, const RowBlock& rows, const Tensor& out) {
    const auto [lo, hi] = span(k);
    const Dims whole{hi - lo, op.out_seq, op.out_hidden};
    if (rows.first == lo && rows.last == hi && out.shape() == whole && out.dtype() == be_.activation_dtype() &&
        !d_.act.count(k) && !d_.released.count({k, false})) {
      d_.act.emplace(k, out);
      return;
    }
    Tensor dst = this->rows(k, false, rows.first, rows.last);
    if (dst.shape() != out.shape())
      throw InternalError(op.name + ": output " + dims_str(out.shape()) + " does not fit its rows " +
                          dims_str(dst.shape()));
    copy_flat(be_, out, dst, false);
  }

  void forward(const Instr& in) {
    MemPartScope part(MemPart::kActivations);  // what forward keeps; its temporaries are gone by backward
    const MetaOp& m = mg_.metaops[static_cast<size_t>(in.metaop)];
    for (int l = in.first_layer; l < in.last_layer; ++l) {
      const int id = m.ops[static_cast<size_t>(l)];
      const Operator& op = g_.op(id);
      const RowBlock rows{in.first_row, in.last_row, batch_of(op)};
      const OpInputs io = op_inputs(g_, id);
      // A contrastive loss reads both embeddings of the whole batch (gathered before it).
      const bool whole = op.kind == OpKind::kContrastiveLoss;
      const std::int64_t f = whole ? 0 : rows.first, e = whole ? rows.batch : rows.last;
      const Tensor x = io.sources.empty() ? Tensor() : concat_tokens(be_, views(io.sources, false, f, e));
      const Tensor mem = io.memory.empty() ? Tensor() : concat_tokens(be_, views(io.memory, false, f, e));
      const bool reads_data =
          op.kind == OpKind::kPatchEmbed || op.kind == OpKind::kTokenEmbed || op.kind == OpKind::kLmHead;
      TaskBatch copied;
      const TaskBatch& data = reads_data ? task_rows(op, rows.first, rows.last, copied) : copied;
      OpState& st = d_.ctx[id];
      const LayerShards ls = shards_for(in, op);
      const Tensor out = runner_.forward(op, rows, data, x, mem, st, &ls);
      d_.comm->poll();
      if (out.empty()) {
        d_.loss[static_cast<size_t>(op.task)] += st.loss;
        d_.counters.forward_rows += rows.rows();
        continue;
      }
      keep_output(op_key_[static_cast<size_t>(id)], op, rows, out);
      d_.counters.forward_rows += out.dim(0);
    }
  }

  // Whether this device keeps the gradient it computes for the output of operator `src` when
  // running compute `in`: unless another rank of its TP group sends that gradient (the program
  // says which, lowering.h drops_grad_of; a copy left in this device's buffer would add to what
  // it receives or sends for other slices).
  bool keeps(const Instr& in, int src) const {
    const int producer = op_key_[static_cast<size_t>(src)].first;
    return !std::binary_search(in.drops_grad_of.begin(), in.drops_grad_of.end(), producer);
  }
  // The gradient `ids`' concatenated input adds into: the one source's rows, or a buffer.
  Tensor grads_for(const Instr& in, const std::vector<int>& ids, const Tensor& like, const RowBlock& rows) {
    if (ids.empty()) return Tensor();
    if (ids.size() == 1 && keeps(in, ids[0])) return views(ids, true, rows.first, rows.last)[0];
    return be_.alloc(like.shape());
  }
  void hand_back(const Instr& in, const std::vector<int>& ids, const Tensor& d, const RowBlock& rows) {
    if (ids.size() < 2 && (ids.empty() || keeps(in, ids[0]))) return;  // already in place (or none)
    if (std::none_of(ids.begin(), ids.end(), [&](int id) { return keeps(in, id); })) return;  // another rank sends them
    std::vector<Tensor> parts = views(ids, true, rows.first, rows.last);
    for (size_t i = 0; i < ids.size(); ++i)
      if (!keeps(in, ids[i])) parts[i] = be_.alloc(parts[i].shape());  // computed, not kept
    split_tokens(be_, d, parts, true);
  }

  void backward(const Instr& in) {
    const MetaOp& m = mg_.metaops[static_cast<size_t>(in.metaop)];
    for (int l = in.last_layer - 1; l >= in.first_layer; --l) {
      const int id = m.ops[static_cast<size_t>(l)];
      const Operator& op = g_.op(id);
      const RowBlock rows{in.first_row, in.last_row, batch_of(op)};
      const OpInputs io = op_inputs(g_, id);
      OpState& st = d_.ctx.at(id);
      const bool loss = op.kind == OpKind::kContrastiveLoss || op.kind == OpKind::kLmHead;
      const Tensor dout = loss ? Tensor() : this->rows(op_key_[static_cast<size_t>(id)], true, rows.first, rows.last);
      if (op.kind == OpKind::kContrastiveLoss) {
        // Gradients for all rows of both embeddings: reduce-scattered by the next gather.
        Tensor din = be_.alloc(st.in.shape()), none;
        runner_.backward(op, rows, st, dout, din, none);
        d_.contrastive_din[in.metaop] = din;
      } else {
        Tensor din = grads_for(in, io.sources, st.in, rows);
        Tensor dmem = grads_for(in, io.memory, st.mem, rows);
        const LayerShards ls = shards_for(in, op);
        runner_.backward(op, rows, st, dout, din, dmem, &ls);
        d_.comm->poll();
        hand_back(in, io.sources, din, rows);
        hand_back(in, io.memory, dmem, rows);
      }
      d_.ctx.erase(id);  // what its forward kept
      d_.counters.backward_rows += rows.rows();
    }
  }

  Tensor transfer_view(const Instr& in) {
    const Key k{in.metaop, in.first_layer};
    return rows(k, in.for_backward, in.first_row, in.last_row);
  }

  void send(const Instr& in) {
    const Tensor v = transfer_view(in);
    if (!in.for_backward) {
      d_.comm->send(in.peer, in.tensor, in.channel, v);
    } else {
      // A gradient's rows may go to several devices (every rank of a TP group) and stay here
      // too, and later contributions to them go in a later send: each peer gets what it has
      // not had yet, element by element (the rows minus what was sent to it before).
      const Key k{in.metaop, in.first_layer};
      auto it = d_.shipped.find({k, in.peer});
      if (it == d_.shipped.end())
        it = d_.shipped.emplace(std::make_pair(k, in.peer), be_.alloc(buffer(d_.grad, k).shape())).first;
      const std::int64_t lo = span(k).first;
      Tensor before = it->second.rows_view(in.first_row - lo, in.last_row - lo);
      be_.scale(before, -1.0f);  // -before + v, in place: send copies the data out before returning
      copy_flat(be_, v, before, true);
      d_.comm->send(in.peer, in.tensor, in.channel, before);
      copy_flat(be_, v, before, false);
    }
    d_.counters.sent_bytes += v.bytes();
    ++d_.counters.sends;
  }

  void recv(const Instr& in) {
    Tensor v = transfer_view(in);
    if (in.for_backward) {  // gradients from several consumers add up
      Tensor t = be_.alloc(v.shape());
      d_.comm->recv(in.peer, in.tensor, in.channel, t);
      copy_flat(be_, t, v, true);
    } else {
      d_.comm->recv(in.peer, in.tensor, in.channel, v);
    }
    d_.counters.recv_bytes += v.bytes();
    ++d_.counters.recvs;
  }

  // Contrastive loss: before its forward, all-gather both embeddings' rows of every member;
  // after its backward, reduce-scatter the gradients of all rows, each member keeping its own.
  void gather(const Instr& in) {
    const MetaOp& m = mg_.metaops[static_cast<size_t>(in.metaop)];
    const OpInputs io = op_inputs(g_, m.ops.front());
    if (io.sources.size() != 2 || in.rows_of.size() != in.group.size())
      throw InternalError("gather of MetaOp " + std::to_string(in.metaop) + ": not a contrastive loss of two inputs");
    const auto r = static_cast<size_t>(std::find(in.group.begin(), in.group.end(), d_.id) - in.group.begin());
    const std::int64_t width = op_at(op_key_[static_cast<size_t>(io.sources[0])]).out_hidden;
    std::int64_t most = 0;
    for (auto [f, e] : in.rows_of) most = std::max<std::int64_t>(most, e - f);
    const std::int64_t chunk = most * 2 * width, n = static_cast<std::int64_t>(in.group.size());
    // Member j's rows in chunk `slot` of a buffer of chunks (padded to the most rows), as [rows, 2, D].
    auto packed = [&](const Tensor& t, size_t j, size_t slot) {
      const auto [f, e] = in.rows_of[j];
      return t.flat_view(static_cast<std::int64_t>(slot) * chunk, (e - f) * 2 * width).reshaped({e - f, 2, width});
    };
    const auto [own_f, own_e] = in.rows_of[r];
    if (!in.for_backward) {
      Tensor mine = be_.alloc({chunk}), all = be_.alloc({n * chunk});
      Tensor dst = packed(mine, r, 0);
      copy_flat(be_, concat_tokens(be_, views(io.sources, false, own_f, own_e)), dst, false);
      d_.comm->all_gather(in.group, mine, all);
      for (size_t j = 0; j < in.group.size(); ++j) {
        if (j == r) continue;
        std::vector<Tensor> parts = views(io.sources, false, in.rows_of[j].first, in.rows_of[j].second);
        split_tokens(be_, packed(all, j, j), parts, false);
      }
      d_.counters.gathered_bytes += (own_e - own_f) * 2 * width * dtype_bytes(mine.dtype());
    } else {
      const Tensor& din = d_.contrastive_din.at(in.metaop);
      Tensor all = be_.alloc({n * chunk}), mine = be_.alloc({chunk});
      for (size_t j = 0; j < in.group.size(); ++j) {
        Tensor dst = packed(all, j, j);
        copy_flat(be_, din.rows_view(in.rows_of[j].first, in.rows_of[j].second), dst, false);
      }
      d_.contrastive_din.erase(in.metaop);
      d_.comm->reduce_scatter(in.group, all, mine);
      std::vector<Tensor> parts = views(io.sources, true, own_f, own_e);
      split_tokens(be_, packed(mine, r, 0), parts, true);
    }
  }

  Bucket& bucket(const Instr& in) { return make_bucket(d_, in); }

  // Posts the bucket's collective to the sync thread: its gradients are final (the program
  // starts a bucket after its last gradient anywhere is ready) and only the optimizer step,
  // after the sync-wait, reads them again.
  void sync(const Instr& in) {
    Bucket& b = bucket(in);
    // On a stream-ordered backend the sync thread queues on a stream of its own, after the
    // gradients the program queued so far (`ready`); the sync-wait orders the program's later
    // work after the bucket's (`synced`).
    // The sync thread allocates nothing (a device allocation there could wait for the whole
    // device, compute stream included, while the program waits for the sync): under ZeRO-1 the
    // program gives it the shard buffer, and drops it after the sync-wait, when the compute
    // stream is past the sync stream's use of it.
    if (b.zero1) b.shard = be_.alloc({b.chunk}, b.grads.dtype());
    std::shared_ptr<const Fence> ready = be_.fence();
    sync_.post(in.collective, [this, &b, id = in.collective, ready = std::move(ready)] {
      const double start = wall_clock_s() - t0_s_;
      be_.use_side_stream();
      be_.wait(ready);
      if (!b.zero1) {
        d_.sync_comm->all_reduce(b.group, b.grads);
      } else {  // the own shard's sums, reduce-scattered into the shard buffer, then in place
        Tensor& mine = b.shard;
        d_.sync_comm->reduce_scatter(b.group, b.grads, mine);
        Tensor own = b.grads.flat_view(b.own_first(), b.own_last() - b.own_first());
        copy_flat(be_, mine.flat_view(0, own.numel()), own, false);
      }
      b.synced = be_.fence();
      d_.sync_span[id] = {start, wall_clock_s() - t0_s_};
    });
  }

  void param_gather(const Instr& in) {
    Bucket& b = bucket(in);
    Tensor mine = be_.alloc({b.chunk}, b.values.dtype());
    const Tensor own = b.values.flat_view(b.own_first(), b.own_last() - b.own_first());
    Tensor dst = mine.flat_view(0, own.numel());
    copy_flat(be_, own, dst, false);
    d_.comm->all_gather(b.group, mine, b.values);  // every member's updated shard, in place
  }

  // The gradients by unsharded weight names: a TP shard's elements at their places in the whole
  // tensor (valid where the shard, or its ZeRO-1 part, is); replicated tensors by shard 0's copy.
  void snapshot() {
    for (auto& [name, p] : d_.ws->params()) {
      const ShardedName sn = parse_sharded(name);
      if (sn.extra_copy()) continue;
      std::vector<float> local(static_cast<size_t>(p.grad.numel()));
      be_.download(p.grad, local);
      const std::string whole = sn.unsharded();
      auto& valid = d_.snapshot.valid[whole];
      std::vector<float>& v = d_.snapshot.grad[whole];
      const TpSplit split = tp_split(sn.tensor);
      if (sn.of == 1 || split == TpSplit::kReplicated) {
        v = std::move(local);
        valid = owned(name, p);
        continue;
      }
      Dims full = p.grad.shape();
      full[split == TpSplit::kRows ? 0 : 1] *= sn.of;
      v.resize(static_cast<size_t>(p.grad.numel() * sn.of));
      place_shard(local, full, split, sn.shard, sn.of, v);
      for (auto [f, l] : owned(name, p))
        for (auto r : unsharded_ranges(full, split, sn.shard, sn.of, f, l)) valid.push_back(r);
    }
  }

  std::vector<std::pair<std::int64_t, std::int64_t>> owned(const std::string& name, const Param& p) const {
    return owned_ranges(d_, name, p);
  }

  // The program's grad-norm: this device's part of the squared gradient norm, each weight
  // counted once over all devices (its group's first member, or the shards' owners).
  void grad_norm() {
    cache_ranges();
    std::vector<Tensor> parts;
    parts.reserve(d_.counted.size());
    for (const WeightRange& r : d_.counted) parts.push_back(r.param->grad.flat_view(r.first, r.last - r.first));
    squares_ = be_.sum_squares(parts);
    squared_ = true;
  }

  // The program's clip-norm: the parts summed over the instruction's group (every device).
  void clip_norm(const Instr& in) {
    if (!squared_)
      throw InternalError("device " + std::to_string(d_.id) + ": the program's clip-norm comes before its grad-norm");
    Tensor norm = be_.alloc({1}, DType::kF32);
    const float partial = static_cast<float>(squares_);
    be_.upload(norm, std::span<const float>(&partial, 1));
    if (static_cast<int>(in.group.size()) != world_)
      throw InternalError("device " + std::to_string(d_.id) + ": the clip-norm is over " +
                          std::to_string(in.group.size()) + " devices, not all " + std::to_string(world_));
    d_.comm->all_reduce(in.group, norm);
    float total = 0;
    be_.download(norm, std::span<float>(&total, 1));
    d_.grad_norm = std::sqrt(static_cast<double>(total));
    normed_ = true;
  }

  void optimizer_step() {
    if (!normed_)
      throw InternalError("device " + std::to_string(d_.id) + ": the program steps the optimizer before its clip-norm");
    if (keep_) snapshot();
    cache_ranges();
    const AdamWParams hp = step_params(opt_, step_, d_.grad_norm);  // clipping as the step reads the gradients
    std::vector<AdamWSlice> slices;  // one multi-tensor step over this device's weights
    slices.reserve(d_.owned.size());
    for (const WeightRange& r : d_.owned) {
      Param& p = *r.param;
      const std::int64_t a = r.first, n = r.last - r.first;
      slices.push_back({p.value.flat_view(a, n), p.grad.flat_view(a, n), p.m.flat_view(a - p.moments_first, n),
                        p.v.flat_view(a - p.moments_first, n), p.decay ? hp.weight_decay : 0.0f});
    }
    be_.adamw_step(slices, hp, step_);
  }

  // The ranges are fixed once the buckets are laid out: found at the first iteration.
  void cache_ranges() {
    if (d_.ranged) return;
    for (auto& [name, p] : d_.ws->params()) {
      for (auto [a, e] : counted_ranges(d_, name, p))
        if (e > a) d_.counted.push_back({&p, a, e});
      for (auto [a, e] : owned(name, p))
        if (e > a) d_.owned.push_back({&p, a, e});
    }
    d_.ranged = true;
  }

  RankRunner::State& d_;
  const Scenario& s_;
  const Graph& g_;
  const MetaGraph& mg_;
  const DeviceProgram& p_;
  const std::vector<Key>& op_key_;
  const std::vector<std::int64_t>& positions_;
  const TrainOptions& opt_;
  std::int64_t step_;
  int world_;
  bool keep_;
  Backend& be_;
  OpRunner runner_;
  double t0_s_ = 0;
  bool normed_ = false;  // the clip-norm ran this iteration
  bool squared_ = false;  // the grad-norm ran this iteration
  double squares_ = 0;    // its sum
  SyncThread& sync_;
};

}  // namespace

RankRunner::RankRunner(const Scenario& s, const Graph& g, const MetaGraph& mg, const DeviceProgram& program, int world,
                       const std::string& backend, const TrainOptions& options, const CommMaker& make_comm) {
  std::set<std::string> groups;
  for (const Instr& in : program.instrs) {
    if (in.kind != InstrKind::kForward) continue;
    if (in.metaop < 0 || in.metaop >= static_cast<int>(mg.metaops.size()))
      throw InternalError("device " + std::to_string(program.device) + ": no MetaOp " + std::to_string(in.metaop));
    const MetaOp& m = mg.metaops[static_cast<size_t>(in.metaop)];
    for (int l = in.first_layer; l < in.last_layer; ++l) {
      const Operator& op = g.op(m.ops[static_cast<size_t>(l)]);
      if (op.weights.empty()) continue;
      for (const std::string& group : rank_shards(in, op, program.device).groups) groups.insert(group);
    }
  }
  st_ = std::make_unique<State>(s, g, mg, program, world, options);
  State& d = *st_;
  d.be = make_backend(backend);
  d.be->set_activation_dtype(options.activation_dtype);
  d.ws = std::make_unique<WeightStore>(s, g, *d.be, options.seed, &groups, /*moments=*/false);
  d.data = std::make_unique<SyntheticData>(s, g, options.seed);
  d.sync_thread = std::make_unique<SyncThread>();
  Comms comms = make_comm(*d.be);
  d.comm = std::move(comms.program);
  d.sync_comm = std::move(comms.sync);
  d.op_key.resize(static_cast<size_t>(g.size()));
  for (const MetaOp& m : mg.metaops)
    for (size_t l = 0; l < m.ops.size(); ++l) d.op_key[static_cast<size_t>(m.ops[l])] = {m.id, static_cast<int>(l)};
  // Buckets laid out flat; AdamW's moments: of the whole tensor, or under ZeRO-1 of this
  // device's shard only.
  for (const Instr& in : program.instrs)
    if (in.kind == InstrKind::kSyncStart) lay_out(d, make_bucket(d, in));
  for (auto& [name, p] : d.ws->params()) {
    const auto owned = owned_ranges(d, name, p);  // one range, or none
    const auto [first, last] = owned.empty() ? std::pair<std::int64_t, std::int64_t>{0, 0} : owned.front();
    p.moments_first = first;
    MemPartScope part(MemPart::kOptimizer);
    p.m = d.be->alloc({last - first});
    p.v = d.be->alloc({last - first});
  }
  // Each layer output's rows the program touches and the instruction that touches it (or its
  // gradient) last; each task's rows its data-reading operators run.
  std::map<std::pair<Key, bool>, size_t> last;
  for_each_touch(d, [&](size_t i, const Key& k, bool grads, std::int64_t first, std::int64_t end) {
    extend(d.span, k, first, end);
    last[{k, grads}] = i;
  });
  for (const auto& [buffer, i] : last) d.last_use[i].push_back(buffer);
  for (const Instr& in : program.instrs) {
    if (in.kind != InstrKind::kForward) continue;
    const MetaOp& m = mg.metaops[static_cast<size_t>(in.metaop)];
    for (int l = in.first_layer; l < in.last_layer; ++l) {
      const Operator& op = g.op(m.ops[static_cast<size_t>(l)]);
      if (op.kind == OpKind::kPatchEmbed || op.kind == OpKind::kTokenEmbed || op.kind == OpKind::kLmHead)
        extend(d.data_rows, op.task, std::int64_t{in.first_row}, std::int64_t{in.last_row});
    }
  }
  d.be->reset_peak();  // peaks count from the first iteration, not the set-up's copies
}

RankRunner::~RankRunner() = default;

void RankRunner::run(std::int64_t step, const std::vector<std::int64_t>& positions, double t0_s, bool keep_gradients,
                     const std::function<void()>& abort_all) {
  State& d = *st_;
  for (auto& [name, p] : d.ws->params()) d.be->zero(p.grad);
  d.act.clear();
  d.grad.clear();
  d.ctx.clear();
  d.shipped.clear();
  d.tp_reduced.clear();
  if (d.batches_at != positions) d.batches.clear();  // prefetched for another iteration
  d.batches_at.clear();
  d.contrastive_din.clear();
  d.loss.assign(d.s.tasks.size(), 0.0);
  d.counters = DeviceCounters{};
  d.timeline.clear();
  d.sync_span.clear();
  d.snapshot = GradientSnapshot{};
  d.released.clear();
  Interpreter(d, positions, step, keep_gradients).run(t0_s, abort_all);
}

void RankRunner::prefetch(const std::vector<std::int64_t>& positions) {
  State& d = *st_;
  d.batches.clear();
  for (const auto& [task, rows] : d.data_rows)
    d.batches.emplace(task, d.data->batch(task, positions.at(static_cast<size_t>(task)), rows.first, rows.second));
  d.batches_at = positions;
}

int RankRunner::id() const { return st_->id; }
const std::vector<double>& RankRunner::loss() const { return st_->loss; }
double RankRunner::grad_norm() const { return st_->grad_norm; }
const DeviceCounters& RankRunner::counters() const { return st_->counters; }
const std::vector<ExecutedInstr>& RankRunner::timeline() const { return st_->timeline; }
const std::map<int, std::pair<double, double>>& RankRunner::sync_spans() const { return st_->sync_span; }
std::vector<std::pair<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>>> RankRunner::counted_elements()
    const {
  std::vector<std::pair<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>>> out;
  for (const auto& [name, p] : st_->ws->params())
    if (auto r = counted_ranges(*st_, name, p); !r.empty()) out.emplace_back(name, std::move(r));
  return out;
}

Backend& RankRunner::backend() { return *st_->be; }
MemoryUse RankRunner::memory_use() const {
  MemoryUse m = st_->be->memory_use();
  // Communicators' own device memory (NCCL's buffers, held from creation on) counts as buffers.
  const std::size_t comm = st_->comm->resident_bytes() + st_->sync_comm->resident_bytes();
  const auto b = static_cast<size_t>(MemPart::kBuffers);
  m.in_use[b] += comm;
  m.peak[b] += comm;
  m.at_peak[b] += comm;
  m.peak_total += comm;
  return m;
}

const GradientSnapshot& RankRunner::gradients() const { return st_->snapshot; }
WeightStore& RankRunner::weights() { return *st_->ws; }
const WeightStore& RankRunner::weights() const { return *st_->ws; }

double wall_clock_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace spindle::engine
