// spindle-run: trains a scenario's model (optionally scaled down) with synthetic learnable
// data, on one device of a backend or on N logical devices executing a system's (or a plan
// file's) per-device programs; writes per-task losses (--metrics), checkpoints (one device)
// and a Chrome trace of the last iteration's real execution (--trace).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "engine/backend_registry.h"
#include "engine/executor.h"
#include "engine/execution_trace.h"
#include "engine/model_scale.h"
#include "engine/run_plan.h"
#include "engine/trainer.h"
#include "planner/scenario.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"
#include "traces/main_guard.h"

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spindle-run: train a scenario's model (synthetic learnable data) on a backend"};
  app.get_formatter()->column_width(34);
  std::string scenario_file, backend = "cpu", scale = "full", metrics, checkpoint_dir, system = "spindle", plan_file,
      trace, save_plan;
  std::vector<std::string> sets;
  int devices = 1;
  std::int64_t steps = 100, checkpoint_every = 0, log_every = 50;
  std::int64_t seed = -1;
  bool resume = false;
  spindle::engine::TrainOptions opt;
  float lr = opt.adam.lr;
  app.add_option("scenario", scenario_file, "Scenario file (TOML), e.g. scenarios/multitask-clip-4.toml")->required();
  app.add_option("--set", sets, "Override a scenario value, KEY=VALUE with a dotted KEY (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_option("--backend", backend, "Backend: cpu (cuda when built with it)")->capture_default_str();
  app.add_option("--devices", devices,
                 "Logical devices; more than 1 (or --system / --plan) runs a plan's per-device programs")
      ->capture_default_str();
  app.add_option("--system", system, "Planner whose plan runs: spindle, spindle-paper, sequential, uniform, optimus")
      ->capture_default_str();
  app.add_option("--plan", plan_file, "Run this plan file (spindle-sim --plan-only --out DIR, or --save-plan) instead of --system's")
      ->type_name("FILE.json");
  app.add_option("--save-plan", save_plan, "Write the plan that runs as a plan file (to edit and run with --plan)")
      ->type_name("FILE.json");
  app.add_option("--trace", trace, "Write a Chrome trace (Perfetto) of the last iteration's execution")
      ->type_name("FILE.json");
  app.add_option("--steps", steps, "Train until this many iterations are done (counting resumed ones)")
      ->capture_default_str();
  app.add_option("--seed", seed, "Seed of weights and data (default: the scenario's [scenario] seed)");
  app.add_option("--scale", scale, "Model size: full, small or tiny (factors in README, 'Engine')")
      ->capture_default_str();
  app.add_option("--lr", lr, "AdamW peak learning rate (10 warm-up steps, then constant)")->capture_default_str();
  app.add_option("--metrics", metrics, "Write rows step,task,loss,step_s (one per task and iteration)")
      ->type_name("FILE.csv");
  app.add_option("--checkpoint", checkpoint_dir, "Write DIR/checkpoint.bin at the end (and every --checkpoint-every)")
      ->type_name("DIR");
  app.add_option("--checkpoint-every", checkpoint_every, "Also checkpoint every N iterations (0: only at the end)")
      ->capture_default_str();
  app.add_flag("--resume", resume, "Continue from DIR/checkpoint.bin of --checkpoint DIR")->capture_default_str();
  app.add_option("--log-every", log_every, "Print the losses every N iterations (0: only the summary)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "spindle-run: " << e.what() << "; allowed: see spindle-run --help\n";
    return spindle::kExitBadInput;
  }
  return spindle::run_guarded("spindle-run", [&] {
    using spindle::InputError;
    namespace eng = spindle::engine;
    if (devices < 1) throw InputError("--devices " + std::to_string(devices) + ": allowed: 1 or more");
    const bool distributed = devices > 1 || app.count("--system") > 0 || !plan_file.empty();
    if (distributed && (!checkpoint_dir.empty() || resume))
      throw InputError("--checkpoint / --resume: only on one device without --system or --plan in this version");
    if (!distributed && (!trace.empty() || !save_plan.empty()))
      throw InputError(std::string(trace.empty() ? "--save-plan" : "--trace") +
                       ": only for a plan's execution; allowed: with --devices N, --system or --plan");
    if (steps < 0) throw InputError("--steps " + std::to_string(steps) + ": allowed: >= 0");
    if (checkpoint_every < 0) throw InputError("--checkpoint-every: allowed: >= 0");
    if (log_every < 0) throw InputError("--log-every: allowed: >= 0");
    if (!(lr > 0) || !std::isfinite(lr)) throw InputError("--lr " + std::to_string(lr) + ": allowed: a positive number");
    if (resume && checkpoint_dir.empty()) throw InputError("--resume: needs --checkpoint DIR to resume from");
    const eng::ScaleFactors factors = eng::find_scale(scale);
    std::unique_ptr<eng::Backend> be = eng::make_backend(backend);
    spindle::LoadOptions lo;
    lo.overrides = sets;
    const spindle::Scenario full = spindle::load_scenario(scenario_file, lo);
    opt.seed = seed >= 0 ? static_cast<std::uint64_t>(seed) : full.seed;
    opt.scale = factors.name;
    opt.adam.lr = lr;
    std::unique_ptr<eng::Trainer> trainer;
    std::unique_ptr<eng::Executor> executor;
    spindle::Scenario scaled = eng::scale_scenario(full, factors);
    std::string plan_name;
    if (distributed) {
      scaled = eng::on_devices(scaled, devices);
      eng::RunPlan rp = eng::make_run_plan(scaled, system, plan_file);
      plan_name = plan_file.empty() ? rp.plan.system : plan_file;
      executor = std::make_unique<eng::Executor>(scaled, rp.programs, backend, opt);
      if (!save_plan.empty())
        spindle::write_file_atomically(save_plan, spindle::plan_json(rp.plan, scaled, executor->metagraph()));
    } else {
      trainer = std::make_unique<eng::Trainer>(scaled, *be, opt);
    }
    const std::filesystem::path ckpt = checkpoint_dir.empty() ? "" : std::filesystem::path(checkpoint_dir) / "checkpoint.bin";
    if (resume) trainer->load(ckpt);
    auto steps_done = [&] { return trainer ? trainer->steps_done() : executor->steps_done(); };
    const spindle::Scenario& s = trainer ? trainer->scenario() : executor->scenario();
    std::cout << "spindle-run: " << s.name << " at scale " << factors.name << ", "
              << (trainer ? trainer->model().weights().total_size() : executor->parameters()) << " parameters, backend "
              << be->name() << ", seed " << opt.seed
              << (resume ? ", resumed at step " + std::to_string(steps_done()) : "")
              << (executor ? ", " + std::to_string(devices) + " logical devices running the plan of " + plan_name : "")
              << "\n";

    std::string csv = "step,task,loss,step_s\n";
    std::vector<float> first, last;
    double total_s = 0;
    std::int64_t done = 0;
    while (steps_done() < steps) {
      const auto t0 = std::chrono::steady_clock::now();
      const eng::StepResult r = trainer ? trainer->step() : executor->step();
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      total_s += secs;
      ++done;
      if (!std::isfinite(r.loss))
        throw spindle::Error("step " + std::to_string(r.step) + ": the loss is not finite (" + fmt("%g", r.loss) + ")");
      if (first.empty()) first = r.task_loss;
      last = r.task_loss;
      for (size_t t = 0; t < s.tasks.size(); ++t)
        csv += std::to_string(r.step) + "," + s.tasks[t].name + "," + fmt("%.9g", r.task_loss[t]) + "," +
               fmt("%.6f", secs) + "\n";
      if (log_every > 0 && (r.step % log_every == 0 || r.step == 1)) {
        std::cout << "step " << r.step << "  loss " << fmt("%.4f", r.loss) << "  (";
        for (size_t t = 0; t < s.tasks.size(); ++t) std::cout << (t ? ", " : "") << s.tasks[t].name << " " << fmt("%.4f", r.task_loss[t]);
        std::cout << ")  grad norm " << fmt("%.3f", r.grad_norm) << "\n";
      }
      if (!ckpt.empty() && checkpoint_every > 0 && r.step % checkpoint_every == 0) trainer->save(ckpt);
    }
    if (!ckpt.empty()) trainer->save(ckpt);
    if (!trace.empty()) {
      if (done == 0) throw InputError("--trace: no iteration ran; allowed: with --steps above the resumed step");
      spindle::write_file_atomically(trace, eng::execution_trace_json(*executor, plan_name));
    }
    if (!metrics.empty()) spindle::write_file_atomically(metrics, csv);
    if (done > 0) {
      std::cout << "\ntask                 loss first   loss last   chance     last/chance\n";
      for (size_t t = 0; t < s.tasks.size(); ++t) {
        // Chance: ln B for a contrastive task, ln V for a cross-entropy one.
        double chance = std::log(static_cast<double>(s.tasks[t].batch));
        if (s.tasks[t].loss == spindle::LossKind::kCrossEntropy) {
          const spindle::Component& head = s.model.components[static_cast<size_t>(s.tasks[t].components.back())];
          const spindle::Component* table = head.tie_embedding.empty() ? &head : s.model.find(head.tie_embedding);
          chance = std::log(static_cast<double>(table->vocab));
        }
        char line[160];
        std::snprintf(line, sizeof line, "%-20s %10.4f %11.4f %8.4f %12.3f\n", s.tasks[t].name.c_str(), first[t], last[t],
                      chance, last[t] / chance);
        std::cout << line;
      }
      if (executor) {  // what each device did in the last iteration, counted by the executor
        std::cout << "\nlast iteration  fwd row-ops bwd row-ops  sent MB   received MB   gathered MB\n";
        for (int d = 0; d < executor->devices(); ++d) {
          const eng::DeviceCounters& c = executor->counters(d);
          char line[160];
          std::snprintf(line, sizeof line, "device %-8d %11lld %11lld %8.3f %13.3f %13.3f\n", d,
                        static_cast<long long>(c.forward_rows), static_cast<long long>(c.backward_rows),
                        static_cast<double>(c.sent_bytes) / 1e6, static_cast<double>(c.recv_bytes) / 1e6,
                        static_cast<double>(c.gathered_bytes) / 1e6);
          std::cout << line;
        }
      }
      std::cout << fmt("\n%.1f steps/s", static_cast<double>(done) / total_s) << " (" << done << " steps, "
                << fmt("%.2f s)\n", total_s);
    }
    return spindle::kExitOk;
  });
}
