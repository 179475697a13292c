// Plan soundness checks and the plan file (JSON) in both directions.
#include "planner/schedule/plan.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <nlohmann/json.hpp>

#include "planner/graph/metaop_json.h"
#include "planner/schedule/systems.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"
#include "traces/names.h"
#include "traces/text_table.h"

namespace spindle {

std::int64_t SyncPolicy::cap_params(int ranks) const {
  if (bucket_params <= 0) return 0;
  return std::max(bucket_params, bucket_params_per_rank * ranks);
}

std::string SyncPolicy::text() const {
  auto m = [](std::int64_t p) { return fixed(static_cast<double>(p) / 1e6, 2) + "M"; };
  std::string cap = bucket_params <= 0 ? "one bucket per device group"
                                       : "buckets of " + m(bucket_params) + " parameters" +
                                             (bucket_params_per_rank > 0 ? " or " + m(bucket_params_per_rank) + " x ranks if more" : "") +
                                             (first_bucket_params > 0 ? ", the first " + m(first_bucket_params) : "");
  return framework + ": " + cap + ", gradients reduced in " + (grad_bytes == 4 ? "fp32" : "bf16") +
         ", each bucket started when its last gradient is ready";
}

void apply_layout(Plan& plan, const CostModel& cost) {
  plan.tp = cost.layout();
  plan.zero1 = cost.zero1();
  for (Wave& w : plan.waves)
    for (Slice& sl : w.slices) sl.tp = slice_tp(sl.n, cost.metaop(sl.metaop).tp);
}

void Plan::finish() {
  planned_s = 0;
  for (const Wave& w : waves)
    for (const Slice& s : w.slices) planned_s = std::max(planned_s, s.end_s);
}

double peak_slice_GiB(const Plan& plan, const Scenario& s, const Graph& g, const MetaGraph& mg) {
  const std::map<std::string, int> tasks_of = tasks_per_weight_set(g);
  const Storage storage = device_storage(s.cluster.gpu);
  double peak = 0;
  for (const Wave& w : plan.waves)
    for (const Slice& sl : w.slices) {
      const Operator& op = g.op(mg.metaops[static_cast<size_t>(sl.metaop)].ops.front());
      MemoryBreakdown m = layer_memory(op, sl.layers(), ParallelConfig{sl.dp(), sl.tp, plan.zero1}, sl.dp(),
                                       !op.weights.empty() && tasks_of.at(op.weight_set) > 1, storage);
      m.workspace = s.planner.workspace_GiB * kGiB;
      peak = std::max(peak, m.total() / kGiB);
    }
  return peak;
}

std::string check_plan(const Plan& plan, const MetaGraph& mg, const CostModel& cost) {
  // A plan made with another TP layout than the scenario's is checked against its own.
  if (!plan.tp.empty() && plan.tp != cost.layout()) {
    const std::string problem = cost.layout_problem(plan.tp);
    if (!problem.empty()) return "tp layout: " + problem;
    return check_plan(plan, mg, cost.with_layout(plan.tp));
  }
  const double eps = 1e-9;
  std::vector<std::vector<const Slice*>> by_meta(mg.metaops.size());
  for (size_t w = 0; w < plan.waves.size(); ++w) {
    const Wave& wave = plan.waves[w];
    for (const Slice& s : wave.slices) {
      const std::string where = "wave " + std::to_string(w) + ", MetaOp " + std::to_string(s.metaop);
      if (s.metaop < 0 || s.metaop >= static_cast<int>(mg.metaops.size())) return where + ": no such MetaOp";
      const MetaOp& m = mg.metaops[static_cast<size_t>(s.metaop)];
      if (s.first_layer < 0 || s.last_layer > m.L || s.layers() < 1)
        return where + ": layers [" + std::to_string(s.first_layer) + ", " + std::to_string(s.last_layer) +
               ") outside [0, " + std::to_string(m.L) + ")";
      const MetaOpCost& mc = cost.metaop(s.metaop);
      if (s.n >= 1 && s.tp != slice_tp(s.n, mc.tp))
        return where + ": tp " + std::to_string(s.tp) + " on " + std::to_string(s.n) + " devices but its component runs at tp " +
               std::to_string(mc.tp) + " in the scenario's layout";
      if (s.n < 1 || s.n > plan.gpus || s.n % s.tp != 0 || mc.tp % s.tp != 0 || m.shape.batch % s.dp() != 0)
        return where + ": " + std::to_string(s.n) + " devices do not divide its batch " + std::to_string(m.shape.batch) +
               (s.tp > 1 ? " in groups of tp " + std::to_string(s.tp) : std::string()) + " or exceed " +
               std::to_string(plan.gpus) + " GPUs";
      const double want = s.layers() * cost.metaop(s.metaop).curve.time_s(s.n);
      if (!(s.start_s >= -eps) || std::abs((s.end_s - s.start_s) - want) > eps + 1e-9 * want)
        return where + ": runs " + fixed(s.end_s - s.start_s, 9) + " s, but " + std::to_string(s.layers()) +
               " layers on " + std::to_string(s.n) + " devices take " + fixed(want, 9) + " s";
      if (s.start_s < wave.start_s - eps || s.end_s > wave.end_s + eps) return where + ": outside its wave's span";
      by_meta[static_cast<size_t>(s.metaop)].push_back(&s);
    }
  }
  std::vector<double> first_start(mg.metaops.size()), last_end(mg.metaops.size());
  for (const MetaOp& m : mg.metaops) {
    auto& slices = by_meta[static_cast<size_t>(m.id)];
    std::sort(slices.begin(), slices.end(), [](const Slice* a, const Slice* b) { return a->first_layer < b->first_layer; });
    int next = 0;
    double prev_end = 0;
    for (const Slice* s : slices) {
      if (s->first_layer != next)
        return "MetaOp " + std::to_string(m.id) + ": layer " + std::to_string(next) + " scheduled " +
               (s->first_layer > next ? "never" : "twice");
      if (s->start_s < prev_end - eps) return "MetaOp " + std::to_string(m.id) + ": layers run out of order";
      next = s->last_layer;
      prev_end = s->end_s;
    }
    if (next != m.L)
      return "MetaOp " + std::to_string(m.id) + ": layers " + std::to_string(next) + ".." + std::to_string(m.L) +
             " never scheduled";
    first_start[static_cast<size_t>(m.id)] = slices.front()->start_s;
    last_end[static_cast<size_t>(m.id)] = slices.back()->end_s;
  }
  for (const MetaOp& m : mg.metaops)
    for (int p : m.preds)
      if (first_start[static_cast<size_t>(m.id)] < last_end[static_cast<size_t>(p)] - eps)
        return "MetaOp " + std::to_string(m.id) + " starts at " + fixed(first_start[static_cast<size_t>(m.id)], 9) +
               " s before its predecessor " + std::to_string(p) + " ends at " + fixed(last_end[static_cast<size_t>(p)], 9) + " s";
  // Placed or not, as a whole: a plan placing only some slices would be silently re-placed.
  size_t placed = 0, slices = 0;
  for (const Wave& w : plan.waves)
    for (const Slice& s : w.slices) {
      ++slices;
      placed += s.devices.empty() ? 0 : 1;
    }
  if (placed > 0 && placed < slices)
    return std::to_string(placed) + " of " + std::to_string(slices) + " slices list their devices (either all or none)";
  // A device runs one slice at a time.
  std::map<int, std::vector<std::pair<double, double>>> busy;
  for (const Wave& w : plan.waves)
    for (const Slice& s : w.slices) {
      std::set<int> distinct(s.devices.begin(), s.devices.end());
      if (!s.devices.empty() && static_cast<int>(distinct.size()) != s.n)
        return "MetaOp " + std::to_string(s.metaop) + ": a slice lists a device twice";
      for (int d : s.devices) {
        for (auto [a, b] : busy[d])
          if (s.start_s < b - eps && s.end_s > a + eps)
            return "device " + std::to_string(d) + " runs two slices at " + fixed(std::max(a, s.start_s), 9) + " s";
        busy[d].push_back({s.start_s, s.end_s});
      }
    }
  // Devices in use over time: ends before starts at the same instant.
  std::vector<std::pair<double, int>> events;
  for (const Wave& w : plan.waves)
    for (const Slice& s : w.slices) {
      events.push_back({s.start_s, s.n});
      events.push_back({s.end_s - eps, -s.n});
    }
  std::sort(events.begin(), events.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first < b.first : a.second < b.second; });
  int in_use = 0;
  for (auto [t, d] : events) {
    in_use += d;
    if (in_use > plan.gpus)
      return std::to_string(in_use) + " devices in use at " + fixed(t, 9) + " s, more than " + std::to_string(plan.gpus);
  }
  return "";
}

int retime_plan(Plan& plan, const MetaGraph& mg, const CostModel& cost) {
  if (!plan.tp.empty() && plan.tp != cost.layout()) {
    if (!cost.layout_problem(plan.tp).empty()) return -1;
    return retime_plan(plan, mg, cost.with_layout(plan.tp));
  }
  std::vector<Slice*> order;
  for (Wave& w : plan.waves)
    for (Slice& sl : w.slices) {
      if (sl.metaop < 0 || sl.metaop >= static_cast<int>(mg.metaops.size())) return -1;
      const MetaOp& m = mg.metaops[static_cast<size_t>(sl.metaop)];
      if (sl.first_layer < 0 || sl.last_layer > m.L || sl.layers() < 1 || sl.n < 1 || sl.n > plan.gpus || sl.tp < 1 ||
          sl.n % sl.tp != 0 || m.shape.batch % sl.dp() != 0 || !std::isfinite(sl.start_s))
        return -1;
      order.push_back(&sl);
    }
  std::stable_sort(order.begin(), order.end(), [](const Slice* a, const Slice* b) {
    return std::tie(a->start_s, a->metaop, a->first_layer) < std::tie(b->start_s, b->metaop, b->first_layer);
  });
  // End of each timed MetaOp's layers so far: (next layer, end time).
  std::vector<std::pair<int, double>> done(mg.metaops.size(), {0, 0.0});
  std::vector<double> device_free(static_cast<size_t>(plan.gpus), 0.0);
  std::vector<const Slice*> timed;  // for the device-count profile of unplaced plans
  int changed = 0;
  for (Slice* sl : order) {
    const MetaOp& m = mg.metaops[static_cast<size_t>(sl->metaop)];
    const double dur = sl->layers() * cost.metaop(sl->metaop).curve.time_s(sl->n);
    double start = std::max(0.0, sl->start_s);
    const auto& own = done[static_cast<size_t>(m.id)];
    if (own.first == sl->first_layer && sl->first_layer > 0) start = std::max(start, own.second);
    if (sl->first_layer == 0)
      for (int p : m.preds)
        if (done[static_cast<size_t>(p)].first == mg.metaops[static_cast<size_t>(p)].L)
          start = std::max(start, done[static_cast<size_t>(p)].second);
    if (!sl->devices.empty()) {
      for (int d : sl->devices)
        if (d >= 0 && d < plan.gpus) start = std::max(start, device_free[static_cast<size_t>(d)]);
    } else {
      // The first time from `start` at which n more devices are free for the whole slice.
      auto fits = [&](double t0) {
        std::vector<double> points = {t0};
        for (const Slice* o : timed)
          if (o->start_s > t0 && o->start_s < t0 + dur) points.push_back(o->start_s);
        for (double t : points) {
          int used = 0;
          for (const Slice* o : timed)
            if (o->start_s <= t + 1e-12 && o->end_s > t + 1e-12) used += o->n;
          if (used + sl->n > plan.gpus) return false;
        }
        return true;
      };
      if (!fits(start)) {
        std::vector<double> ends;
        for (const Slice* o : timed)
          if (o->end_s > start) ends.push_back(o->end_s);
        std::sort(ends.begin(), ends.end());
        for (double t : ends)
          if (fits(t)) {
            start = t;
            break;
          }
      }
    }
    const double end = start + dur;
    const double tol = 1e-9;
    if (std::abs(start - sl->start_s) > tol || std::abs(end - sl->end_s) > tol) ++changed;
    // Keep the stated times where they are within rounding of the derived ones (same bytes back).
    if (std::abs(start - sl->start_s) > 1e-12 * std::max(1.0, start)) sl->start_s = start;
    if (std::abs(end - sl->end_s) > 1e-12 * std::max(1.0, end) || std::abs((sl->end_s - sl->start_s) - dur) > 1e-12 * dur)
      sl->end_s = sl->start_s + dur;
    for (int d : sl->devices)
      if (d >= 0 && d < plan.gpus) device_free[static_cast<size_t>(d)] = sl->end_s;
    auto& mine = done[static_cast<size_t>(m.id)];
    if (mine.first == sl->first_layer) mine = {sl->last_layer, sl->end_s};
    timed.push_back(sl);
  }
  for (Wave& w : plan.waves)  // a wave's span grows to hold its slices (a stated longer span stays)
    for (const Slice& sl : w.slices) {
      w.start_s = std::min(w.start_s, sl.start_s);
      w.end_s = std::max(w.end_s, sl.end_s);
    }
  return changed;
}

namespace {
// Each device's batch rows: device k is in data-parallel group k / tp.
nlohmann::ordered_json device_rows(int batch, int n, int tp) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  const int dp = n / tp;
  for (int k = 0; k < n; ++k) rows.push_back({(k / tp) * (batch / dp), (k / tp + 1) * (batch / dp)});
  return rows;
}
}  // namespace

std::string plan_json(const Plan& plan, const Scenario& s, const MetaGraph& mg) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["format_version"] = kPlanFormatVersion;
  j["system"] = plan.system;
  j["scenario"] = s.name;
  j["gpus"] = plan.gpus;
  ordered_json metas = ordered_json::array();
  for (const MetaOp& m : mg.metaops) {
    metas.push_back(metaop_json(s, m));
    metas.back()["preds"] = m.preds;
  }
  j["metaops"] = metas;
  j["tp"] = plan.tp;
  j["zero1"] = plan.zero1;
  ordered_json waves = ordered_json::array();
  for (const Wave& w : plan.waves) {
    ordered_json slices = ordered_json::array();
    for (const Slice& sl : w.slices) {
      ordered_json o = {{"metaop", sl.metaop}, {"first_layer", sl.first_layer}, {"last_layer", sl.last_layer},
                        {"n", sl.n},           {"start_s", sl.start_s},         {"end_s", sl.end_s}};
      if (sl.tp > 1) o["tp"] = sl.tp;
      if (!sl.devices.empty()) {
        o["devices"] = sl.devices;
        o["rows"] = device_rows(static_cast<int>(mg.metaops[static_cast<size_t>(sl.metaop)].shape.batch), sl.n, sl.tp);
      }
      slices.push_back(o);
    }
    waves.push_back({{"start_s", w.start_s}, {"end_s", w.end_s}, {"slices", slices}});
  }
  j["waves"] = waves;
  j["planned_s"] = plan.planned_s;
  j["cstar_s"] = plan.cstar_s;
  j["cstar_valid_s"] = plan.cstar_valid_s;
  j["lower_bound_s"] = plan.lower_bound_s;
  j["notes"] = plan.notes;
  if (!plan.schedule_from.empty()) j["schedule_from"] = plan.schedule_from;
  j["sync"] = {{"framework", plan.sync.framework},
               {"bucket_params", plan.sync.bucket_params},
               {"bucket_params_per_rank", plan.sync.bucket_params_per_rank},
               {"first_bucket_params", plan.sync.first_bucket_params},
               {"grad_reduce_dtype", plan.sync.grad_bytes == 4 ? "fp32" : "bf16"}};
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& file, const std::string& where, const std::string& what,
                      const std::string& allowed) {
  throw InputError(file + ": " + where + ": " + what + "; allowed: " + allowed);
}

const json& field(const std::string& file, const json& obj, const std::string& where, const std::string& key,
                  json::value_t type, const std::string& allowed) {
  auto it = obj.find(key);
  const std::string path = where.empty() ? key : where + "." + key;
  if (it == obj.end()) bad(file, path, "missing", allowed);
  const bool number_ok = (type == json::value_t::number_float) && it->is_number();
  const bool int_ok = (type == json::value_t::number_integer) && it->is_number_integer() &&
                      it->get<std::int64_t>() >= -(1LL << 30) && it->get<std::int64_t>() <= (1LL << 30);
  if (!(it->type() == type || number_ok || int_ok))
    bad(file, path, std::string("expected ") + (type == json::value_t::number_integer ? "an integer" : json(type).type_name()) +
                        ", found " + it->type_name(),
        allowed);
  return *it;
}

// Keys of `obj` outside `known`: refused, as unknown TOML keys are.
void only_keys(const std::string& file, const json& obj, const std::string& where, const std::vector<std::string>& known) {
  for (const auto& [key, value] : obj.items())
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string all;
      for (const std::string& k : known) all += (all.empty() ? "" : ", ") + k;
      bad(file, where.empty() ? key : where + "." + key, "unknown key", all);
    }
}

Plan read_plan_checked(const std::string& file, const Scenario& s, const MetaGraph& mg, const CostModel& base,
                        const CostModel* other_zero1);

}  // namespace

Plan read_plan(const std::string& file, const Scenario& s, const MetaGraph& mg, const CostModel& cost,
               const CostModel* other_zero1) {
  try {
    return read_plan_checked(file, s, mg, cost, other_zero1);
  } catch (const json::exception& e) {
    throw InputError(file + ": " + std::string(e.what()) + "; allowed: a plan file written by spindle-sim --plan-only");
  }
}

namespace {

Plan read_plan_checked(const std::string& file, const Scenario& s, const MetaGraph& mg, const CostModel& base,
                        const CostModel* other_zero1) {
  if (!std::filesystem::is_regular_file(file))
    throw InputError(file + ": no such plan file; allowed: a plan file written by spindle-sim --plan-only");
  json j;
  try {
    j = json::parse(read_file(file));
  } catch (const json::parse_error& e) {
    throw InputError(file + ": not JSON (" + std::string(e.what()) + "); allowed: a plan file written by spindle-sim --plan-only");
  }
  const std::string allowed_root = "a plan file of format_version " + std::to_string(kPlanFormatVersion);
  if (!j.is_object()) bad(file, "(root)", "expected an object", allowed_root);
  const int version = field(file, j, "", "format_version", json::value_t::number_integer, allowed_root).get<int>();
  if (version != kPlanFormatVersion) bad(file, "format_version", std::to_string(version) + " is not supported", allowed_root);
  Plan p;
  p.system = field(file, j, "", "system", json::value_t::string, "a system name").get<std::string>();
  if (const std::string problem = name_problem(p.system); !problem.empty())
    bad(file, "system", "'" + p.system + "' " + problem, std::string("a system name of ") + kNameRule);
  only_keys(file, j, "",
            {"format_version", "system", "scenario", "gpus", "metaops", "tp", "zero1", "waves", "planned_s", "cstar_s",
             "cstar_valid_s", "lower_bound_s", "notes", "schedule_from", "sync"});
  // ZeRO-1 as planned (a file without it: the scenario's planner.zero1); a baseline may have
  // turned it on where memory needed it, and is then checked against that cost model.
  p.zero1 = base.zero1();
  if (j.contains("zero1")) p.zero1 = field(file, j, "", "zero1", json::value_t::boolean, "true or false").get<bool>();
  if (p.zero1 != base.zero1() && other_zero1 == nullptr)
    bad(file, "zero1", p.zero1 ? "true" : "false", std::string("the scenario's planner.zero1 = ") + (base.zero1() ? "true" : "false"));
  const CostModel& cost = p.zero1 == base.zero1() ? base : *other_zero1;
  p.gpus = field(file, j, "", "gpus", json::value_t::number_integer, "the scenario's GPU count").get<int>();
  if (p.gpus != s.cluster.gpus())
    bad(file, "gpus", "plan is for " + std::to_string(p.gpus) + " GPUs, " + s.file + " has " + std::to_string(s.cluster.gpus()),
        "a plan of this scenario");
  const json& metas = field(file, j, "", "metaops", json::value_t::array, "the scenario's MetaOps");
  if (metas.size() != mg.metaops.size())
    bad(file, "metaops", std::to_string(metas.size()) + " MetaOps, the scenario has " + std::to_string(mg.metaops.size()),
        "a plan of this scenario (same model, tasks and batches)");
  for (size_t i = 0; i < metas.size(); ++i) {
    const MetaOp& m = mg.metaops[i];
    const std::string where = "metaops." + std::to_string(i);
    const std::string allowed = "MetaOp " + std::to_string(m.id) + " of this scenario: " + op_kind_name(m.kind) + " x" +
                                std::to_string(m.L) + " " + m.shape.str();
    const json& e = metas[i];
    if (!e.is_object()) bad(file, where, "expected an object", allowed);
    field(file, e, where, "id", json::value_t::number_integer, allowed);
    // Every field as the scenario describes this MetaOp (component, tasks, level, shape, ...):
    // an edit there would be ignored, so it is refused.
    nlohmann::ordered_json expected = metaop_json(s, m);
    expected["preds"] = m.preds;
    std::string differs;
    for (const auto& [key, value] : expected.items())
      if (!e.contains(key) || json(e.at(key)) != json(value)) {
        differs = key;
        break;
      }
    if (differs.empty())
      for (const auto& [key, value] : e.items())
        if (!expected.contains(key)) differs = key;
    const bool same = differs.empty();
    if (!same) bad(file, where + "." + differs, "does not match the scenario", allowed);
  }
  // Same model and cluster under another scenario name: still refused (the name would be ignored).
  const std::string scenario = field(file, j, "", "scenario", json::value_t::string, "the scenario's name").get<std::string>();
  if (scenario != s.name)
    bad(file, "scenario", "plan is for scenario '" + scenario + "', " + s.file + " is '" + s.name + "'",
        "a plan of this scenario");
  // The TP layout the plan was made with: any the scenario's components allow (a file without
  // one: every component at tp 1).
  std::map<std::string, int> plan_layout;
  {
    for (const auto& [c, t] : cost.layout()) plan_layout[c] = 1;
    const std::string allowed = "component = degree, each among the component's options (spindle-sim --explain-cost)";
    if (j.contains("tp")) {
      const json& tj = field(file, j, "", "tp", json::value_t::object, allowed);
      for (const auto& [c, t] : tj.items()) {
        if (!cost.layout().count(c)) bad(file, "tp." + c, "not a component that splits in this scenario", allowed);
        if (!t.is_number_integer()) bad(file, "tp." + c, "expected an integer", allowed);
        plan_layout[c] = t.get<int>();
      }
    }
    for (const auto& [c, t] : plan_layout) {
      const std::string problem = cost.layout_problem({{c, t}});
      if (!problem.empty()) bad(file, "tp." + c, problem, allowed);
    }
    p.tp = plan_layout;
  }
  const CostModel layout_cost = cost.with_layout(plan_layout);
  const json& waves = field(file, j, "", "waves", json::value_t::array, "a list of waves");
  for (size_t w = 0; w < waves.size(); ++w) {
    const std::string where = "waves." + std::to_string(w);
    const json& wj = waves[w];
    if (!wj.is_object()) bad(file, where, "expected an object", "a wave");
    only_keys(file, wj, where, {"start_s", "end_s", "slices"});
    Wave wave;
    wave.start_s = field(file, wj, where, "start_s", json::value_t::number_float, "seconds").get<double>();
    wave.end_s = field(file, wj, where, "end_s", json::value_t::number_float, "seconds").get<double>();
    if (!(wave.start_s >= 0) || !(wave.end_s >= wave.start_s) || !std::isfinite(wave.end_s))
      bad(file, where, "span [" + fixed(wave.start_s, 6) + ", " + fixed(wave.end_s, 6) + "] s", "0 <= start_s <= end_s");
    const json& slices = field(file, wj, where, "slices", json::value_t::array, "a list of slices");
    for (size_t k = 0; k < slices.size(); ++k) {
      const std::string sw = where + ".slices." + std::to_string(k);
      const json& sj = slices[k];
      if (!sj.is_object()) bad(file, sw, "expected an object", "a slice");
      only_keys(file, sj, sw, {"metaop", "first_layer", "last_layer", "n", "tp", "start_s", "end_s", "devices", "rows"});
      Slice sl;
      sl.metaop = field(file, sj, sw, "metaop", json::value_t::number_integer, "a MetaOp id").get<int>();
      sl.first_layer = field(file, sj, sw, "first_layer", json::value_t::number_integer, "a layer index").get<int>();
      sl.last_layer = field(file, sj, sw, "last_layer", json::value_t::number_integer, "a layer index").get<int>();
      sl.n = field(file, sj, sw, "n", json::value_t::number_integer, "a device count").get<int>();
      sl.start_s = field(file, sj, sw, "start_s", json::value_t::number_float, "seconds").get<double>();
      sl.end_s = field(file, sj, sw, "end_s", json::value_t::number_float, "seconds").get<double>();
      if (sl.metaop < 0 || sl.metaop >= static_cast<int>(mg.metaops.size()))
        bad(file, sw + ".metaop", "no MetaOp " + std::to_string(sl.metaop), "a MetaOp id of this scenario");
      if (sl.n < 1) bad(file, sw + ".n", std::to_string(sl.n) + " devices", "a positive device count");
      const int layout_tp = layout_cost.metaop(sl.metaop).tp;
      sl.tp = slice_tp(sl.n, layout_tp);  // follows from the layout and n: stated only to be read
      if (sj.contains("tp") || sl.tp > 1) {
        const int stated = sj.contains("tp") ? field(file, sj, sw, "tp", json::value_t::number_integer, "the layout's degree").get<int>() : 1;
        if (stated != sl.tp)
          bad(file, sw + ".tp", std::to_string(stated) + " differs from its component's degree " + std::to_string(sl.tp),
              "the layout's degree, or n below it");
      }
      if (sl.n % sl.tp != 0 || layout_tp % sl.tp != 0)
        bad(file, sw + ".n", std::to_string(sl.n) + " devices",
            "a multiple of the component's tp " + std::to_string(layout_tp) + ", or a divisor of it");
      if (sj.contains("devices")) {
        const json& d = field(file, sj, sw, "devices", json::value_t::array, "distinct device ids below gpus");
        std::set<int> seen;
        for (const json& id : d) {
          if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() >= p.gpus ||
              !seen.insert(id.get<int>()).second)
            bad(file, sw + ".devices", "'" + id.dump() + "' is not a distinct device id", "distinct ids 0.." + std::to_string(p.gpus - 1));
          sl.devices.push_back(id.get<int>());
        }
        if (!sl.devices.empty() && static_cast<int>(sl.devices.size()) != sl.n)
          bad(file, sw + ".devices", std::to_string(sl.devices.size()) + " devices for n = " + std::to_string(sl.n), "n device ids");
        // TP groups are consecutive entries, tp at a time; any distinct ids (placement keeps
        // them inside a node where it can).
      }
      if (sj.contains("rows")) {  // derived from n, tp and the batch: an edit would be ignored
        const int batch = static_cast<int>(mg.metaops[static_cast<size_t>(sl.metaop)].shape.batch);
        if (batch % sl.dp() != 0)
          bad(file, sw + ".n", std::to_string(sl.dp()) + " data-parallel groups do not divide the batch " + std::to_string(batch),
              "n / tp dividing the batch");
        if (sj.at("rows") != json(device_rows(batch, sl.n, sl.tp)))
          bad(file, sw + ".rows", "differ from the rows n = " + std::to_string(sl.n) + " gives",
              "no rows, or device k's rows [g B/dp, (g+1) B/dp) of the batch B = " + std::to_string(batch) +
                  " with g = k / tp, dp = n / tp (they follow from n; change n)");
      }
      wave.slices.push_back(sl);
    }
    p.waves.push_back(std::move(wave));
  }
  if (j.contains("schedule_from") && j["schedule_from"].is_string()) p.schedule_from = j["schedule_from"].get<std::string>();
  p.sync = sync_policy(p.system, s.planner);  // a file without "sync": the system's own settings
  if (j.contains("sync")) {
    const json& sj = field(file, j, "", "sync", json::value_t::object, "the weight sync settings");
    const std::string allowed = "a count of parameters, 0 to 10^9";
    auto count = [&](const char* key) {
      const std::int64_t v = field(file, sj, "sync", key, json::value_t::number_integer, allowed).get<std::int64_t>();
      if (v < 0 || v > 1'000'000'000) bad(file, std::string("sync.") + key, std::to_string(v), allowed);
      return v;
    };
    p.sync.framework = field(file, sj, "sync", "framework", json::value_t::string, "a name").get<std::string>();
    p.sync.bucket_params = count("bucket_params");
    p.sync.bucket_params_per_rank = count("bucket_params_per_rank");
    p.sync.first_bucket_params = count("first_bucket_params");
    const std::string dtype = field(file, sj, "sync", "grad_reduce_dtype", json::value_t::string, "fp32 or bf16").get<std::string>();
    if (dtype != "fp32" && dtype != "bf16") bad(file, "sync.grad_reduce_dtype", "'" + dtype + "'", "fp32 or bf16");
    p.sync.grad_bytes = dtype == "fp32" ? 4 : 2;
    for (const auto& [key, value] : sj.items())
      if (key != "framework" && key != "bucket_params" && key != "bucket_params_per_rank" &&
          key != "first_bucket_params" && key != "grad_reduce_dtype")
        bad(file, "sync." + key, "unknown key",
            "framework, bucket_params, bucket_params_per_rank, first_bucket_params, grad_reduce_dtype");
  }
  if (j.contains("notes") && j["notes"].is_array())
    for (const json& n : j["notes"])
      if (n.is_string()) p.notes.push_back(n.get<std::string>());
  const double stated_s = j.contains("planned_s") && j["planned_s"].is_number() ? j["planned_s"].get<double>() : -1;
  for (Wave& w : p.waves)
    for (Slice& sl : w.slices) sl.order_s = sl.start_s;  // as written: the programs' order (plan.h)
  const int retimed = retime_plan(p, mg, cost);
  p.finish();
  if (retimed > 0)
    p.notes.push_back(file + ": times re-derived from the allocation: " + std::to_string(retimed) +
                      " slice(s) moved or changed length; planned " + fixed(stated_s * 1e3, 3) + " -> " +
                      fixed(p.planned_s * 1e3, 3) + " ms");
  std::string problem = check_plan(p, mg, cost);
  if (!problem.empty()) throw InputError(file + ": " + problem + "; allowed: a sound plan of this scenario");
  return p;
}

}  // namespace
}  // namespace spindle
