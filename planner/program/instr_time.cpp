// Cost-model time of every compute instruction (see instr_time.h).
#include "planner/program/instr_time.h"

#include <algorithm>

#include "traces/errors.h"

namespace spindle {
namespace {

// The step or the gradient norm, a multi-tensor kernel over the device's weight tensors.
// Measured: tensors x one tensor's share at their mean size; analytic: the traffic at HBM speed
// and a launch per list of tensors.
double optimizer_seconds(const Instr& in, const GpuSpec& gpu, double hbm_Bps, const CostModel& cost) {
  if (in.params <= 0 || in.tensors <= 0) return 0;
  const bool step = in.kind == InstrKind::kStep;
  if (const BatchCurve* curve = cost.optimizer_curve()) {
    const BatchCurve::Value v = curve->at(std::max<std::int64_t>(1, in.params / in.tensors));
    return in.tensors * (step ? v.fwd_ms : v.bwd_ms) * 1e-3;
  }
  const double bytes = step ? static_cast<double>(in.bytes) : static_cast<double>(in.params) * kGradNormBytesPerParam;
  const int per_launch = step ? kStepTensorsPerLaunch : kNormTensorsPerLaunch;
  const int launches = (in.tensors + per_launch - 1) / per_launch;
  return bytes / hbm_Bps + launches * gpu.launch_overhead_us * 1e-6;
}

}  // namespace

std::vector<std::vector<double>> compute_seconds(const Programs& programs, const Scenario& s, const MetaGraph& mg,
                                                 const CostModel& cost) {
  const GpuSpec& gpu = s.cluster.gpu;
  const double hbm_Bps = gpu.hbm_bw_GBps * 1e9 * gpu.hbm_efficiency;
  std::vector<std::vector<double>> out;
  for (const DeviceProgram& p : programs.devices) {
    std::vector<double> secs;
    for (const Instr& in : p.instrs) {
      double t = 0;
      if (in.kind == InstrKind::kForward || in.kind == InstrKind::kBackward) {
        const MetaOp& m = mg.metaops.at(static_cast<size_t>(in.metaop));
        const std::int64_t rows = in.last_row - in.first_row;
        if (rows <= 0 || m.shape.batch % rows != 0)
          throw InternalError("device " + std::to_string(p.device) + ": metaop " + std::to_string(m.id) + " rows [" +
                              std::to_string(in.first_row) + "," + std::to_string(in.last_row) + ") do not split its batch");
        // A TP slice's ranks each hold the same rows: n = dp x tp.
        const int tp = std::max<int>(1, static_cast<int>(in.group.size()));
        const int n = static_cast<int>(m.shape.batch / rows) * tp;
        const CurvePoint* point = cost.point(m.id, n, tp);  // whatever layout the plan has
        if (point == nullptr)
          throw InternalError("metaop " + std::to_string(m.id) + " has no cost sample at n = " + std::to_string(n) +
                              " with tp = " + std::to_string(tp));
        t = (in.last_layer - in.first_layer) * (in.kind == InstrKind::kForward ? point->fwd_s : point->bwd_s);
      } else if (in.kind == InstrKind::kCopy) {
        t = 2.0 * static_cast<double>(in.bytes) / hbm_Bps;
      } else if (in.kind == InstrKind::kStep || in.kind == InstrKind::kGradNorm) {
        t = optimizer_seconds(in, gpu, hbm_Bps, cost);
      }
      secs.push_back(t * s.cluster.gpu_factor(p.device));  // a straggler left in place (faults.h)
    }
    out.push_back(std::move(secs));
  }
  return out;
}

}  // namespace spindle
