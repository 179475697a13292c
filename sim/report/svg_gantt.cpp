// Gantt chart of one simulated iteration (see svg_charts.h).
#include <algorithm>
#include <cmath>

#include "sim/report/svg_canvas.h"
#include "sim/report/svg_charts.h"
#include "traces/text_table.h"

namespace spindle {

namespace {

constexpr double kLeft = 112, kPlotWidth = 980, kTop = 58, kNodeGap = 6;

std::string bar_fill(const RunResults& r, const Bar& b) {
  if (b.kind == BarKind::kTransfer) return "url(#transfer)";
  if (b.kind == BarKind::kSync) return "#4a4a4a";
  int task = -1;
  if (b.metaop >= 0 && b.metaop < static_cast<int>(r.metaops.size()))
    task = task_colour(r.metaops[static_cast<size_t>(b.metaop)]);
  if (task < 0) return b.kind == BarKind::kForward ? "#9a9a9a" : "#666666";
  return svg::palette(b.kind == BarKind::kForward ? task : task + 10);  // backward: the darker shade
}

// Legend entries flowing left to right, wrapping; returns the height used.
double legend(svg::Canvas& c, double y, const std::vector<std::pair<std::string, std::string>>& items) {
  double x = kLeft;
  for (const auto& [fill, label] : items) {
    const double w = 18 + 6.5 * static_cast<double>(label.size()) + 14;
    if (x + w > kLeft + kPlotWidth) {
      x = kLeft;
      y += 16;
    }
    c.rect(x, y - 9, 12, 10, fill, "stroke=\"#333333\" stroke-width=\"0.5\"");
    c.text(x + 16, y, label, 10);
    x += w;
  }
  return y;
}

}  // namespace

std::string gantt_svg(const RunResults& r, const SystemRun& s, double time_scale_s, const std::string& clock) {
  const int gpus = std::max(1, r.gpus), gpn = std::max(1, r.gpus_per_node);
  const int nodes = (gpus + gpn - 1) / gpn;
  const double row = std::clamp(560.0 / gpus, 5.0, 16.0);
  const double rows_h = gpus * row + (nodes - 1) * kNodeGap;
  const double scale = time_scale_s > 0 ? time_scale_s : std::max(s.simulated_s, 1e-9);
  const int legend_lines = 1 + static_cast<int>(r.tasks.size()) / 6;
  const double height = kTop + rows_h + 56 + 16.0 * legend_lines;
  const std::string title = r.scenario + ": " + s.name + ", " + clock + " iteration " + fixed(s.simulated_s * 1e3, 2) +
                            " ms, " + std::to_string(s.waves) + " waves, GPU utilisation " +
                            fixed(100 * s.utilization, 1) + "%";
  svg::Canvas c(kLeft + kPlotWidth + 24, height, title);
  c.defs(
      "<pattern id=\"transfer\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" "
      "patternTransform=\"rotate(45)\"><rect width=\"4\" height=\"4\" fill=\"#d9d9d9\"/>"
      "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"4\" stroke=\"#8c8c8c\" stroke-width=\"2\"/></pattern>\n");
  c.text(kLeft, 18, title, 13, "start", "font-weight=\"bold\"");
  auto x_of = [&](double t) { return kLeft + t / scale * kPlotWidth; };
  auto y_of = [&](int gpu) { return kTop + gpu * row + (gpu / gpn) * kNodeGap; };
  // Time grid.
  for (double t : svg::ticks(0, scale * 1e3, 8)) {
    c.line(x_of(t * 1e-3), kTop - 4, x_of(t * 1e-3), kTop + rows_h, "#e3e3e3");
    c.text(x_of(t * 1e-3), kTop + rows_h + 14, svg::tick_label(t), 10, "middle");
  }
  c.text(kLeft + kPlotWidth / 2, kTop + rows_h + 30, clock + " time (ms)", 11, "middle");
  size_t next = 0;
  for (int g = 0; g < gpus; ++g) {
    const double y = y_of(g);
    c.open_group("class=\"gpu-row\" data-gpu=\"" + std::to_string(g) + "\"");
    c.rect(kLeft, y, kPlotWidth, row - 1, "#f5f5f5");
    if (row >= 8 || g % gpn == 0) c.text(kLeft - 4, y + row - 2, "GPU " + std::to_string(g), std::min(10.0, row), "end");
    while (next < s.bars.size() && s.bars[next].gpu < g) ++next;
    for (; next < s.bars.size() && s.bars[next].gpu == g; ++next) {
      const Bar& b = s.bars[next];
      const double x = x_of(b.start_s), w = std::max(0.3, x_of(b.end_s) - x);
      const bool compute = b.kind == BarKind::kForward || b.kind == BarKind::kBackward;
      c.rect(x, y, w, row - 1, bar_fill(r, b), "", compute && w >= 2 ? b.name : "");
    }
    c.close_group();
  }
  for (int n = 0; n < nodes; ++n) {
    const double y0 = y_of(n * gpn), y1 = y_of(std::min(gpus, (n + 1) * gpn) - 1) + row - 1;
    c.line(kLeft - 50, y0, kLeft - 50, y1, "#555555", 2);
    c.text(kLeft - 54, (y0 + y1) / 2 + 4, "node " + std::to_string(n), 10, "end");
  }
  // Wave starts: forward waves dashed (labels F1, F2, ...), backward dotted (B1, ...).
  for (int pass = 0; pass < 2; ++pass) {
    const std::vector<double>& at = pass == 0 ? s.forward_wave_s : s.backward_wave_s;
    std::vector<std::pair<double, size_t>> marks;  // by time: backward waves run in reverse order
    for (size_t w = 0; w < at.size(); ++w)
      if (std::isfinite(at[w])) marks.emplace_back(at[w], w);
    std::sort(marks.begin(), marks.end());
    double last_label = -1e9;
    for (const auto& [t, w] : marks) {
      const double x = x_of(t);
      c.line(x, kTop - 4, x, kTop + rows_h, "#111111", 1,
             pass == 0 ? "stroke-dasharray=\"4 3\" class=\"wave\"" : "stroke-dasharray=\"1 2\" class=\"wave\"");
      if (x - last_label >= 18) {
        c.text(x, kTop - (pass == 0 ? 18 : 7), (pass == 0 ? "F" : "B") + std::to_string(w + 1), 9, "middle");
        last_label = x;
      }
    }
  }
  std::vector<std::pair<std::string, std::string>> items;
  for (size_t t = 0; t < r.tasks.size(); ++t) items.emplace_back(svg::palette(static_cast<int>(t)), r.tasks[t]);
  items.emplace_back("#9a9a9a", "shared by tasks");
  items.emplace_back(svg::palette(10), "backward: darker shade");
  items.emplace_back("url(#transfer)", "blocked on transfer");
  items.emplace_back("#4a4a4a", "blocked on weight sync");
  legend(c, kTop + rows_h + 48, items);
  c.text(kLeft + kPlotWidth, kTop + rows_h + 30, "F/B: wave starts (forward dashed, backward dotted)", 9, "end");
  return c.str();
}

}  // namespace spindle
