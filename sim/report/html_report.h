// The report a person opens locally, written from a finished run's files (run_results.h): a
// run's index.html (summary table, Gantt charts with Spindle and sequential first, utilisation,
// scaling curves, links to every file, the scenario) and a study's (the paper comparison, the
// points, sweep plots, each point's Gantt charts). Nothing loads from the network; a small
// inline script marks pictures that fail to load.
#pragma once

#include <filesystem>
#include <string>

namespace spindle {

// Writes DIR/gantt-<system>.svg, utilization.svg, scaling.svg and DIR/index.html for the run in
// DIR; `scenario_text` is shown as the scenario (file text, or a study point's coordinates and
// the study file) and kept as DIR/scenario.txt; "" reuses that file. Returns the path of
// index.html.
std::filesystem::path write_run_report(const std::filesystem::path& dir, const std::string& scenario_text);

// Writes DIR/index.html, DIR/points.csv and the sweep plots for the study in DIR (points.json,
// study.toml, points/<slug>/ as spindle-sim writes them); points not finished are listed as
// missing. Returns the path of index.html and points.csv's rows as a text table.
struct StudyReport {
  std::filesystem::path index;
  std::string points_table;  // titled with points.csv's path
};
StudyReport write_study_report(const std::filesystem::path& dir);

// Reads a study's published-speedups file as the report will (InputError naming file:line:col),
// so a bad one stops the study before any point runs.
void check_paper_speedups(const std::filesystem::path& file);

// The HTML page's shell: <head> with inline style and the picture check, then `body`.
std::string html_page(const std::string& title, const std::string& body);
std::string html_escape(const std::string& text);

}  // namespace spindle
