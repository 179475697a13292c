// Two results side by side (see compare.h).
#include "sim/report/compare.h"

#include <cmath>
#include <filesystem>
#include <map>

#include "sim/report/run_results.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {
namespace fs = std::filesystem;

namespace {

struct Side {
  std::string spec;
  RunResults run;
  const SystemRun* system = nullptr;
  std::map<int, double> gpu_s;
};

Side load(const std::string& spec, const std::string& default_system) {
  Side side;
  side.spec = spec;
  std::string path = spec, system = default_system;
  const size_t colon = spec.rfind(':');
  if (colon != std::string::npos && colon > 0 && !fs::exists(spec)) {
    path = spec.substr(0, colon);
    system = spec.substr(colon + 1);
  }
  fs::path dir = path;
  if (fs::is_regular_file(dir)) dir = dir.parent_path();
  if (dir.empty()) dir = ".";
  side.run = read_run(dir);
  side.system = side.run.find(system);
  if (side.system == nullptr) {
    std::string names;
    for (const SystemRun& s : side.run.systems) names += (names.empty() ? "" : ", ") + s.name;
    throw InputError(spec + ": no system '" + system + "' in " + (dir / "summary.json").string() + "; allowed: " + names);
  }
  if (side.system->trace.empty() || side.system->simulated_s <= 0)
    throw InputError(spec + ": system '" + system + "' in " + (dir / "summary.json").string() +
                     " was not simulated; allowed: a run spindle-sim simulated (not --plan-only)");
  side.gpu_s = side.run.metaop_gpu_s(*side.system);
  return side;
}

std::string label_key(const MetaOpInfo& m) { return m.label.substr(m.label.find(' ') + 1); }

std::string diff_pct(double a, double b) { return a > 0 ? fixed(100 * (b - a) / a, 1) + "%" : "-"; }

}  // namespace

std::string compare_text(const std::string& a_spec, const std::string& b_spec, const std::string& default_system) {
  const Side a = load(a_spec, default_system), b = load(b_spec, default_system);
  std::string out = "compare\n  A: " + a.spec + " (" + a.run.scenario + ", " + std::to_string(a.run.gpus) + " GPUs, " +
                    a.system->name + ")\n  B: " + b.spec + " (" + b.run.scenario + ", " + std::to_string(b.run.gpus) +
                    " GPUs, " + b.system->name + ")\n\n";
  using Al = TextTable::Align;
  TextTable t;
  for (auto [h, al] : std::vector<std::pair<const char*, Al>>{
           {"", Al::kLeft}, {"A ms", Al::kRight}, {"B ms", Al::kRight}, {"B - A ms", Al::kRight}, {"B vs A", Al::kRight}})
    t.add_column(h, al);
  auto row = [&](const std::string& what, double x, double y) {
    t.add_row({what, fixed(x * 1e3, 3), fixed(y * 1e3, 3), fixed((y - x) * 1e3, 3), diff_pct(x, y)});
  };
  row("simulated iteration", a.system->simulated_s, b.system->simulated_s);
  row("planned iteration", a.system->planned_s, b.system->planned_s);
  row("compute (mean per GPU)", a.system->compute_s, b.system->compute_s);
  row("transfer (mean per GPU)", a.system->transfer_s, b.system->transfer_s);
  row("weight sync (mean per GPU)", a.system->sync_s, b.system->sync_s);
  row("idle (mean per GPU)", a.system->idle_s, b.system->idle_s);
  out += t.render() + "\n";

  bool same = a.run.metaops.size() == b.run.metaops.size();
  for (size_t i = 0; same && i < a.run.metaops.size(); ++i) same = a.run.metaops[i].label == b.run.metaops[i].label;
  TextTable m;
  for (auto [h, al] : std::vector<std::pair<const char*, Al>>{{"MetaOp (A)", Al::kLeft},
                                                               {"MetaOp (B)", Al::kLeft},
                                                               {"A GPU-ms", Al::kRight},
                                                               {"B GPU-ms", Al::kRight},
                                                               {"B - A", Al::kRight},
                                                               {"B vs A", Al::kRight}})
    m.add_column(h, al);
  std::map<std::string, const MetaOpInfo*> b_by_label;
  for (const MetaOpInfo& mi : b.run.metaops) b_by_label.emplace(label_key(mi), &mi);
  std::map<int, bool> b_used;
  for (const MetaOpInfo& ma : a.run.metaops) {
    const MetaOpInfo* mb = nullptr;
    if (same) mb = &b.run.metaops[static_cast<size_t>(&ma - a.run.metaops.data())];
    else if (auto it = b_by_label.find(label_key(ma)); it != b_by_label.end() && !b_used[it->second->id]) mb = it->second;
    const double x = a.gpu_s.at(ma.id);
    if (mb == nullptr) {
      m.add_row({ma.label, "-", fixed(x * 1e3, 3), "-", "-", "-"});
      continue;
    }
    b_used[mb->id] = true;
    const double y = b.gpu_s.at(mb->id);
    m.add_row({ma.label, mb->label, fixed(x * 1e3, 3), fixed(y * 1e3, 3), fixed((y - x) * 1e3, 3), diff_pct(x, y)});
  }
  for (const MetaOpInfo& mb : b.run.metaops)
    if (!b_used[mb.id]) m.add_row({"-", mb.label, "-", fixed(b.gpu_s.at(mb.id) * 1e3, 3), "-", "-"});
  out += "per MetaOp: GPU time of its compute (forward + backward, summed over the GPUs that ran it)\n" + m.render();
  return out;
}

}  // namespace spindle
