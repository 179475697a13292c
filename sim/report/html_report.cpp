// A run's index.html and its pictures (see html_report.h); the study page is in
// study_report.cpp.
#include "sim/report/html_report.h"

#include <algorithm>
#include <vector>

#include "sim/report/run_results.h"
#include "sim/report/svg_canvas.h"
#include "sim/report/svg_charts.h"
#include "traces/atomic_file.h"
#include "traces/text_table.h"

namespace spindle {
namespace fs = std::filesystem;

std::string html_escape(const std::string& text) { return svg::escape(text); }

std::string html_page(const std::string& title, const std::string& body) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html_escape(title) +
         "</title>\n<style>\n"
         "body { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 24px; color: #222; max-width: 1200px; }\n"
         "table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }\n"
         "th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }\n"
         "th { background: #f0f0f0; } td.l, th.l { text-align: left; }\n"
         "img { max-width: 100%; border: 1px solid #ddd; margin: 4px 0; display: block; }\n"
         "pre { background: #f7f7f7; padding: 8px; overflow-x: auto; font-size: 12px; }\n"
         ".missing { color: #b00; font-weight: bold; } .note { color: #555; font-size: 13px; }\n"
         ".pair img { max-width: 100%; }\n"
         "</style>\n"
         // Marks pictures that did not load, and records on <body> how many did (the report test
         // reads data-images and data-errors from the loaded page).
         "<script>\n"
         "var reportErrors = 0;\n"
         "window.addEventListener('error', function () { reportErrors++; }, true);\n"
         "window.addEventListener('load', function () {\n"
         "  var imgs = document.images, ok = 0;\n"
         "  for (var i = 0; i < imgs.length; i++) {\n"
         "    if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; continue; }\n"
         "    var p = document.createElement('p'); p.className = 'missing';\n"
         "    p.textContent = 'picture did not load: ' + imgs[i].getAttribute('src');\n"
         "    imgs[i].parentNode.insertBefore(p, imgs[i]);\n"
         "  }\n"
         "  document.body.setAttribute('data-images', ok + '/' + imgs.length);\n"
         "  document.body.setAttribute('data-errors', String(reportErrors));\n"
         "});\n"
         "</script>\n</head>\n<body>\n" +
         body + "</body>\n</html>\n";
}

namespace {

std::string link(const std::string& file, const std::string& text) {
  return "<a href=\"" + html_escape(file) + "\">" + html_escape(text) + "</a>";
}

std::string img(const std::string& file, const std::string& alt) {
  return "<img src=\"" + html_escape(file) + "\" alt=\"" + html_escape(alt) + "\">\n";
}

std::string ms(double s) { return fixed(s * 1e3, 2); }

// Spindle and sequential first (the comparison the report is for), then the others in summary order.
std::vector<const SystemRun*> gantt_order(const RunResults& r) {
  std::vector<const SystemRun*> out;
  for (const char* first : {"spindle", "sequential"})
    if (const SystemRun* s = r.find(first)) out.push_back(s);
  for (const SystemRun& s : r.systems)
    if (std::find(out.begin(), out.end(), &s) == out.end()) out.push_back(&s);
  return out;
}

std::string summary_table(const RunResults& r) {
  std::string t =
      "<table>\n<tr><th class=\"l\">system</th><th>planned ms</th><th>simulated ms</th><th>speedup vs "
      "sequential</th><th>compute ms</th><th>transfer ms</th><th>sync ms</th><th>idle ms</th><th>GPU "
      "util</th><th>waves</th><th class=\"l\">trace</th></tr>\n";
  for (const SystemRun& s : r.systems) {
    t += "<tr><td class=\"l\">" + html_escape(s.name) + "</td><td>" + ms(s.planned_s) + "</td><td>" + ms(s.simulated_s) +
         "</td><td>" + (s.speedup > 0 ? fixed(s.speedup, 2) + "x" : "-") + "</td><td>" + ms(s.compute_s) + "</td><td>" +
         ms(s.transfer_s) + "</td><td>" + ms(s.sync_s) + "</td><td>" + ms(s.idle_s) + "</td><td>" +
         fixed(100 * s.utilization, 1) + "%</td><td>" + std::to_string(s.waves) + "</td><td class=\"l\">" +
         (s.trace.empty() ? "" : link(s.trace, s.trace)) + "</td></tr>\n";
  }
  return t + "</table>\n<p class=\"note\">Times of one simulated iteration; compute, transfer, sync and idle are "
             "means over GPUs. Traces open in Perfetto (ui.perfetto.dev, load the file) or chrome://tracing.</p>\n";
}

}  // namespace

// Above this many GPUs a run's page leaves out the Gantt and utilisation pictures: a row per GPU
// stops being readable, and reading every trace back costs several times its size in memory
// (16,384 GPUs: gigabytes of trace). The traces and results.h5 keep every interval.
constexpr int kPictureMaxGpus = 1024;

fs::path write_run_report(const fs::path& dir, const std::string& text) {
  const RunResults r = read_run(dir, kPictureMaxGpus);
  const bool pictures = r.gpus <= kPictureMaxGpus;
  std::error_code ec;
  std::string scenario_text = text;
  if (!text.empty()) write_file_atomically(dir / "scenario.txt", text);
  else if (fs::is_regular_file(dir / "scenario.txt", ec)) scenario_text = read_file(dir / "scenario.txt");
  double scale = 0;
  for (const SystemRun& s : r.systems) scale = std::max(scale, s.simulated_s);
  std::string gantts;
  bool first = true;
  if (!pictures)
    gantts = "<p class=\"note\">" + std::to_string(r.gpus) + " GPUs: Gantt and utilisation charts are drawn up to " +
             std::to_string(kPictureMaxGpus) + " GPUs; every GPU's busy intervals are in results.h5 and the traces.</p>\n";
  for (const SystemRun* s : pictures ? gantt_order(r) : std::vector<const SystemRun*>{}) {
    const std::string file = "gantt-" + s->name + ".svg";
    write_file_atomically(dir / file, gantt_svg(r, *s, scale));
    const bool headline = s->name == "spindle" || s->name == "sequential";
    if (!headline && first) {
      gantts += "<h3>The other systems</h3>\n";
      first = false;
    }
    gantts += (headline ? "<h3>" + html_escape(s->name) + "</h3>\n" : "<h4>" + html_escape(s->name) + "</h4>\n") +
              img(file, "Gantt chart of " + s->name);
  }
  if (pictures) write_file_atomically(dir / "utilization.svg", utilization_svg(r));
  write_file_atomically(dir / "scaling.svg", scaling_svg(r));
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "index.html" && e.path().filename().string().find(".tmp") == std::string::npos)
      files.push_back(e.path().filename().string());
  files.push_back("index.html");  // written below; the list names every file the folder will hold
  std::sort(files.begin(), files.end());
  std::string list = "<ul>\n";
  for (const std::string& f : files)
    if (f != "index.html") list += "<li>" + link(f, f) + "</li>\n";
  list += "</ul>\n";
  std::string body = "<h1>" + html_escape(r.scenario) + "</h1>\n<p class=\"note\">" + std::to_string(r.gpus) +
                     " GPUs (" + std::to_string(r.nodes) + (r.nodes == 1 ? " node x " : " nodes x ") + std::to_string(r.gpus_per_node) + "), " +
                     std::to_string(r.tasks.size()) + " tasks, " + std::to_string(r.metaops.size()) +
                     " MetaOps; simulated by spindle-sim.</p>\n";
  body += "<h2>Simulated iteration per system</h2>\n";
  if (!r.verdict.empty()) body += "<p class=\"verdict\">" + html_escape(r.verdict) + "</p>\n";
  body += summary_table(r);
  if (r.faults) {
    body += "<h2>Faults</h2>\n<p>" + html_escape(r.faults_description) + ": " + std::to_string(r.gpus) + " of " +
            std::to_string(r.healthy_gpus) + " GPUs planned and simulated (stragglers in place), against the healthy "
            "cluster; summary.txt also has the run with the stragglers' nodes drained.</p>\n<table>\n<tr><th>system</th>"
            "<th>healthy ms</th><th>faulted ms</th><th>slowdown</th></tr>\n";
    for (const SystemRun& s : r.systems)
      if (s.healthy_s > 0)
        body += "<tr><td>" + html_escape(s.name) + "</td><td>" + fixed(s.healthy_s * 1e3, 2) + "</td><td>" +
                fixed(s.simulated_s * 1e3, 2) + "</td><td>" + fixed(s.simulated_s / s.healthy_s, 2) + "x</td></tr>\n";
    body += "</table>\n";
  }
  body += "<h2>Gantt charts: Spindle's waves vs sequential</h2>\n<p class=\"note\">GPUs as rows grouped by node, "
          "time across on one scale for every system; compute coloured by task (backward darker), transfers hatched, "
          "weight sync dark grey; dashed lines: simulated start of each forward wave (F), dotted: backward (B).</p>\n" +
          gantts;
  if (pictures) body += "<h2>GPU utilisation over time</h2>\n" + img("utilization.svg", "utilisation over time");
  body += "<h2>Scaling curves T_m(n)</h2>\n" + img("scaling.svg", "scaling curves");
  body += "<h2>Files</h2>\n" + list;
  body += "<h2>Scenario</h2>\n<pre>" + html_escape(scenario_text) + "</pre>\n";
  const fs::path index = dir / "index.html";
  write_file_atomically(index, html_page(r.scenario + " - spindle-sim report", body));
  return index;
}

}  // namespace spindle
