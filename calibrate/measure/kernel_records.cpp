// Activity records grouped per timed run (see kernel_records.h).
#include "calibrate/measure/kernel_records.h"

#include <algorithm>

#include "traces/errors.h"

namespace spindle::calibrate {

void KernelRecords::append(KernelRecords&& more) {
  kernels.insert(kernels.end(), std::make_move_iterator(more.kernels.begin()),
                 std::make_move_iterator(more.kernels.end()));
  run_of_call.merge(more.run_of_call);
  dropped += more.dropped;
}

RunsKernels kernels_by_run(const KernelRecords& r) {
  RunsKernels out;
  std::map<std::uint64_t, std::vector<const KernelRecord*>> of_run;
  for (const KernelRecord& k : r.kernels) {
    if (k.start_ns == 0 || k.end_ns == 0) {
      ++out.incomplete;
      continue;
    }
    if (k.end_ns < k.start_ns)
      throw InternalError("activity record '" + k.name + "' (correlation " + std::to_string(k.correlation_id) +
                          ") ends at " + std::to_string(k.end_ns) + " ns, before its start at " +
                          std::to_string(k.start_ns) + " ns");
    const auto it = r.run_of_call.find(k.correlation_id);
    if (it == r.run_of_call.end()) ++out.unattributed;
    else of_run[it->second].push_back(&k);
  }
  for (auto& [run, ks] : of_run) {
    std::sort(ks.begin(), ks.end(), [](const KernelRecord* a, const KernelRecord* b) {
      return a->start_ns != b->start_ns ? a->start_ns < b->start_ns : a->end_ns < b->end_ns;
    });
    RunKernels& rk = out.runs[run];
    rk.kernels = static_cast<int>(ks.size());
    std::uint64_t busy = 0, sum = 0, covered_to = ks.front()->start_ns, last_end = 0;
    for (const KernelRecord* k : ks) {
      const std::uint64_t d = k->end_ns - k->start_ns;
      sum += d;
      // Sorted by start: the part of [start, end) past everything before it is new busy time.
      const std::uint64_t from = std::max(k->start_ns, covered_to);
      if (k->end_ns > from) busy += k->end_ns - from;
      covered_to = std::max(covered_to, k->end_ns);
      last_end = std::max(last_end, k->end_ns);
      auto& [count, ms] = rk.by_name[k->name];
      ++count;
      ms += static_cast<double>(d) * 1e-6;
    }
    rk.busy_ms = static_cast<double>(busy) * 1e-6;
    rk.sum_ms = static_cast<double>(sum) * 1e-6;
    rk.span_ms = static_cast<double>(last_end - ks.front()->start_ns) * 1e-6;
  }
  return out;
}

KernelSummary mean_over_runs(const RunsKernels& all, const std::vector<std::uint64_t>& runs) {
  KernelSummary s;
  s.runs = static_cast<int>(runs.size());
  if (runs.empty()) return s;
  for (std::uint64_t run : runs) {
    const auto it = all.runs.find(run);
    if (it == all.runs.end()) continue;
    const RunKernels& rk = it->second;
    s.kernels += rk.kernels;
    s.busy_ms += rk.busy_ms;
    for (const auto& [name, v] : rk.by_name) {
      auto& [count, ms] = s.by_name[name];
      count += v.first;
      ms += v.second;
    }
  }
  const double n = static_cast<double>(runs.size());
  s.kernels /= n, s.busy_ms /= n;
  for (auto& [name, v] : s.by_name) v.first /= n, v.second /= n;
  return s;
}

void store_kernels(const KernelSummary& s, const std::string& pass, double per_run, OpMeasurement& m) {
  if (pass != "fwd" && pass != "bwd") throw InternalError("kernel records of pass '" + pass + "'");
  if (!(per_run > 0)) throw InternalError("kernel records divided by " + std::to_string(per_run));
  (pass == "fwd" ? m.fwd_kernel_ms : m.bwd_kernel_ms) = s.busy_ms / per_run;
  (pass == "fwd" ? m.fwd_kernels : m.bwd_kernels) = s.kernels / per_run;
  std::map<std::string, std::pair<double, double>> cut;
  for (const auto& [name, v] : s.by_name) {
    auto& [calls, ms] = cut[name.substr(0, kMaxKernelNameBytes)];
    calls += v.first / per_run;
    ms += v.second / per_run;
  }
  std::erase_if(m.kernels, [&](const KernelShare& k) { return k.pass == pass; });
  for (const auto& [name, v] : cut) m.kernels.push_back({pass, name, v.first, v.second});
  std::sort(m.kernels.begin(), m.kernels.end());
}

}  // namespace spindle::calibrate
