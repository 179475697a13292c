// One rank per process under MPI (see mpi_launcher.h).
#include "engine/launch/mpi_launcher.h"

#include <algorithm>
#include <exception>
#include <map>
#include <sstream>

#include "engine/backend_registry.h"
#include "engine/comm/comm_groups.h"
#include "engine/launch/execution_trace.h"
#include "engine/model/sharded_checkpoint.h"
#include "engine/model/tp_shards.h"
#include "planner/graph/graph_builder.h"
#include "traces/errors.h"

namespace spindle::engine {
namespace {

// FNV-1a of every device's program text: equal on every rank that lowered the same plan.
std::int64_t programs_hash(const Programs& p, const Scenario& s, const MetaGraph& mg) {
  std::uint64_t h = 1469598103934665603ull;
  for (const DeviceProgram& d : p.devices)
    for (unsigned char ch : program_text(d, s, mg)) h = (h ^ ch) * 1099511628211ull;
  return static_cast<std::int64_t>(h);
}

}  // namespace

MpiLauncher::MpiLauncher(const MpiSession& mpi, const Scenario& scenario, const Programs& programs,
                         const std::string& backend, const TrainOptions& options)
    : mpi_(mpi), s_(scenario), g_(build_graph(s_)), mg_(contract(g_)), programs_(programs), opt_(options),
      position_(s_.tasks.size(), 0) {
  const std::string problem = replay(programs_);
  if (!problem.empty()) throw InternalError("the programs do not complete: " + problem);
  if (static_cast<int>(programs_.devices.size()) != mpi_.size())
    throw InternalError("the plan has " + std::to_string(programs_.devices.size()) + " device programs for " +
                        std::to_string(mpi_.size()) + " MPI ranks");
  const std::vector<std::int64_t> hashes = mpi_.all_gather(std::vector<std::int64_t>{programs_hash(programs_, s_, mg_)});
  for (size_t r = 1; r < hashes.size(); ++r)
    if (hashes[r] != hashes[0])
      throw InternalError("MPI rank " + std::to_string(r) + " lowered other programs than rank 0 (the ranks must "
                          "plan the same scenario, flags and plan file)");
  const DeviceProgram& p = programs_.devices[static_cast<size_t>(mpi_.rank())];
  if (p.device != mpi_.rank())
    throw InternalError("program " + std::to_string(mpi_.rank()) + " is for device " + std::to_string(p.device));
  const std::vector<std::vector<int>> groups = comm_groups(programs_), buckets = sync_groups(programs_);
  const std::vector<P2pLink> links = p2p_links(programs_);
  auto make_comm = [this, &groups, &buckets, &links](Backend& be) {
    ProcessComms c = process_communicators(be, mpi_, groups, buckets, links);
    return RankRunner::Comms{std::move(c.program), std::move(c.sync)};
  };
  rank_ = std::make_unique<RankRunner>(s_, g_, mg_, p, mpi_.size(), backend, opt_, make_comm);
}

MpiLauncher::~MpiLauncher() = default;

StepResult MpiLauncher::step() {
  ++step_;
  auto abort_all = [this] {
    std::string what = "an unknown failure";
    if (const std::exception_ptr e = std::current_exception()) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        what = x.what();
      } catch (...) {
      }
    }
    mpi_.abort("spindle-run: MPI rank " + std::to_string(mpi_.rank()) + " of " + std::to_string(mpi_.size()) +
                   " failed in iteration " + std::to_string(step_) + ": " + what + "; ending every rank",
               1);
  };
  rank_->prefetch(position_);  // the data loader's batch, ready before the clock starts
  mpi_.barrier();  // the iteration's common start (the trace's clock)
  const double t0 = wall_clock_s();
  rank_->run(step_, position_, t0, false, abort_all);
  const double iteration_s = wall_clock_s() - t0;  // this rank's, from the common start to its end
  const size_t tasks = s_.tasks.size();
  std::vector<double> mine = rank_->loss();  // and the iteration's time on this rank, last
  mine.push_back(iteration_s);
  const std::vector<double> all = mpi_.all_gather(mine);
  double slowest = 0;
  for (int q = 0; q < mpi_.size(); ++q) slowest = std::max(slowest, all[static_cast<size_t>(q) * (tasks + 1) + tasks]);
  traced_.add({step_, slowest, {timeline_of(*rank_)}});
  StepResult r;
  r.step = step_;
  for (size_t t = 0; t < tasks; ++t) {
    double loss = 0;
    for (int q = 0; q < mpi_.size(); ++q) loss += all[static_cast<size_t>(q) * (tasks + 1) + t];
    r.task_loss.push_back(static_cast<float>(loss));
    r.loss += static_cast<float>(loss);
    position_[t] += s_.tasks[t].batch;
  }
  r.grad_norm = rank_->grad_norm();
  return r;
}

std::int64_t MpiLauncher::parameters() const {
  std::ostringstream mine;
  for (const auto& [name, p] : rank_->weights().params())
    if (!parse_sharded(name).extra_copy()) mine << name << ' ' << p.value.numel() << '\n';
  std::map<std::string, std::int64_t> all;  // replicated copies count once, TP shards add up
  for (const std::string& text : mpi_.all_gather(mine.str())) {
    std::istringstream in(text);
    std::string name;
    std::int64_t n = 0;
    while (in >> name >> n) all[name] = n;
  }
  std::int64_t total = 0;
  for (const auto& [name, n] : all) total += n;
  return total;
}

std::string MpiLauncher::trace_json(const std::string& label) const {
  const TracedIteration& it = traced_.median();  // the same step on every rank
  const std::vector<std::string> parts = mpi_.all_gather(timeline_text(it.timelines.at(0)));
  if (mpi_.rank() != 0) return "";
  std::vector<RankTimeline> timelines;
  for (const std::string& p : parts) timelines.push_back(parse_timeline(p));
  return execution_trace_json(s_, mg_, programs_, timelines, it.iteration_s, label);
}

void MpiLauncher::save_checkpoint(const std::filesystem::path& dir) {
  if (mpi_.rank() == 0) std::filesystem::create_directories(dir);
  mpi_.barrier();  // the directory exists for every rank (one file system, or one path on each node's)
  const TrainingState st = training_state(s_, opt_, step_, position_);
  const std::string mine = write_rank_shard(dir, mpi_.rank(), mpi_.size(), st, rank_->backend(), rank_->weights(),
                                            rank_->counted_elements());
  const std::vector<std::string> files = mpi_.all_gather(mine);  // every rank's file is in place
  if (mpi_.rank() == 0) write_manifest(dir, st, files);
  mpi_.barrier();
}

void MpiLauncher::load_checkpoint(const std::filesystem::path& dir) {
  const ShardedCheckpoint ck(dir, training_state(s_, opt_, step_, position_));
  ck.load_into(rank_->backend(), rank_->weights());
  step_ = ck.state().step;
  position_ = task_positions(s_, ck.state());
}

std::vector<DeviceCounters> MpiLauncher::counters() const {
  const DeviceCounters& c = rank_->counters();
  const std::vector<std::int64_t> all = mpi_.all_gather(std::vector<std::int64_t>{
      c.forward_rows, c.backward_rows, c.sent_bytes, c.sends, c.recvs, c.recv_bytes, c.gathered_bytes, c.tp_reduce_bytes});
  std::vector<DeviceCounters> out;
  for (size_t i = 0; i + 8 <= all.size(); i += 8)
    out.push_back({all[i], all[i + 1], all[i + 2], all[i + 3], all[i + 4], all[i + 5], all[i + 6], all[i + 7]});
  return out;
}

std::vector<MemoryUse> MpiLauncher::memory() const {
  const MemoryUse m = rank_->memory_use();
  std::vector<std::int64_t> mine;
  for (const auto* part : {&m.in_use, &m.peak, &m.at_peak})
    for (std::size_t b : *part) mine.push_back(static_cast<std::int64_t>(b));
  mine.push_back(static_cast<std::int64_t>(m.peak_total));
  const std::vector<std::int64_t> all = mpi_.all_gather(mine);
  std::vector<MemoryUse> out;
  for (size_t i = 0; i + mine.size() <= all.size(); i += mine.size()) {
    MemoryUse u;
    size_t k = i;
    for (auto* part : {&u.in_use, &u.peak, &u.at_peak})
      for (std::size_t& b : *part) b = static_cast<std::size_t>(all[k++]);
    u.peak_total = static_cast<std::size_t>(all[k]);
    out.push_back(u);
  }
  return out;
}

}  // namespace spindle::engine
