// `spindle-sim report` and `spindle-sim compare` (see study_commands.h).
#include "sim/study/study_commands.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <string>

#include "sim/report/compare.h"
#include "sim/report/compare_run.h"
#include "sim/report/html_report.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"
#include "traces/main_guard.h"

namespace spindle {
namespace fs = std::filesystem;

bool is_subcommand(int argc, char** argv) {
  if (argc < 2) return false;
  const std::string a = argv[1];
  return a == "report" || a == "compare" || a == "compare-run";
}

int run_subcommand(int argc, char** argv) {
  const std::string cmd = argv[1];
  CLI::App app{cmd == "report"
                   ? "spindle-sim report: rebuild index.html and the pictures of a run folder (out/<scenario>) or a "
                     "study folder (out/<study>, merging every shard's points)"
                   : cmd == "compare"
                   ? "spindle-sim compare: two results side by side (iteration time, per MetaOp GPU time and the "
                     "difference)"
                   : "spindle-sim compare-run: a simulated iteration against a measured one of the same plan "
                     "(iteration time, time per instruction kind, per compute slice, with the errors)"};
  app.name("spindle-sim " + cmd);
  std::string dir, a, b, system = "spindle";
  CLI::Option* html = nullptr;  // compare-run --html
  if (cmd == "report") {
    app.add_option("dir", dir, "A folder written by spindle-sim (summary.json) or by a study (points.json)")->required();
  } else if (cmd == "compare-run") {
    app.add_option("sim", a, "The simulated trace: spindle-sim's <system>.trace.json, or its folder with :SYSTEM "
                             "(default spindle)")
        ->required();
    app.add_option("run", b, "The measured trace of the same plan: spindle-run --plan <system>.plan.json --trace FILE")
        ->required();
    html = app.add_option("--html", dir, "Also write an HTML page with both Gantt charts on one time axis and the tables")
               ->type_name("FILE.html");
  } else {
    app.add_option("a", a, "A result: DIR, DIR/summary.json, optionally :SYSTEM (e.g. out/x/summary.json:sequential)")
        ->required();
    app.add_option("b", b, "B result, the same forms")->required();
    app.add_option("--system", system, "System of a side that names none")->capture_default_str();
  }
  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "spindle-sim " << cmd << ": " << e.what() << "; allowed: see spindle-sim " << cmd << " --help\n";
    return kExitBadInput;
  }
  const std::string program = "spindle-sim " + cmd;
  const bool html_given = html != nullptr && html->count() > 0;
  return run_guarded(program.c_str(), [&] {
    if (cmd == "compare") {
      std::cout << compare_text(a, b, system);
      return kExitOk;
    }
    if (cmd == "compare-run") {
      const RunComparison c = compare_run(a, b);
      if (html_given) {  // written before anything is printed
        if (fs::path(dir).extension() != ".html" || fs::path(dir).filename() == "index.html")
          throw InputError("--html '" + dir + "': allowed: a file name ending in .html other than index.html (the "
                           "report spindle-sim writes)");
        write_file_atomically(dir, compare_run_html(a, b, c));
      }
      std::cout << compare_run_text(c);
      if (html_given) std::cout << "\nCharts: " << dir << "\n";
      return kExitOk;
    }
    std::error_code ec;
    if (fs::is_regular_file(fs::path(dir) / "points.json", ec)) {
      const fs::path index = write_study_report(dir).index;  // written before anything is printed
      std::cout << "Report: " << index.string() << "\n";
    } else if (fs::is_regular_file(fs::path(dir) / "summary.json", ec)) {
      const fs::path index = write_run_report(dir, "");
      std::cout << "Report: " << index.string() << "\n";
    } else {
      throw InputError(dir + ": neither points.json nor summary.json; allowed: a folder written by spindle-sim");
    }
    return kExitOk;
  });
}

}  // namespace spindle
