// Scaled-down scenarios (see model_scale.h).
#include "planner/config/model_scale.h"

#include "traces/errors.h"

namespace spindle {
namespace {

int shrink(int value, int factor) { return value <= 0 ? value : std::max(1, (value + factor - 1) / factor); }

}  // namespace

std::vector<ScaleFactors> scales() {
  return {{"full", 1, 1, 1, 1, 1, 1}, {"small", 8, 2, 4, 4, 2, 16}, {"tiny", 32, 4, 8, 16, 4, 128}};
}

ScaleFactors find_scale(const std::string& name) {
  std::string allowed;
  for (const ScaleFactors& f : scales()) {
    if (f.name == name) return f;
    allowed += (allowed.empty() ? "" : ", ") + f.name;
  }
  throw InputError("--scale " + name + ": unknown scale; allowed: " + allowed);
}

Scenario scale_scenario(const Scenario& s, const ScaleFactors& f) {
  Scenario out = s;
  for (Component& c : out.model.components) {
    c.heads = shrink(c.heads, f.heads);
    c.hidden = shrink(c.hidden, f.width);
    if (c.heads > 0) c.hidden = (c.hidden + c.heads - 1) / c.heads * c.heads;
    c.ffn = shrink(c.ffn, f.width);
    c.layers = shrink(c.layers, f.layers);
    c.tokens = shrink(c.tokens, f.tokens);
    c.queries = shrink(c.queries, f.tokens);
    c.out_tokens = shrink(c.out_tokens, f.tokens);
    c.patch_dim = shrink(c.patch_dim, f.features);
    c.vocab = shrink(c.vocab, f.vocab);
  }
  for (Task& t : out.tasks)
    for (auto& [component, tokens] : t.tokens) tokens = shrink(tokens, f.tokens);
  return out;
}

}  // namespace spindle
