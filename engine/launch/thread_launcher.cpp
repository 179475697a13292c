// Ranks as threads of one process (see thread_launcher.h).
#include "engine/launch/thread_launcher.h"

#include <exception>
#include <set>
#include <thread>

#include "engine/comm/host_staged_comm.h"
#include "engine/comm/thread_comm.h"
#include "engine/launch/execution_trace.h"
#include "engine/model/sharded_checkpoint.h"
#include "engine/model/tp_shards.h"
#include "planner/graph/graph_builder.h"
#include "traces/errors.h"

namespace spindle::engine {

ThreadLauncher::ThreadLauncher(const Scenario& scenario, const Programs& programs, const std::string& backend,
                               const TrainOptions& options)
    : s_(scenario), g_(build_graph(s_)), mg_(contract(g_)), programs_(programs), opt_(options),
      position_(s_.tasks.size(), 0) {
  const std::string problem = replay(programs_);
  if (!problem.empty()) throw InternalError("the programs do not complete: " + problem);
  const int world = static_cast<int>(programs_.devices.size());
  world_ = std::make_unique<ThreadWorld>(world);
  sync_world_ = std::make_unique<ThreadWorld>(world);
  for (int i = 0; i < world; ++i) {
    const DeviceProgram& p = programs_.devices[static_cast<size_t>(i)];
    if (p.device != i) throw InternalError("program " + std::to_string(i) + " is for device " + std::to_string(p.device));
    // Device memory (several logical devices on one GPU) crosses through host copies.
    auto make_comm = [this, i](Backend& be) {
      return RankRunner::Comms{on_backend(world_->communicator(i), be), on_backend(sync_world_->communicator(i), be)};
    };
    ranks_.push_back(std::make_unique<RankRunner>(s_, g_, mg_, p, world, backend, opt_, make_comm));
  }
}

ThreadLauncher::~ThreadLauncher() = default;

std::int64_t ThreadLauncher::parameters() const {
  std::set<std::string> seen;
  std::int64_t n = 0;
  for (const auto& r : ranks_)
    for (const auto& [name, p] : r->weights().params())  // TP shards add up; replicated copies count once
      if (!parse_sharded(name).extra_copy() && seen.insert(name).second) n += p.value.numel();
  return n;
}

std::string ThreadLauncher::trace_json(const std::string& label) const {
  const TracedIteration& it = traced_.median();
  return execution_trace_json(s_, mg_, programs_, it.timelines, it.iteration_s, label);
}

void ThreadLauncher::save_checkpoint(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const TrainingState st = training_state(s_, opt_, step_, position_);
  std::vector<std::string> files;
  for (size_t r = 0; r < ranks_.size(); ++r)
    files.push_back(write_rank_shard(dir, static_cast<int>(r), static_cast<int>(ranks_.size()), st, ranks_[r]->backend(), ranks_[r]->weights(),
                                     ranks_[r]->counted_elements()));
  write_manifest(dir, st, files);
}

void ThreadLauncher::load_checkpoint(const std::filesystem::path& dir) {
  const ShardedCheckpoint ck(dir, training_state(s_, opt_, step_, position_));
  for (auto& r : ranks_) ck.load_into(r->backend(), r->weights());
  step_ = ck.state().step;
  position_ = task_positions(s_, ck.state());
}

std::vector<MemoryUse> ThreadLauncher::memory() const {
  std::vector<MemoryUse> out;
  for (const auto& r : ranks_) out.push_back(r->memory_use());
  return out;
}

std::vector<DeviceCounters> ThreadLauncher::counters() const {
  std::vector<DeviceCounters> out;
  for (const auto& r : ranks_) out.push_back(r->counters());
  return out;
}

StepResult ThreadLauncher::step() {
  if (failed_) throw InternalError("executor: a previous step failed; its communicators are aborted");
  ++step_;
  std::vector<std::exception_ptr> errors(ranks_.size());
  std::atomic<bool> aborted = false;
  for (auto& r : ranks_) r->prefetch(position_);  // the data loaders' batches, ready before the clock starts
  const double t0 = wall_clock_s();
  auto abort_all = [this] {
    failed_ = true;
    world_->abort();
    sync_world_->abort();
  };
  {
    std::vector<std::jthread> threads;
    try {
      for (size_t i = 0; i < ranks_.size(); ++i)
        threads.emplace_back([&, i] {
          try {
            ranks_[i]->run(step_, position_, t0, keep_gradients_, abort_all);
          } catch (const CommAborted&) {
            aborted = true;  // another rank failed first
          } catch (...) {
            errors[i] = std::current_exception();
            abort_all();  // wherever it failed, no other rank waits for it forever
          }
        });
    } catch (...) {  // a thread that could not start: release the started ones before joining them
      abort_all();
      throw;
    }
  }
  iteration_s_ = wall_clock_s() - t0;
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  if (aborted) throw InternalError("a device's communication was aborted without a failure");
  TracedIteration traced{step_, iteration_s_, {}};
  for (const auto& rank : ranks_) traced.timelines.push_back(timeline_of(*rank));
  traced_.add(std::move(traced));
  StepResult r;
  r.step = step_;
  for (size_t t = 0; t < s_.tasks.size(); ++t) {
    double loss = 0;
    for (const auto& rank : ranks_) loss += rank->loss()[t];
    r.task_loss.push_back(static_cast<float>(loss));
    r.loss += static_cast<float>(loss);
    position_[t] += s_.tasks[t].batch;
  }
  r.grad_norm = ranks_.empty() ? 0 : ranks_.front()->grad_norm();
  return r;
}

}  // namespace spindle::engine
