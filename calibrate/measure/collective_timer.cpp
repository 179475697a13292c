// Collectives timed over every rank (see collective_timer.h).
#include "calibrate/measure/collective_timer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "engine/backend_registry.h"
#include "engine/comm/comm_groups.h"
#include "traces/errors.h"

namespace spindle::calibrate {
namespace {

using engine::Tensor;

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Ranks, nodes and ranks on the fullest node, from the ranks' host names.
struct Shape {
  int ranks = 0, nodes = 0, per_node = 0;
};
Shape group_shape(const engine::MpiSession& mpi) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) throw IoError("gethostname failed: the ranks' nodes are unknown");
  std::map<std::string, int> on;
  for (const std::string& h : mpi.all_gather(std::string(host))) ++on[h];
  Shape s{mpi.size(), static_cast<int>(on.size()), 0};
  for (const auto& [h, n] : on) s.per_node = std::max(s.per_node, n);
  return s;
}

}  // namespace

std::vector<std::int64_t> collective_sizes(std::int64_t max_bytes, int ranks) {
  std::vector<std::int64_t> sizes;
  const std::int64_t unit = 4 * std::int64_t{ranks};  // a float on every rank
  for (std::int64_t b = 8; b <= max_bytes; b *= 2) {
    const std::int64_t rounded = b / unit * unit;
    if (rounded > 0 && (sizes.empty() || sizes.back() != rounded)) sizes.push_back(rounded);
  }
  return sizes;
}

std::vector<CollectiveMeasurement> measure_collectives(
    engine::Backend& be, const engine::MpiSession& mpi, const CollectiveOptions& options,
    const std::function<void(int, int, const std::string&)>& progress) {
  const int n = mpi.size(), me = mpi.rank();
  if (n < 2)
    throw InputError("--collectives: 1 rank; allowed: 2 or more under mpirun or srun (one rank moves nothing, and "
                     "nothing is stored in its place)");
  const Shape shape = group_shape(mpi);
  std::vector<int> everyone(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) everyone[static_cast<size_t>(r)] = r;
  std::vector<engine::P2pLink> ring;  // each rank sends to the next one, on channel 0
  for (int r = 0; r < n; ++r) ring.push_back({r, (r + 1) % n, 0});
  std::sort(ring.begin(), ring.end());
  const engine::ProcessComms comms = engine::process_communicators(be, mpi, {everyone}, {}, ring);
  engine::Communicator& comm = *comms.program;

  const std::vector<std::int64_t> sizes = collective_sizes(options.max_bytes, n);
  const std::vector<std::string> kinds = {"all_reduce", "all_gather", "reduce_scatter", "broadcast", "send_recv"};
  std::vector<CollectiveMeasurement> rows;
  int done = 0;
  const int total = static_cast<int>(sizes.size() * kinds.size());
  for (const std::string& kind : kinds)
    for (std::int64_t bytes : sizes) {
      if (me == 0 && progress) progress(done, total, kind + " " + std::to_string(bytes) + " B");
      const std::int64_t elems = bytes / 4, per_rank = elems / n;
      // Buffers as the kind moves them (fp32): all-reduce and broadcast (from rank 0) in place;
      // all-gather per-rank in, whole out; reduce-scatter whole in, per-rank out; send/recv one
      // buffer each way.
      Tensor a = be.alloc({kind == "all_gather" ? per_rank : elems}, engine::DType::kF32);
      Tensor b = kind == "all_reduce" || kind == "broadcast" ? Tensor()
                                      : be.alloc({kind == "all_gather" ? elems : kind == "reduce_scatter" ? per_rank : elems},
                                                 engine::DType::kF32);
      be.zero(a);  // touched before timing (no page faults in the first run)
      if (!b.empty()) be.zero(b);
      const int tag = static_cast<int>(rows.size());
      auto once = [&] {
        if (kind == "all_reduce") comm.all_reduce(everyone, a);
        else if (kind == "all_gather") comm.all_gather(everyone, a, b);
        else if (kind == "reduce_scatter") comm.reduce_scatter(everyone, a, b);
        else if (kind == "broadcast") comm.broadcast(everyone, 0, a);
        else {
          comm.send((me + 1) % n, tag, 0, a);
          comm.recv((me + n - 1) % n, tag, 0, b);
        }
        be.synchronize();
      };
      if (kind == "broadcast" && elems > 0) {  // checked once, as nccl-tests -c does: every rank gets rank 0's data
        be.upload(a, std::vector<float>(static_cast<size_t>(elems), me == 0 ? 1.0f : 0.0f));
        mpi.barrier();
        once();
        std::vector<float> got(static_cast<size_t>(elems));
        be.download(a, got);
        if (std::any_of(got.begin(), got.end(), [](float v) { return v != 1.0f; }))
          throw InternalError("broadcast of " + std::to_string(bytes) + " B from rank 0: rank " + std::to_string(me) +
                              " got other data");
      }
      for (int w = 0; w < options.warmup; ++w) {
        mpi.barrier();
        once();
      }
      std::vector<double> times;
      for (int r = 0; r < options.repeats; ++r) {
        mpi.barrier();
        const double t0 = now_s();
        once();
        const double mine = now_s() - t0;
        const std::vector<double> all = mpi.all_gather(std::vector<double>{mine});
        times.push_back(*std::max_element(all.begin(), all.end()));  // the slowest rank's
      }
      double mean = 0, var = 0;
      for (double t : times) mean += t;
      mean /= static_cast<double>(times.size());
      for (double t : times) var += (t - mean) * (t - mean);
      const double spread = times.size() > 1 ? std::sqrt(var / static_cast<double>(times.size() - 1)) : 0;
      rows.push_back({kind, "", shape.ranks, shape.nodes, shape.per_node, bytes, mean * 1e3,
                      static_cast<std::int32_t>(times.size()), spread * 1e3});
      ++done;
    }
  comm.check();
  if (me == 0 && progress) progress(done, total, "");
  return rows;
}

}  // namespace spindle::calibrate
