// Ranks that are processes under MPI (mpirun, mpiexec, srun): the session (MPI_Init_thread with
// MPI_THREAD_MULTIPLE, as a rank's weight-sync thread runs collectives while its program goes
// on) and communicators over host memory. A communicator is made from the member sets the
// programs use (comm_groups.h): one MPI communicator per set, split off a duplicate of
// MPI_COMM_WORLD once at start by every rank in the same order (splitting is collective), rank
// order = group order. The program's thread and the sync thread each get their own, so two
// threads never share an MPI communicator. A send copies the data out and posts MPI_Isend
// (completed later), so it never waits for its receiver, the executor's contract; sums are
// MPI's, taken in its algorithm's order (bitwise the same run to run with the same ranks).
// <mpi.h> stays in mpi_comm.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/comm/communicator.h"

namespace spindle::engine {

// True when an MPI launcher started this process (Open MPI's mpirun, a PMI or PMIx launcher
// such as MPICH's mpiexec or srun --mpi=pmix), read from the environment.
bool launched_by_mpi();

class MpiSession {
 public:
  // MPI_Init_thread; throws Error when the library does not provide MPI_THREAD_MULTIPLE.
  MpiSession();
  ~MpiSession();  // MPI_Finalize
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Whether a receiver moves a large message by itself, without its sender inside MPI (every
  // rank on one node, Open MPI's shared memory with a single-copy mechanism), found once at
  // start: then a rank's sends need no progress thread.
  bool receivers_pull() const { return receivers_pull_; }
  // Over every rank, in rank order, on every rank (all must call): each rank's values (the
  // same count everywhere) and each rank's text.
  std::vector<double> all_gather(const std::vector<double>& mine) const;
  std::vector<std::int64_t> all_gather(const std::vector<std::int64_t>& mine) const;
  std::vector<std::string> all_gather(const std::string& mine) const;
  void barrier() const;  // MPI_Barrier over every rank
  // Ends every rank (MPI_Abort) after writing `message` to stderr: a rank's failure must not
  // leave the others waiting for it forever.
  [[noreturn]] void abort(const std::string& message, int exit_code) const;

 private:
  int rank_ = 0, size_ = 1;
  bool receivers_pull_ = false;
};

// A communicator for this rank over `groups` (device ids = MPI ranks; each set ascending; the
// same list in the same order on every rank; all ranks must call). Throws InternalError when a
// call later names a group not in the list.
std::unique_ptr<Communicator> mpi_communicator(const MpiSession& session, const std::vector<std::vector<int>>& groups);

}  // namespace spindle::engine
