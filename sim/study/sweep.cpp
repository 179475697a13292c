// Sweep expansion and study points (see sweep.h).
#include "sim/study/sweep.h"

#include <algorithm>
#include <cstdio>

#include "planner/config/config_reader.h"
#include "planner/config/toml_reader.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {
namespace fs = std::filesystem;
using config::Location;
using config::Value;

namespace {

const char* kAllowedSweep =
    "[sweep] (or [[sweep]] tables) with mode = \"cartesian\" | \"zip\" and dotted scenario keys set to lists, "
    "such as \"cluster.nodes\" = [1, 2, 4]";

std::string value_text(const Value& v) {
  switch (v.type()) {
    case Value::Type::kString: return v.string();
    case Value::Type::kInteger: return std::to_string(v.integer());
    case Value::Type::kFloat: return exact(v.floating());  // distinct values stay distinct
    case Value::Type::kBoolean: return v.boolean() ? "true" : "false";
    case Value::Type::kArray: {
      std::string t = "[";
      for (size_t i = 0; i < v.array().size(); ++i) t += (i ? ", " : "") + value_text(v.array()[i]);
      return t + "]";
    }
    case Value::Type::kTable: {
      std::string t = "{";
      for (size_t i = 0; i < v.table().entries().size(); ++i)
        t += (i ? ", " : "") + v.table().entries()[i].key + " = " + value_text(v.table().entries()[i].value);
      return t + "}";
    }
  }
  return "?";
}

// More points than any study runs (a point is a planning and a simulation): a bigger sweep is
// almost always a typo, and expanding 10^20 points would exhaust memory first.
constexpr size_t kMaxPoints = 1'000'000;

struct Axis {
  std::string key;
  Location loc;
  std::vector<Value> values;
};

// Flattens one sweep table into axes; nested tables (cluster.nodes written unquoted) become
// dotted keys.
void collect_axes(const config::Table& t, const std::string& prefix, std::vector<Axis>& out) {
  for (const config::Entry& e : t.entries()) {
    const std::string key = prefix.empty() ? e.key : prefix + "." + e.key;
    if (prefix.empty() && e.key == "mode") continue;
    if (e.value.is_table()) {
      collect_axes(e.value.table(), key, out);
      continue;
    }
    if (e.value.type() != Value::Type::kArray)
      config::fail(e.value.loc(), "sweep." + key,
                   std::string("expected a list of values, found ") + Value::type_name(e.value.type()),
                   "a list such as [1, 2, 4]");
    if (e.value.array().empty()) config::fail(e.value.loc(), "sweep." + key, "an empty list", "at least one value");
    for (const Value& v : e.value.array()) {
      if (key == "tasks") {
        bool names = v.type() == Value::Type::kArray && !v.array().empty();
        if (names)
          for (const Value& n : v.array()) names = names && n.type() == Value::Type::kString;
        if (!names)
          config::fail(v.loc(), "sweep.tasks", "each value must be a non-empty list of task names",
                       "tasks = [[\"a\", \"b\"], [\"a\", \"b\", \"c\"]]");
      }
      if (key == "scenario.extends" && v.type() != Value::Type::kString)
        config::fail(v.loc(), "sweep.scenario.extends", "each value must be a file name",
                     "scenario files relative to the study file");
    }
    for (const Axis& a : out)
      if (a.key == key) config::fail(e.key_loc, "sweep." + key, "swept twice in one table", "each key once");
    out.push_back(Axis{key, e.value.loc(), e.value.array()});
  }
}

std::vector<std::vector<SweepCoord>> expand_table(const Value& table, const std::string& path) {
  config::TableReader r(table, path);
  const std::string mode = r.choice_or("mode", "cartesian", {"cartesian", "zip"});
  std::vector<Axis> axes;
  collect_axes(table.table(), "", axes);
  if (axes.empty()) config::fail(table.loc(), path, "sweeps no key", kAllowedSweep);
  std::vector<std::vector<SweepCoord>> points;
  auto coord = [](const Axis& a, size_t i) { return SweepCoord{a.key, a.values[i], value_text(a.values[i])}; };
  if (mode == "zip") {
    for (const Axis& a : axes)
      if (a.values.size() != axes.front().values.size())
        config::fail(a.loc, path + "." + a.key,
                     "zip needs lists of one length: " + std::to_string(a.values.size()) + " values here, " +
                         std::to_string(axes.front().values.size()) + " in " + axes.front().key,
                     "lists of equal length, or mode = \"cartesian\"");
    for (size_t i = 0; i < axes.front().values.size(); ++i) {
      std::vector<SweepCoord> p;
      for (const Axis& a : axes) p.push_back(coord(a, i));
      points.push_back(std::move(p));
    }
    return points;
  }
  size_t count = 1;  // checked before expanding: 20 lists of 10 values are 10^20 points
  for (const Axis& a : axes) {
    count = count > kMaxPoints / a.values.size() ? kMaxPoints + 1 : count * a.values.size();
  }
  if (count > kMaxPoints)
    config::fail(table.loc(), path, "crosses into more than " + std::to_string(kMaxPoints) + " points",
                 "at most " + std::to_string(kMaxPoints) + " points per study (split it, or zip lists with mode = \"zip\")");
  std::vector<size_t> at(axes.size(), 0);  // odometer: the last key varies fastest
  while (true) {
    std::vector<SweepCoord> p;
    for (size_t k = 0; k < axes.size(); ++k) p.push_back(coord(axes[k], at[k]));
    points.push_back(std::move(p));
    size_t k = axes.size();
    while (k > 0 && ++at[k - 1] == axes[k - 1].values.size()) at[--k] = 0;
    if (k == 0) break;
  }
  return points;
}

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    if (ok) out += c;
    else if (!out.empty() && out.back() != '_') out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

}  // namespace

std::string SweepPoint::label() const {
  std::string t;
  for (size_t i = 0; i < coords.size(); ++i) t += (i ? ", " : "") + coords[i].key + "=" + coords[i].text;
  return t;
}

std::string SweepPoint::slug() const {
  char head[16];
  std::snprintf(head, sizeof head, "%03d", index);
  std::string s = head;
  for (const SweepCoord& c : coords) {
    const std::string leaf = c.key.substr(c.key.rfind('.') == std::string::npos ? 0 : c.key.rfind('.') + 1);
    std::string v = c.key == "scenario.extends" ? fs::path(c.text).stem().string() : c.text;
    s += "-" + sanitize(c.key == "scenario.extends" ? v : leaf + "-" + (sanitize(v).empty() ? "none" : v));
  }
  return s.size() > 96 ? s.substr(0, 96) : s;
}

bool is_study(const Value& root) { return root.is_table() && root.table().find("sweep") != nullptr; }

bool is_study_file(const fs::path& file) { return is_study(config::parse_toml_file(file)); }

Study read_study(const Value& root, const std::string& file) {
  Study st;
  st.file = file;
  st.name = fs::path(file).stem().string();
  if (!root.is_table()) config::fail(root.loc(), "", "expected a table", kAllowedSweep);
  if (const Value* info = root.table().find("study")) {
    config::TableReader r(*info, "study");
    st.name = r.string_or("name", st.name, "a name for the study's output folder");
    st.title = r.string_or("title", "", "a one-line description");
    st.paper_speedups = r.string_or("paper_speedups", "", "a data file of published speedups, relative to the study");
    st.x_key = r.string_or("x", "", "a swept key for the plots' x axis");
    r.finish();
  }
  const Value* sweep = root.table().find("sweep");
  if (sweep == nullptr) config::fail(root.loc(), "", "no [sweep] table", kAllowedSweep);
  std::vector<std::vector<SweepCoord>> all;
  if (sweep->is_table()) {
    all = expand_table(*sweep, "sweep");
  } else if (sweep->type() == Value::Type::kArray && !sweep->array().empty()) {
    for (size_t i = 0; i < sweep->array().size(); ++i) {
      auto more = expand_table(sweep->array()[i], "sweep." + std::to_string(i));
      all.insert(all.end(), more.begin(), more.end());
      if (all.size() > kMaxPoints)
        config::fail(sweep->array()[i].loc(), "sweep." + std::to_string(i),
                     "brings the study to more than " + std::to_string(kMaxPoints) + " points",
                     "at most " + std::to_string(kMaxPoints) + " points per study");
    }
  } else {
    config::fail(sweep->loc(), "sweep", "expected a table or an array of tables", kAllowedSweep);
  }
  for (size_t i = 0; i < all.size(); ++i) {
    for (const SweepCoord& c : all[i])
      if (std::find(st.keys.begin(), st.keys.end(), c.key) == st.keys.end()) st.keys.push_back(c.key);
    st.points.push_back(SweepPoint{static_cast<int>(i), std::move(all[i])});
  }
  if (!st.x_key.empty() && std::find(st.keys.begin(), st.keys.end(), st.x_key) == st.keys.end()) {
    const Value* x = root.table().find("study")->table().find("x");
    config::fail(x->loc(), "study.x", "'" + st.x_key + "' is not swept", "one of " + config::join(st.keys));
  }
  st.base = Value(config::Table{}, root.loc());
  for (const config::Entry& e : root.table().entries())
    if (e.key != "study" && e.key != "sweep") st.base.table().set(e.key, e.value, e.key_loc);
  return st;
}

Study read_study_file(const fs::path& file) { return read_study(config::parse_toml_file(file), file.string()); }

Scenario load_point(const Study& study, int index, const LoadOptions& options) {
  if (index < 0 || index >= static_cast<int>(study.points.size()))
    throw InputError(study.file + ": --point " + std::to_string(index) + ": no such point; allowed: 0.." +
                     std::to_string(study.points.size() - 1));
  const SweepPoint& p = study.points[static_cast<size_t>(index)];
  Value root = study.base;
  LoadOptions opts = options;
  try {
    for (const SweepCoord& c : p.coords) {
      if (c.key == "tasks") {
        opts.only_tasks.clear();
        for (const Value& n : c.value.array()) opts.only_tasks.push_back(n.string());
      } else if (c.key == "scenario.extends") {
        config::set_path(root, c.key, c.value);  // before the base file is read
      } else {
        opts.values.emplace_back(c.key, c.value);  // after it, as --set
      }
    }
    return load_scenario_tree(std::move(root), study.file, fs::path(study.file).parent_path(), opts);
  } catch (const InputError& e) {
    throw InputError(study.file + ": sweep point " + std::to_string(index) + " (" + p.label() + "): " + e.what());
  }
}

}  // namespace spindle
