// Utilisation over time, scaling curves and sweep line plots (see svg_charts.h).
#include <algorithm>
#include <cmath>

#include "sim/report/svg_canvas.h"
#include "sim/report/svg_charts.h"
#include "traces/text_table.h"

namespace spindle {

namespace {

struct Range {
  double lo, hi;
};

struct XAxis {
  Range range;  // log10 values when log
  bool log = false;
  std::vector<double> ticks{};  // empty: automatic
  std::vector<std::string> labels{};
};

// One framed plot with a line (and markers) per series and a legend on the right.
// Without markers, earlier series are drawn wider so that identical lines stay visible as
// nested bands instead of the last one hiding the others.
std::string plot(const std::string& title, const std::string& x_label, const std::string& y_label,
                 const std::vector<Series>& series, const XAxis& x, Range y, bool markers) {
  const double legend_w = 300, width = 600 + legend_w, height = 380;
  svg::Canvas c(width, height, title);
  c.text(20, 20, title, 13, "start", "font-weight=\"bold\"");
  svg::Frame f{70, 40, 500, 280, x.range.lo, x.range.hi, y.lo, y.hi, x.log};
  f.draw(c, x_label, y_label, x.ticks, x.labels);
  for (size_t k = 0; k < series.size(); ++k) {
    const std::string colour = svg::palette(static_cast<int>(k));
    std::vector<std::pair<double, double>> pts;
    for (const auto& [px, py] : series[k].points) pts.emplace_back(f.px(px), f.py(py));
    // A placement ablation ("spindle.sequential-placement") dashed: it often lies on its system.
    const std::string dash = series[k].name.find('.') != std::string::npos ? " stroke-dasharray=\"6 4\"" : "";
    const double stroke = markers ? 2 : 2 + 1.5 * static_cast<double>(series.size() - 1 - k);
    c.polyline(pts, colour, stroke, "class=\"series\"" + dash);
    if (markers)
      for (size_t i = 0; i < pts.size(); ++i)
        c.circle(pts[i].first, pts[i].second, 3, colour, colour,
                 series[k].name + ": " + svg::tick_label(series[k].points[i].second));
    const double ly = 50 + 16.0 * static_cast<double>(k);
    c.line(600, ly - 4, 620, ly - 4, colour, 3, dash);
    c.text(626, ly, series[k].name, 10);
  }
  return c.str();
}

Range data_range(const std::vector<Series>& series, bool want_x, bool from_zero) {
  double lo = INFINITY, hi = -INFINITY;
  for (const Series& s : series)
    for (const auto& p : s.points) {
      const double v = want_x ? p.first : p.second;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  if (!std::isfinite(lo)) return {0, 1};
  if (from_zero) lo = std::min(lo, 0.0);
  if (hi <= lo) hi = lo + 1;
  if (!want_x) hi += (hi - lo) * 0.05;
  return {lo, hi};
}

}  // namespace

std::string line_plot_svg(const std::string& title, const std::string& x_label, const std::string& y_label,
                          const std::vector<Series>& series, const std::vector<std::string>& x_labels,
                          bool y_from_zero) {
  XAxis x{data_range(series, true, false)};
  if (!x_labels.empty()) {
    x.range = {-0.3, static_cast<double>(x_labels.size()) - 0.7};
    x.labels = x_labels;
    for (size_t i = 0; i < x_labels.size(); ++i) x.ticks.push_back(static_cast<double>(i));
  } else {
    std::vector<double> values;  // a sweep's few values: ticks there, not between
    for (const Series& s : series)
      for (const auto& p : s.points) values.push_back(p.first);
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    if (values.size() <= 12) {
      x.ticks = values;
      for (double t : values) x.labels.push_back(svg::tick_label(t));
    }
    if (x.range.lo > 0 && x.range.hi >= 8 * x.range.lo) {  // doublings: a log axis
      x.log = true;
      x.range = {std::log10(x.range.lo), std::log10(x.range.hi)};
    }
    const double pad = (x.range.hi - x.range.lo) * 0.04;
    if (x.range.hi > x.range.lo) x.range = {x.range.lo - pad, x.range.hi + pad};
  }
  return plot(title, x_label, y_label, series, x, data_range(series, false, y_from_zero), true);
}

std::string utilization_svg(const RunResults& r) {
  constexpr int kBins = 240;
  double span = 0;
  for (const SystemRun& s : r.systems) span = std::max(span, s.simulated_s);
  if (span <= 0) span = 1;
  const double bin = span / kBins;
  std::vector<Series> series;
  for (const SystemRun& s : r.systems) {
    std::vector<double> busy(kBins, 0.0);
    for (const Bar& b : s.bars) {
      if (b.kind != BarKind::kForward && b.kind != BarKind::kBackward) continue;
      for (int k = std::max(0, static_cast<int>(b.start_s / bin)); k < kBins && k * bin < b.end_s; ++k)
        busy[static_cast<size_t>(k)] += std::max(0.0, std::min(b.end_s, (k + 1) * bin) - std::max(b.start_s, k * bin));
    }
    Series line{s.name + " (mean " + fixed(100 * s.utilization, 1) + "%)", {}};
    const int last = std::min(kBins, static_cast<int>(std::ceil(s.simulated_s / bin)));
    for (int k = 0; k < last; ++k)
      line.points.emplace_back((k + 0.5) * bin * 1e3, 100 * busy[static_cast<size_t>(k)] / (bin * std::max(1, r.gpus)));
    series.push_back(std::move(line));
  }
  return plot(r.scenario + ": GPUs computing over time (share of " + std::to_string(r.gpus) + " GPUs)",
              "simulated time (ms)", "GPUs computing (%)", series, XAxis{{0, span * 1e3}}, {0, 105}, false);
}

std::string scaling_svg(const RunResults& r) {
  // Panels for the MetaOps that do most of the work (layers x T(1): device-seconds of the
  // iteration on one device), largest first; the rest are folded into one line.
  constexpr int kCols = 4;
  constexpr size_t kPanels = 12;
  constexpr double kW = 280, kH = 210;
  std::vector<std::pair<double, const MetaOpInfo*>> work;
  double total = 0;
  for (const MetaOpInfo& m : r.metaops) {
    if (m.points.empty()) continue;
    const double w = m.layers * m.points.front().t_s * m.points.front().n;
    work.push_back({w, &m});
    total += w;
  }
  std::stable_sort(work.begin(), work.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  const size_t shown = std::min(kPanels, work.size());
  const int rows = std::max(1, (static_cast<int>(shown) + kCols - 1) / kCols);
  const std::string title = r.scenario + ": scaling curves T_m(n), time of one operator (forward + backward)";
  svg::Canvas c(kCols * kW + 20, rows * kH + 90, title);
  c.text(20, 20, title, 13, "start", "font-weight=\"bold\"");
  c.text(20, 38,
         "filled dots: measured, hollow: modelled samples; blue line: fitted piecewise alpha-beta curve; dashed: "
         "linear scaling from n = 1; eff = T(1) / (n T(n)) at the largest n",
         10);
  std::string rest;
  double rest_share = 0;
  for (size_t i = shown; i < work.size(); ++i) {
    rest_share += total > 0 ? work[i].first / total : 0;
    rest += (rest.empty() ? "" : ", ") + std::to_string(work[i].second->id);
  }
  c.text(20, 54,
         "largest " + std::to_string(shown) + " of " + std::to_string(work.size()) + " MetaOps by work (layers x T(1))" +
             (rest.empty() ? "" : "; the other " + std::to_string(work.size() - shown) + " (" +
                                      fixed(100 * rest_share, 1) + "% of the work) not drawn: MetaOps " + rest),
         10);
  for (size_t i = 0; i < shown; ++i) {
    const MetaOpInfo& m = *work[i].second;
    const double ox = 10 + static_cast<double>(i % kCols) * kW, oy = 66 + static_cast<double>(i / kCols) * kH;
    const ScalingCurve curve(m.points, m.batch);
    const int nmax = curve.max_n();
    double tmin = INFINITY, tmax = 0;
    for (const CurvePoint& p : m.points) {
      tmin = std::min(tmin, p.t_s * 1e3);
      tmax = std::max(tmax, p.t_s * 1e3);
    }
    tmin = std::min(tmin, curve.time_s(nmax) * 1e3);
    const double t1 = m.points.front().t_s * 1e3 * m.points.front().n;
    tmin = std::max(std::min(tmin, t1 / nmax), tmin / 8);
    svg::Frame f{ox + 58, oy + 32, kW - 78, kH - 76, 0, std::log10(std::max(2, nmax)),
                 std::log10(tmin) - 0.05, std::log10(tmax) + 0.05, true, true};
    std::vector<double> nt;
    std::vector<std::string> nl;
    for (const CurvePoint& p : m.points) {
      nt.push_back(p.n);
      nl.push_back(std::to_string(p.n));
    }
    c.open_group("class=\"metaop\" data-metaop=\"" + std::to_string(m.id) + "\"");
    const double eff = m.points.front().t_s * m.points.front().n / (nmax * curve.time_s(nmax));
    std::string label = m.label;
    if (label.size() > 38) label = label.substr(0, 37) + "...";
    c.text(ox + 10, oy + 10, label, 10, "start", "font-weight=\"bold\"");
    c.text(ox + 10, oy + 23,
           fixed(total > 0 ? 100 * work[i].first / total : 0, 1) + "% of the work, eff " + fixed(100 * eff, 0) + "%", 10);
    f.draw(c, "devices n", "ms", nt, nl);
    std::vector<std::pair<double, double>> fit, ideal;
    for (int k = 0; k <= 40; ++k) {
      const double n = std::pow(static_cast<double>(nmax), k / 40.0);
      fit.emplace_back(f.px(n), f.py(curve.time_s(n) * 1e3));
      const double lin = t1 / n;
      if (std::log10(lin) >= f.y_lo) ideal.emplace_back(f.px(n), f.py(lin));
    }
    c.polyline(ideal, "#aaaaaa", 1, "stroke-dasharray=\"3 3\"");
    c.polyline(fit, "#4e79a7", 1.5);
    for (const CurvePoint& p : m.points)
      c.circle(f.px(p.n), f.py(p.t_s * 1e3), 3, p.measured ? "#e15759" : "#ffffff", "#e15759",
               "n=" + std::to_string(p.n) + ": " + fixed(p.t_s * 1e3, 4) + " ms" + (p.measured ? " (measured)" : ""));
    c.close_group();
  }
  return c.str();
}

}  // namespace spindle
