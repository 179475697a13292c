// A study: one scenario file with a `[sweep]` table (or several `[[sweep]]` tables) whose keys
// are dotted scenario keys and whose values are lists; every point of the sweep is the
// scenario with one value per key set. Values are crossed (`mode = "cartesian"`, the default)
// or zipped (`mode = "zip"`, lists of one length). Two keys are special: `scenario.extends`
// picks the base scenario file of a point, `tasks` a subset of the tasks by name.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "planner/config/config_tree.h"
#include "planner/config/scenario.h"

namespace spindle {

struct SweepCoord {
  std::string key;      // dotted scenario key
  config::Value value;  // the point's value (located at the list element)
  std::string text;     // the value as a user reads it ("4", "50.0", "multitask-clip-4.toml", "[a, b]")
};

struct SweepPoint {
  int index = 0;                  // 0-based, in expansion order
  std::vector<SweepCoord> coords;
  std::string label() const;      // "cluster.nodes=2, scenario.extends=x.toml"
  std::string slug() const;       // "003-nodes-2-x" (folder name)
};

struct Study {
  std::string file;                 // as given
  std::string name;                 // [study] name, else the file's stem
  std::string title;                // [study] title ("" when absent)
  std::string paper_speedups;       // [study] paper_speedups: a data file, relative to the study file
  std::string x_key;                // [study] x: the swept key the sweep plots put across ("": the last that varies)
  config::Value base;               // the file without [study] and [sweep]
  std::vector<std::string> keys;    // every swept key, in first-seen order
  std::vector<SweepPoint> points;
};

// True when the file has a top-level `sweep` (a study rather than one scenario).
bool is_study(const config::Value& root);
bool is_study_file(const std::filesystem::path& file);

// Reads [study] and [sweep] strictly and expands the points. Throws InputError (file:line:col)
// on a malformed sweep; does not load the points (see load_point).
Study read_study(const config::Value& root, const std::string& file);
Study read_study_file(const std::filesystem::path& file);

// Point `index` of the study as a scenario, validated like one. A bad point is an InputError
// naming the study file, the point's coordinates and the scenario's own message.
Scenario load_point(const Study& study, int index, const LoadOptions& options = {});

}  // namespace spindle
