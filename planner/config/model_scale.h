// --scale: the scenario's model shrunk by fixed factors so that it trains on a CPU (spindle-run,
// spindle-calibrate; spindle-sim simulates what those run). Widths (hidden, ffn) / w, heads / a,
// layers / l, token counts (tokens, queries, out_tokens, the tasks' own tokens) / t, patch
// features / p, vocabularies / v, each rounded up (at least 1, 0 layers stay 0) and a width
// rounded up to a multiple of its heads. Batches are unchanged:
// they set the contrastive chance level ln B.
//   full  : all factors 1
//   small : w 8, a 2, l 4, t 4, p 2, v 16
//   tiny  : w 32, a 4, l 8, t 16, p 4, v 128 (patch features shrink less: IMU has only 48)
#pragma once

#include <string>
#include <vector>

#include "planner/config/scenario.h"

namespace spindle {

struct ScaleFactors {
  std::string name;
  int width = 1, heads = 1, layers = 1, tokens = 1, features = 1, vocab = 1;
};

std::vector<ScaleFactors> scales();
// Throws InputError naming --scale and the allowed names.
ScaleFactors find_scale(const std::string& name);
Scenario scale_scenario(const Scenario& s, const ScaleFactors& f);

}  // namespace spindle
