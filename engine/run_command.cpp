// spindle-run's work behind its flags (see run_command.h).
#include "engine/run_command.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "engine/backend_registry.h"
#include "engine/comm/mpi_comm.h"
#include "engine/launch/logical_devices.h"
#include "engine/launch/mpi_launcher.h"
#include "engine/launch/thread_launcher.h"
#include "planner/config/model_scale.h"
#include "engine/model/sharded_checkpoint.h"
#include "engine/train/trainer.h"
#include "planner/pipeline.h"
#include "planner/program/program_memory.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"
#include "traces/main_guard.h"

namespace spindle::engine {
namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// Discards what it is given: the output of ranks other than 0 under MPI.
struct NullBuffer : std::streambuf {
  int overflow(int ch) override { return ch; }
};

// --memory-report: per device the planner's estimate for the engine's storage
// (program_memory.h) and the allocator's peak, by part, in MB.
std::string memory_report(const std::vector<MemoryBreakdown>& estimates, const std::vector<MemoryUse>& measured) {
  std::string t = "\nmemory per device, MB: the planner's estimate for the run's storage and unfused kernels (each device's\n"
                  "program walked in order) and the allocator's peak from the first iteration on, by part at that peak\n"
                  "device             weights     grads  optimizer  activations   buffers     total   measured/estimate\n";
  for (size_t d = 0; d < measured.size() && d < estimates.size(); ++d) {
    const MemoryBreakdown& e = estimates[d];
    const MemoryUse& m = measured[d];
    auto part = [&](MemPart p) { return static_cast<double>(m.at_peak[static_cast<size_t>(p)]) / 1e6; };
    const double est = e.total() / 1e6, got = static_cast<double>(m.peak_total) / 1e6;
    char line[256];
    std::snprintf(line, sizeof line, "%-3zu estimate %12.3f %9.3f %10.3f %12.3f %9s %9.3f\n", d, e.weights / 1e6,
                  (e.grads + e.accumulation) / 1e6, e.optimizer / 1e6, e.activations / 1e6, "-", est);
    t += line;
    std::snprintf(line, sizeof line, "    measured %12.3f %9.3f %10.3f %12.3f %9.3f %9.3f   %+.1f%%\n",
                  part(MemPart::kWeights), part(MemPart::kGrads), part(MemPart::kOptimizer),
                  part(MemPart::kActivations), part(MemPart::kBuffers), got, est > 0 ? 100 * (got / est - 1) : 0.0);
    t += line;
  }
  return t;
}

// The run itself, on `mpi`'s rank under MPI (else null).
int run(RunCommand c, const MpiSession* mpi);

}  // namespace

int run_command(const RunCommand& c) {
  if (c.devices < 1) throw InputError("--devices " + std::to_string(c.devices) + ": allowed: 1 or more");
  // Under an MPI launcher with more than one rank: one rank (device) per process. A failure on
  // any rank, in an iteration or not, ends every rank with its message (MPI_Abort), so that no
  // rank waits for it forever in a collective or in MPI_Finalize.
  if (launched_by_mpi()) {
    MpiSession mpi;
    if (mpi.size() > 1) {
      try {
        return run(c, &mpi);
      } catch (const InputError& e) {
        mpi.abort(e.what(), kExitBadInput);
      } catch (const std::exception& e) {
        mpi.abort("spindle-run: MPI rank " + std::to_string(mpi.rank()) + " of " + std::to_string(mpi.size()) +
                      " failed: " + e.what() + "; ending every rank",
                  kExitFailure);
      }
    }
  }
  return run(c, nullptr);
}

namespace {

int run(RunCommand c, const MpiSession* mpi) {
  if (mpi) {
    if (c.devices_set && c.devices != mpi->size())
      throw InputError("--devices " + std::to_string(c.devices) + ": started by MPI with " + std::to_string(mpi->size()) +
                       " ranks; allowed: " + std::to_string(mpi->size()) + " or leave it out (one device per rank)");
    c.devices = mpi->size();
  }
  NullBuffer null_buffer;
  std::ostream null_out(&null_buffer);
  std::ostream& out = mpi && mpi->rank() != 0 ? null_out : std::cout;
  const bool distributed = c.devices > 1 || c.system_set || !c.plan_file.empty();
  if (!distributed && (!c.trace.empty() || !c.save_plan.empty() || c.memory_report))
    throw InputError(std::string(!c.trace.empty() ? "--trace" : !c.save_plan.empty() ? "--save-plan" : "--memory-report") +
                     ": only for a plan's execution; allowed: with --devices N, --system or --plan");
  if (c.steps < 0) throw InputError("--steps " + std::to_string(c.steps) + ": allowed: >= 0");
  if (c.checkpoint_every < 0) throw InputError("--checkpoint-every: allowed: >= 0");
  if (c.log_every < 0) throw InputError("--log-every: allowed: >= 0");
  if (!(c.lr > 0) || !std::isfinite(c.lr)) throw InputError("--lr " + std::to_string(c.lr) + ": allowed: a positive number");
  if (c.resume && c.checkpoint_dir.empty()) throw InputError("--resume: needs --checkpoint DIR to resume from");
  const ScaleFactors factors = find_scale(c.scale);
  std::unique_ptr<Backend> be = make_backend(c.backend);
  LoadOptions lo;
  lo.overrides = c.sets;
  const Scenario full = load_scenario(c.scenario_file, lo);
  if (full.faults.any())  // what-ifs of a simulated cluster; a real run has the devices it has
    throw InputError(c.scenario_file + ": [faults] (" + full.faults.describe(full.cluster.gpus_per_node) +
                     ") is for spindle-sim's what-ifs; allowed: spindle-run on a scenario without [faults]");
  TrainOptions opt;
  opt.seed = c.seed >= 0 ? static_cast<std::uint64_t>(c.seed) : full.seed;
  opt.scale = factors.name;
  opt.adam.lr = c.lr;
  if (c.dtype != "fp32" && c.dtype != "bf16") throw InputError("--dtype " + c.dtype + ": allowed: fp32, bf16");
  opt.activation_dtype = c.dtype == "bf16" ? DType::kBF16 : DType::kF32;
  std::unique_ptr<Trainer> trainer;
  std::unique_ptr<Launcher> executor;
  Scenario scaled = scale_scenario(full, factors);
  std::string plan_name;
  std::vector<MemoryBreakdown> estimates;  // per device, for --memory-report
  if (distributed) {
    scaled = on_devices(scaled, c.devices);
    const ScenarioModel model(scaled);
    LoweredPlan rp = lowered_plan(model, c.system, c.plan_file);
    plan_name = c.plan_file.empty() ? rp.plan.system : c.plan_file;
    // Tensor parallelism in the plan: the layout, and how many slices run on TP groups.
    std::string layout;
    for (const auto& [component, tp] : rp.plan.tp)
      if (tp > 1) layout += (layout.empty() ? "" : " ") + component + "=" + std::to_string(tp);
    if (!layout.empty()) {
      int groups = 0, slices = 0;
      for (const Wave& w : rp.plan.waves)
        for (const Slice& sl : w.slices) {
          ++slices;
          groups += sl.tp > 1;
        }
      plan_name += " (tensor parallel " + layout + "; " + std::to_string(groups) + " of " + std::to_string(slices) +
                   " slices on TP groups)";
    }
    // The CPU backend keeps fp32 weights, gradients and moments, activations as --dtype says,
    // and runs unfused kernels (attention keeps its probabilities).
    Storage storage = fp32_unfused();
    storage.element_bytes = dtype_bytes(opt.activation_dtype);
    if (c.memory_report)
      for (const DeviceProgram& p : rp.programs.devices) estimates.push_back(program_memory(p, model.g, model.mg, storage));
    if (mpi)
      executor = std::make_unique<MpiLauncher>(*mpi, scaled, rp.programs, c.backend, opt);
    else
      executor = std::make_unique<ThreadLauncher>(scaled, rp.programs, c.backend, opt);
    if (!c.save_plan.empty() && executor->writes_outputs())
      write_file_atomically(c.save_plan, plan_json(rp.plan, scaled, model.mg));
  } else {
    trainer = std::make_unique<Trainer>(scaled, *be, opt);
  }
  // A checkpoint in DIR (model/sharded_checkpoint.h): a rank file per device and the manifest,
  // which one device or any plan on any number of devices or ranks resumes.
  const std::filesystem::path dir = c.checkpoint_dir;
  auto save = [&] {
    if (trainer)
      trainer->save(dir);
    else
      executor->save_checkpoint(dir);
  };
  if (c.resume) {
    if (trainer)
      trainer->load(dir);
    else
      executor->load_checkpoint(dir);
  }
  auto steps_done = [&] { return trainer ? trainer->steps_done() : executor->steps_done(); };
  const Scenario& s = trainer ? trainer->scenario() : scaled;
  const std::int64_t parameters = trainer ? trainer->model().weights().total_size() : executor->parameters();
  out << "spindle-run: " << s.name << " at scale " << factors.name << ", "
            << parameters << " parameters, backend "
            << be->name() << ", seed " << opt.seed
            << (c.resume ? ", resumed at step " + std::to_string(steps_done()) : "")
            << (executor ? ", " + std::to_string(c.devices) + (mpi ? " MPI ranks" : " logical devices") +
                               " running the plan of " + plan_name
                         : "")
            << "\n";

  std::string csv = "step,task,loss,step_s\n";
  std::vector<float> first, last;
  double total_s = 0;
  std::int64_t done = 0;
  while (steps_done() < c.steps) {
    const auto t0 = std::chrono::steady_clock::now();
    const StepResult r = trainer ? trainer->step() : executor->step();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    total_s += secs;
    ++done;
    if (!std::isfinite(r.loss))
      throw Error("step " + std::to_string(r.step) + ": the loss is not finite (" + fmt("%g", r.loss) + ")");
    if (first.empty()) first = r.task_loss;
    last = r.task_loss;
    for (size_t t = 0; t < s.tasks.size(); ++t)
      csv += std::to_string(r.step) + "," + s.tasks[t].name + "," + fmt("%.9g", r.task_loss[t]) + "," +
             fmt("%.6f", secs) + "\n";
    if (c.log_every > 0 && (r.step % c.log_every == 0 || r.step == 1)) {
      out << "step " << r.step << "  loss " << fmt("%.4f", r.loss) << "  (";
      for (size_t t = 0; t < s.tasks.size(); ++t) out << (t ? ", " : "") << s.tasks[t].name << " " << fmt("%.4f", r.task_loss[t]);
      out << ")  grad norm " << fmt("%.3f", r.grad_norm) << "\n";
    }
    if (!dir.empty() && c.checkpoint_every > 0 && r.step % c.checkpoint_every == 0) save();
  }
  if (!dir.empty()) save();
  if (!c.trace.empty()) {
    if (done == 0) throw InputError("--trace: no iteration ran; allowed: with --steps above the resumed step");
    const std::string trace = executor->trace_json(plan_name);  // collective under MPI
    if (executor->writes_outputs()) {
      write_file_atomically(c.trace, trace);
      const auto [step, of] = executor->traced_iteration();
      out << "trace: " << c.trace << " (step " << step << ", the median time of the last " << of
          << (of == 1 ? " step" : " steps") << ")\n";
    }
  }
  if (!c.metrics.empty() && (!executor || executor->writes_outputs())) write_file_atomically(c.metrics, csv);
  if (done > 0) {
    out << "\ntask                 loss first   loss last   chance     last/chance\n";
    for (size_t t = 0; t < s.tasks.size(); ++t) {
      // Chance: ln B for a contrastive task, ln V for a cross-entropy one.
      double chance = std::log(static_cast<double>(s.tasks[t].batch));
      if (s.tasks[t].loss == LossKind::kCrossEntropy) {
        const Component& head = s.model.components[static_cast<size_t>(s.tasks[t].components.back())];
        const Component* table = head.tie_embedding.empty() ? &head : s.model.find(head.tie_embedding);
        chance = std::log(static_cast<double>(table->vocab));
      }
      char line[160];
      std::snprintf(line, sizeof line, "%-20s %10.4f %11.4f %8.4f %12.3f\n", s.tasks[t].name.c_str(), first[t], last[t],
                    chance, last[t] / chance);
      out << line;
    }
    if (executor) {  // what each device did in the last iteration, counted by the executor
      out << "\nlast iteration  fwd row-ops bwd row-ops  sent MB   received MB   gathered MB  TP all-reduced MB\n";
      const std::vector<DeviceCounters> counters = executor->counters();
      for (int d = 0; d < executor->devices(); ++d) {
        const DeviceCounters& dc = counters[static_cast<size_t>(d)];
        char line[192];
        std::snprintf(line, sizeof line, "device %-8d %11lld %11lld %8.3f %13.3f %13.3f %18.3f\n", d,
                      static_cast<long long>(dc.forward_rows), static_cast<long long>(dc.backward_rows),
                      static_cast<double>(dc.sent_bytes) / 1e6, static_cast<double>(dc.recv_bytes) / 1e6,
                      static_cast<double>(dc.gathered_bytes) / 1e6, static_cast<double>(dc.tp_reduce_bytes) / 1e6);
        out << line;
      }
    }
    if (c.memory_report) out << memory_report(estimates, executor->memory());
    out << fmt("\n%.1f steps/s", static_cast<double>(done) / total_s) << " (" << done << " steps, "
              << fmt("%.2f s)\n", total_s);
  }
  return kExitOk;
}

}  // namespace
}  // namespace spindle::engine
