// Runs a lowered plan with one rank per process under MPI (mpirun, mpiexec, srun): this
// process runs the program of its MPI rank (engine/runner/rank_runner.h) with communicators
// made from the programs (comm/mpi_comm.h, comm/comm_groups.h). Every rank plans and lowers
// for itself; the constructor checks that all ranks hold the same programs. An iteration
// starts on every rank at a barrier's end, the common clock of the merged trace. Each iteration's
// loss shares are gathered and added in rank order on every rank, so every rank sees the same
// losses and makes the same decisions. A rank that fails writes its error and ends every rank
// (MPI_Abort), so no rank waits for it forever.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/comm/mpi_comm.h"
#include "engine/launch/launcher.h"
#include "engine/launch/trace_window.h"
#include "planner/graph/graph.h"
#include "planner/graph/metagraph.h"
#include "planner/program/lowering.h"

namespace spindle::engine {

class MpiLauncher final : public Launcher {
 public:
  // `programs` has one program per MPI rank (InternalError otherwise, or when the ranks'
  // programs differ); the rest as ThreadLauncher's.
  MpiLauncher(const MpiSession& mpi, const Scenario& scenario, const Programs& programs, const std::string& backend,
              const TrainOptions& options);
  ~MpiLauncher() override;

  StepResult step() override;
  std::int64_t steps_done() const override { return step_; }
  int devices() const override { return mpi_.size(); }
  std::int64_t parameters() const override;
  std::vector<DeviceCounters> counters() const override;
  std::vector<MemoryUse> memory() const override;
  std::string trace_json(const std::string& label) const override;
  std::pair<std::int64_t, int> traced_iteration() const override { return {traced_.median().step, traced_.size()}; }
  void save_checkpoint(const std::filesystem::path& dir) override;
  void load_checkpoint(const std::filesystem::path& dir) override;
  bool writes_outputs() const override { return mpi_.rank() == 0; }

 private:
  const MpiSession& mpi_;
  Scenario s_;
  Graph g_;
  MetaGraph mg_;
  Programs programs_;
  TrainOptions opt_;
  std::unique_ptr<RankRunner> rank_;
  std::int64_t step_ = 0;
  std::vector<std::int64_t> position_;  // per task: next sample
  TraceWindow traced_;
};

}  // namespace spindle::engine
