// Collectives timed as nccl-tests times them, through the engine's communicator for the backend
// (MPI on CPU ranks, NCCL on GPUs): all-reduce, all-gather, reduce-scatter, broadcast and send/recv over
// every rank of an MPI launch at nccl-tests' sizes, each the mean over timed runs of the
// slowest rank's time after a barrier; the group's shape from the ranks' host names. Sizes as
// nccl-tests counts them (all-gather its output, reduce-scatter its input, send/recv one way).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/comm/mpi_comm.h"
#include "traces/profile.h"

namespace spindle::calibrate {

struct CollectiveOptions {
  std::int64_t max_bytes = std::int64_t{1} << 30;  // nccl-tests' 8 B - 1 GiB by default
  int warmup = 2, repeats = 5;
};

// Every rank calls it (collective); rank 0's result holds every row, the others' the same.
// `progress(done, total, what)` is called on rank 0 as sizes finish.
std::vector<CollectiveMeasurement> measure_collectives(
    engine::Backend& be, const engine::MpiSession& mpi, const CollectiveOptions& options,
    const std::function<void(int, int, const std::string&)>& progress);

// The sizes measured: 8 B doubling up to max_bytes, each rounded down to whole floats on every
// rank (as nccl-tests rounds its counts), those that leave a rank none dropped, duplicates once.
std::vector<std::int64_t> collective_sizes(std::int64_t max_bytes, int ranks);

}  // namespace spindle::calibrate
