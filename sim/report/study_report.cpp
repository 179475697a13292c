// A study's index.html, points.csv and sweep plots, from the folders its points left (see
// html_report.h); the published speedups come from the study's data file (paper_speedups).
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "planner/config/config_reader.h"
#include "planner/config/toml_reader.h"
#include "sim/report/html_report.h"
#include "sim/report/run_results.h"
#include "sim/report/svg_charts.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Coord {
  std::string key, value;
  bool numeric = false;
  double number = 0;
};

struct PointRow {
  int index = 0;
  std::string slug, label;
  std::vector<Coord> coords;
  bool done = false;
  RunResults run;  // summary only
  const Coord* coord(const std::string& key) const {
    for (const Coord& c : coords)
      if (c.key == key) return &c;
    return nullptr;
  }
};

struct PaperEntry {
  std::string model, baseline, note;
  std::vector<std::string> scenarios;
  int gpus = 0;  // 0: any
  double speedup = 0, range_lo = 0, range_hi = 0;
};

struct PaperData {
  std::string citation, note;
  std::vector<PaperEntry> entries;
};

PaperData read_paper(const fs::path& file) {
  const config::Value root = config::parse_toml_file(file);
  config::TableReader top(root, "");
  PaperData d;
  config::TableReader src = top.table("source");
  d.citation = src.string("citation", "the publication the numbers come from");
  d.note = src.string_or("note", "", "how the numbers were read");
  src.finish();
  const config::Value* list = top.find("speedup");
  if (list == nullptr || list->type() != config::Value::Type::kArray)
    config::fail(top.loc(), "speedup", "missing [[speedup]] entries", "[[speedup]] tables");
  for (size_t i = 0; i < list->array().size(); ++i) {
    config::TableReader r(list->array()[i], "speedup." + std::to_string(i));
    PaperEntry e;
    e.model = r.string("model", "the paper's model name");
    e.scenarios = r.string_list_or("scenarios", "scenario names of this model, as in [scenario] name");
    e.gpus = static_cast<int>(r.integer_or("gpus", 0, 0, 1 << 20));
    e.baseline = r.string("baseline", "the system the paper compares with");
    e.note = r.string_or("note", "");
    if (r.has("range")) {
      const config::Value* v = r.find("range");
      if (v->type() != config::Value::Type::kArray || v->array().size() != 2)
        config::fail(v->loc(), r.key_path("range"), "expected [low, high]", "two numbers");
      auto val = [&](const config::Value& x) {
        if (x.type() == config::Value::Type::kInteger) return static_cast<double>(x.integer());
        if (x.type() != config::Value::Type::kFloat)
          config::fail(x.loc(), r.key_path("range"), "expected [low, high]", "two numbers");
        return x.floating();
      };
      e.range_lo = val(v->array()[0]);
      e.range_hi = val(v->array()[1]);
    } else {
      e.speedup = r.number("speedup", 0.01, 100);
    }
    r.finish();
    d.entries.push_back(std::move(e));
  }
  top.finish();
  return d;
}

std::string csv_field(const std::string& s) {
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

const SystemRun* system_of(const PointRow& p, const std::string& name) { return p.done ? p.run.find(name) : nullptr; }

std::string speedup_text(const SystemRun* s) { return s != nullptr && s->speedup > 0 ? fixed(s->speedup, 2) + "x" : "-"; }

std::string paper_table(const PaperData& paper, const std::vector<PointRow>& points) {
  std::string t =
      "<table>\n<tr><th class=\"l\">model (paper)</th><th>GPUs</th><th class=\"l\">our scenarios: Spindle's simulated "
      "speedup over sequential</th><th>ours, best</th><th>ours, best (spindle-paper)</th><th>paper</th><th "
      "class=\"l\">paper's baseline</th></tr>\n";
  for (const PaperEntry& e : paper.entries) {
    std::set<int> sizes;
    if (e.gpus > 0) sizes.insert(e.gpus);
    for (const PointRow& p : points)
      if (p.done && e.gpus == 0 &&
          std::find(e.scenarios.begin(), e.scenarios.end(), p.run.scenario) != e.scenarios.end())
        sizes.insert(p.run.gpus);
    for (int gpus : sizes) {
      std::string ours;
      double best = 0, best_paper = 0;
      for (const PointRow& p : points) {
        if (!p.done || p.run.gpus != gpus ||
            std::find(e.scenarios.begin(), e.scenarios.end(), p.run.scenario) == e.scenarios.end())
          continue;
        const SystemRun* s = p.run.find("spindle");
        const SystemRun* sp = p.run.find("spindle-paper");
        ours += (ours.empty() ? "" : ", ") + p.run.scenario + " " + speedup_text(s);
        if (s != nullptr) best = std::max(best, s->speedup);
        if (sp != nullptr) best_paper = std::max(best_paper, sp->speedup);
      }
      const std::string published = e.speedup > 0 ? fixed(e.speedup, 2) + "x"
                                                  : fixed(e.range_lo, 2) + "-" + fixed(e.range_hi, 2) + "x";
      t += "<tr><td class=\"l\">" + html_escape(e.model) + "</td><td>" + std::to_string(gpus) + "</td><td class=\"l\">" +
           html_escape(ours.empty() ? "not run" : ours) + "</td><td>" + (best > 0 ? fixed(best, 2) + "x" : "-") +
           "</td><td>" + (best_paper > 0 ? fixed(best_paper, 2) + "x" : "-") + "</td><td>" + published +
           (e.note.empty() ? "" : " <span class=\"note\">(" + html_escape(e.note) + ")</span>") +
           "</td><td class=\"l\">" + html_escape(e.baseline) + "</td></tr>\n";
    }
  }
  return t + "</table>\n<p class=\"note\">Paper: " + html_escape(paper.citation) +
         (paper.note.empty() ? "" : ". " + html_escape(paper.note)) +
         ". Ours: simulated iteration of <code>sequential</code> (every task after the other on the whole cluster, as "
         "Megatron-LM and DeepSpeed run them) over Spindle's; the paper's speedups are measured on A800 GPUs.</p>\n";
}

}  // namespace

void check_paper_speedups(const fs::path& file) { read_paper(file); }

StudyReport write_study_report(const fs::path& dir) {
  const fs::path pj = dir / "points.json";
  std::error_code ec;
  if (!fs::is_regular_file(pj, ec))
    throw InputError(dir.string() + ": no points.json; allowed: a study folder written by spindle-sim STUDY.toml");
  json meta;
  try {
    meta = json::parse(read_file(pj));
  } catch (const json::exception& e) {
    throw InputError(pj.string() + ": not JSON (" + e.what() + "); allowed: points.json written by spindle-sim");
  }
  const std::string name = meta.value("study", "study");
  std::vector<std::string> keys = meta.value("keys", std::vector<std::string>{});
  std::vector<PointRow> points;
  std::vector<std::string> systems;
  for (const json& p : meta["points"]) {
    PointRow row;
    row.index = p["index"].get<int>();
    row.slug = p["slug"].get<std::string>();
    row.label = p["label"].get<std::string>();
    for (const json& c : p["coords"]) {
      Coord co{c["key"].get<std::string>(), c["value"].get<std::string>()};
      if (c.contains("number")) {
        co.numeric = true;
        co.number = c["number"].get<double>();
      }
      row.coords.push_back(co);
    }
    const fs::path pdir = dir / "points" / row.slug;
    row.done = fs::is_regular_file(pdir / "done", ec) && fs::is_regular_file(pdir / "summary.json", ec);
    if (row.done) {
      row.run = read_run(pdir, 0);
      for (const SystemRun& s : row.run.systems)
        if (std::find(systems.begin(), systems.end(), s.name) == systems.end()) systems.push_back(s.name);
    }
    points.push_back(std::move(row));
  }
  const int done = static_cast<int>(std::count_if(points.begin(), points.end(), [](const PointRow& p) { return p.done; }));

  // points.csv, one row per point and system, and the same rows as a text table for the
  // terminal. Text columns are quoted in the CSV (and a sweep key's name in its header).
  struct Column {
    std::string name;
    bool quote_name = false, quote_cells = false;
  };
  std::vector<Column> columns = {{"index"}, {"slug", false, true}};
  for (const std::string& k : keys) columns.push_back({k, true, true});
  for (const char* c : {"scenario", "gpus", "system", "planned_ms", "simulated_ms", "speedup_vs_sequential",
                        "gpu_utilization"})
    columns.push_back({c, false, std::string(c) == "scenario" || std::string(c) == "system"});
  // A fault sweep: each system's time on the healthy cluster and its slowdown there.
  bool faults = false;
  for (const PointRow& p : points)
    for (const SystemRun& s : p.run.systems) faults = faults || (p.done && s.healthy_s > 0);
  if (faults)
    for (const char* c : {"healthy_ms", "slowdown_vs_healthy"}) columns.push_back({c});
  std::vector<std::vector<std::string>> rows;
  for (const PointRow& p : points) {
    if (!p.done) continue;
    for (const SystemRun& s : p.run.systems) {
      std::vector<std::string> row = {std::to_string(p.index), p.slug};
      for (const std::string& k : keys) row.push_back(p.coord(k) ? p.coord(k)->value : "");
      for (const std::string& v : {p.run.scenario, std::to_string(p.run.gpus), s.name, fixed(s.planned_s * 1e3, 4),
                                   fixed(s.simulated_s * 1e3, 4), s.speedup > 0 ? fixed(s.speedup, 4) : "",
                                   fixed(s.utilization, 4)})
        row.push_back(v);
      if (faults) {
        // A point without faults is its own healthy cluster; a row of a faulted point with no
        // healthy counterpart (the placement ablation) has none.
        const double healthy = p.run.faults ? s.healthy_s : s.simulated_s;
        row.push_back(healthy > 0 ? fixed(healthy * 1e3, 4) : "");
        row.push_back(healthy > 0 ? fixed(s.simulated_s / healthy, 4) : "");
      }
      rows.push_back(std::move(row));
    }
  }
  std::string csv;
  TextTable table;
  for (size_t c = 0; c < columns.size(); ++c) {
    csv += (c ? "," : "") + (columns[c].quote_name ? csv_field(columns[c].name) : columns[c].name);
    table.add_column(columns[c].name, TextTable::Align::kRight);
  }
  csv += "\n";
  for (const std::vector<std::string>& row : rows) {
    for (size_t c = 0; c < columns.size(); ++c)
      csv += (c ? "," : "") + (columns[c].quote_cells ? csv_field(row[c]) : row[c]);
    csv += "\n";
    table.add_row(row);
  }
  write_file_atomically(dir / "points.csv", csv);

  std::string body = "<h1>Study " + html_escape(name) + "</h1>\n";
  if (!meta.value("title", std::string()).empty()) body += "<p>" + html_escape(meta["title"].get<std::string>()) + "</p>\n";
  body += "<p class=\"note\">" + std::to_string(done) + " of " + std::to_string(points.size()) +
          " points finished. Each point's own page has every system's Gantt chart, utilisation, scaling curves and "
          "traces.</p>\n";

  const std::string paper_file = meta.value("paper_speedups", std::string());
  if (!paper_file.empty())
    body += "<h2>Ours vs the paper</h2>\n" + paper_table(read_paper(dir / paper_file), points);

  // Points table.
  body += "<h2>Points: simulated iteration (ms) and speedup over sequential</h2>\n<table>\n<tr><th>#</th>";
  for (const std::string& k : keys) body += "<th class=\"l\">" + html_escape(k) + "</th>";
  body += "<th class=\"l\">scenario</th><th>GPUs</th>";
  for (const std::string& s : systems) body += "<th>" + html_escape(s) + "</th>";
  body += "</tr>\n";
  for (const PointRow& p : points) {
    body += "<tr><td>" + (p.done ? "<a href=\"points/" + html_escape(p.slug) + "/index.html\">" + std::to_string(p.index) + "</a>"
                                 : std::to_string(p.index)) + "</td>";
    for (const std::string& k : keys) body += "<td class=\"l\">" + html_escape(p.coord(k) ? p.coord(k)->value : "") + "</td>";
    if (!p.done) {
      body += "<td class=\"l missing\" colspan=\"" + std::to_string(2 + systems.size()) + "\">missing (not finished)</td></tr>\n";
      continue;
    }
    body += "<td class=\"l\">" + html_escape(p.run.scenario) + "</td><td>" + std::to_string(p.run.gpus) + "</td>";
    for (const std::string& sn : systems) {
      const SystemRun* s = system_of(p, sn);
      body += "<td>" + (s ? fixed(s->simulated_s * 1e3, 1) + " (" + speedup_text(s) + ")" : std::string("-")) + "</td>";
    }
    body += "</tr>\n";
  }
  body += "</table>\n";

  // Sweep plots: x = the last key with more than one value; one pair of plots per combination
  // of the other keys.
  std::string x_key;
  for (const std::string& k : keys) {
    std::set<std::string> values;
    for (const PointRow& p : points)
      if (p.coord(k)) values.insert(p.coord(k)->value);
    if (values.size() > 1) x_key = k;
  }
  if (!meta.value("x", std::string()).empty()) x_key = meta["x"].get<std::string>();
  if (!x_key.empty() && done > 0) {
    body += "<h2>Sweep: iteration time and speedup against " + html_escape(x_key) + "</h2>\n";
    // Keys that move with x (zipped with it: one value per x value over every point) belong to
    // the x axis, not to the lines; the other keys split the points into one plot each.
    std::set<std::string> with_x;
    for (const std::string& k : keys) {
      if (k == x_key) continue;
      std::map<std::string, std::set<std::string>> per_x;
      for (const PointRow& p : points)
        if (p.coord(x_key) && p.coord(k)) per_x[p.coord(x_key)->value].insert(p.coord(k)->value);
      if (!per_x.empty() && std::all_of(per_x.begin(), per_x.end(), [](const auto& e) { return e.second.size() == 1; }))
        with_x.insert(k);
    }
    std::vector<std::string> groups;
    std::map<std::string, std::vector<const PointRow*>> by_group;
    for (const PointRow& p : points) {
      if (!p.done || !p.coord(x_key)) continue;
      std::string g;
      for (const Coord& c : p.coords)
        if (c.key != x_key && !with_x.count(c.key)) g += (g.empty() ? "" : ", ") + c.key + "=" + c.value;
      if (!by_group.count(g)) groups.push_back(g);
      by_group[g].push_back(&p);
    }
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      const auto& members = by_group[groups[gi]];
      bool numeric = true;
      std::vector<std::string> labels;
      for (const PointRow* p : members) {
        numeric = numeric && p->coord(x_key)->numeric;
        if (std::find(labels.begin(), labels.end(), p->coord(x_key)->value) == labels.end())
          labels.push_back(p->coord(x_key)->value);
      }
      std::vector<Series> time, speed;
      for (const std::string& sn : systems) {
        Series t{sn, {}}, sp{sn, {}};
        for (const PointRow* p : members) {
          const SystemRun* s = system_of(*p, sn);
          if (s == nullptr) continue;
          const Coord* c = p->coord(x_key);
          const double x = numeric ? c->number
                                   : static_cast<double>(std::find(labels.begin(), labels.end(), c->value) - labels.begin());
          t.points.emplace_back(x, s->simulated_s * 1e3);
          if (s->speedup > 0) sp.points.emplace_back(x, s->speedup);
        }
        time.push_back(std::move(t));
        speed.push_back(std::move(sp));
      }
      const std::string what = groups[gi].empty() ? name : groups[gi];
      const std::string tf = "sweep-" + std::to_string(gi) + "-time.svg", sf = "sweep-" + std::to_string(gi) + "-speedup.svg";
      write_file_atomically(dir / tf, line_plot_svg(what + ": simulated iteration", x_key, "ms", time,
                                                    numeric ? std::vector<std::string>{} : labels));
      write_file_atomically(dir / sf, line_plot_svg(what + ": speedup over sequential", x_key, "x", speed,
                                                    numeric ? std::vector<std::string>{} : labels));
      body += "<h3>" + html_escape(what) + "</h3>\n<div class=\"pair\"><img src=\"" + tf +
              "\" alt=\"iteration time\">\n<img src=\"" + sf + "\" alt=\"speedup\"></div>\n";
    }
  }

  // Gantt charts per point: Spindle vs sequential.
  body += "<h2>Gantt charts per point: Spindle's waves vs sequential</h2>\n";
  bool open = true;
  for (const PointRow& p : points) {
    if (!p.done) continue;
    body += std::string("<details") + (open ? " open" : "") + "><summary>point " + std::to_string(p.index) + ": " +
            html_escape(p.label) + " (" + html_escape(p.run.scenario) + ", " + std::to_string(p.run.gpus) +
            " GPUs) - <a href=\"points/" + html_escape(p.slug) + "/index.html\">page</a></summary>\n";
    for (const char* sn : {"spindle", "sequential"}) {
      const std::string f = "points/" + p.slug + "/gantt-" + sn + ".svg";
      if (fs::is_regular_file(dir / f, ec))
        body += "<img src=\"" + html_escape(f) + "\" alt=\"Gantt chart of " + sn + "\">\n";
    }
    body += "</details>\n";
    open = false;
  }
  body += "<h2>Files</h2>\n<ul>\n<li><a href=\"points.csv\">points.csv</a> (every point and system)</li>\n"
          "<li><a href=\"points.json\">points.json</a> (the sweep's points)</li>\n"
          "<li><a href=\"study.toml\">study.toml</a> (the study file)</li>\n";
  if (!paper_file.empty())
    body += "<li><a href=\"" + html_escape(paper_file) + "\">" + html_escape(paper_file) + "</a> (published speedups)</li>\n";
  body += "</ul>\n";
  if (fs::is_regular_file(dir / "study.toml", ec))
    body += "<h2>Study file</h2>\n<pre>" + html_escape(read_file(dir / "study.toml")) + "</pre>\n";
  const fs::path index = dir / "index.html";
  write_file_atomically(index, html_page("Study " + name + " - spindle-sim report", body));
  return {index, "Points (" + (dir / "points.csv").string() + ")\n" + table.render()};
}

}  // namespace spindle
