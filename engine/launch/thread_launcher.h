// Runs a lowered plan's per-device programs as ranks (engine/runner/rank_runner.h) in one
// process: one thread per rank, communicators over shared memory (comm/thread_comm.h). Each
// iteration starts every rank, waits for all, and adds up the ranks' loss shares; any rank's
// failure aborts every communicator so that no rank waits forever, and the launcher then
// refuses further steps. One process per rank under MPI is mpi_launcher.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/launch/launcher.h"
#include "engine/launch/trace_window.h"
#include "engine/runner/rank_runner.h"
#include "planner/graph/graph.h"
#include "planner/graph/metagraph.h"
#include "planner/program/lowering.h"

namespace spindle::engine {

class ThreadWorld;

class ThreadLauncher final : public Launcher {
 public:
  // `scenario` is the model as trained (already scaled); `programs` were lowered from a plan of
  // it (checked again to complete). `backend`: a backend_registry.h name.
  ThreadLauncher(const Scenario& scenario, const Programs& programs, const std::string& backend,
                 const TrainOptions& options);
  ~ThreadLauncher() override;

  StepResult step() override;
  std::int64_t steps_done() const override { return step_; }
  int devices() const override { return static_cast<int>(ranks_.size()); }
  std::vector<DeviceCounters> counters() const override;
  std::vector<MemoryUse> memory() const override;
  std::string trace_json(const std::string& label) const override;
  std::pair<std::int64_t, int> traced_iteration() const override { return {traced_.median().step, traced_.size()}; }
  void save_checkpoint(const std::filesystem::path& dir) override;
  void load_checkpoint(const std::filesystem::path& dir) override;
  const Scenario& scenario() const { return s_; }
  const Graph& graph() const { return g_; }
  const MetaGraph& metagraph() const { return mg_; }
  const Programs& programs() const { return programs_; }
  // Of the last iteration.
  double iteration_s() const { return iteration_s_; }
  const RankRunner& rank(int device) const { return *ranks_.at(static_cast<size_t>(device)); }
  RankRunner& rank(int device) { return *ranks_.at(static_cast<size_t>(device)); }
  // Gradient snapshots are taken at the next steps when on.
  void keep_gradients(bool on) { keep_gradients_ = on; }
  // Parameters of the model (each weight counted once over the ranks).
  std::int64_t parameters() const override;

 private:
  Scenario s_;
  Graph g_;
  MetaGraph mg_;
  Programs programs_;
  TrainOptions opt_;
  std::unique_ptr<ThreadWorld> world_;
  std::unique_ptr<ThreadWorld> sync_world_;  // the sync threads' bucket collectives
  std::vector<std::unique_ptr<RankRunner>> ranks_;
  std::int64_t step_ = 0;
  std::vector<std::int64_t> position_;  // per task: next sample
  TraceWindow traced_;
  bool keep_gradients_ = false;
  std::atomic<bool> failed_ = false;  // a step failed: the communicators stay aborted
  double iteration_s_ = 0;
};

}  // namespace spindle::engine
