// SVG writer (see svg_canvas.h).
#include "sim/report/svg_canvas.h"

#include <cmath>
#include <cstdio>

namespace spindle::svg {

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:  // XML 1.0 allows no control characters but tab, LF and CR
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n' || c == '\r') out += c;
        else out += "?";
    }
  }
  return out;
}

std::string num(double x) {
  if (!std::isfinite(x)) x = 0;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.2f", x);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

std::string palette(int k) {
  // Tableau 10, then the same hues darker.
  static const char* base[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                               "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  static const char* dark[] = {"#2c5178", "#b8620f", "#357a2e", "#a83236", "#468f89",
                               "#b59716", "#7d4d70", "#c4636e", "#6b4c3b", "#7f7571"};
  if (k < 0) return "#999999";
  return (k / 10) % 2 == 0 ? base[k % 10] : dark[k % 10];
}

Canvas::Canvas(double width, double height, const std::string& title) : width_(width), height_(height), title_(title) {}

void Canvas::rect(double x, double y, double w, double h, const std::string& fill, const std::string& extra,
                  const std::string& tooltip) {
  body_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) +
           "\" fill=\"" + fill + "\"" + (extra.empty() ? "" : " " + extra);
  body_ += tooltip.empty() ? "/>\n" : "><title>" + escape(tooltip) + "</title></rect>\n";
}

void Canvas::line(double x1, double y1, double x2, double y2, const std::string& stroke, double stroke_width,
                  const std::string& extra) {
  body_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) +
           "\" stroke=\"" + stroke + "\" stroke-width=\"" + num(stroke_width) + "\"" +
           (extra.empty() ? "" : " " + extra) + "/>\n";
}

void Canvas::polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke,
                      double stroke_width, const std::string& extra) {
  if (points.empty()) return;
  std::string pts;
  for (const auto& [x, y] : points) pts += (pts.empty() ? "" : " ") + num(x) + "," + num(y);
  body_ += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + stroke + "\" stroke-width=\"" +
           num(stroke_width) + "\"" + (extra.empty() ? "" : " " + extra) + "/>\n";
}

void Canvas::circle(double cx, double cy, double r, const std::string& fill, const std::string& stroke,
                    const std::string& tooltip) {
  body_ += "<circle cx=\"" + num(cx) + "\" cy=\"" + num(cy) + "\" r=\"" + num(r) + "\" fill=\"" + fill +
           "\" stroke=\"" + stroke + "\"";
  body_ += tooltip.empty() ? "/>\n" : "><title>" + escape(tooltip) + "</title></circle>\n";
}

void Canvas::text(double x, double y, const std::string& t, double size, const std::string& anchor,
                  const std::string& extra) {
  body_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) + "\"" +
           (anchor == "start" ? "" : " text-anchor=\"" + anchor + "\"") + (extra.empty() ? "" : " " + extra) + ">" +
           escape(t) + "</text>\n";
}

void Canvas::open_group(const std::string& attributes) { body_ += "<g " + attributes + ">\n"; }
void Canvas::close_group() { body_ += "</g>\n"; }

std::string Canvas::str() const {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(width_) + "\" height=\"" + num(height_) +
         "\" viewBox=\"0 0 " + num(width_) + " " + num(height_) +
         "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n";
  out += "<title>" + escape(title_) + "</title>\n";
  if (!defs_.empty()) out += "<defs>\n" + defs_ + "</defs>\n";
  out += "<rect x=\"0\" y=\"0\" width=\"" + num(width_) + "\" height=\"" + num(height_) + "\" fill=\"#ffffff\"/>\n";
  return out + body_ + "</svg>\n";
}

std::vector<double> ticks(double lo, double hi, int count) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(1, count);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> out;  // whole multiples of the step, so no error accumulates
  for (long k = std::lround(std::ceil(lo / step - 1e-9)); k * step <= hi + step * 1e-9; ++k)
    out.push_back(static_cast<double>(k) * step);
  return out;
}

std::string tick_label(double x) {
  if (std::abs(x) >= 1e4) return num(x / 1e3) + "k";
  if (std::abs(x) >= 1 || x == 0) return num(x);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", x);
  return buf;
}

double Frame::px(double x) const {
  const double v = log_x ? std::log10(x) : x;
  return left + (x_hi > x_lo ? (v - x_lo) / (x_hi - x_lo) : 0.5) * width;
}

double Frame::py(double y) const {
  const double v = log_y ? std::log10(y) : y;
  return top + height - (y_hi > y_lo ? (v - y_lo) / (y_hi - y_lo) : 0.5) * height;
}

namespace {

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> out;
  for (int e = static_cast<int>(std::floor(lo)) - 1; e <= static_cast<int>(std::ceil(hi)); ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, e);
      const double l = std::log10(v);
      if (l >= lo - 1e-9 && l <= hi + 1e-9) out.push_back(v);
    }
  return out;
}

}  // namespace

void Frame::draw(Canvas& c, const std::string& x_label, const std::string& y_label,
                 const std::vector<double>& x_ticks, const std::vector<std::string>& x_tick_labels) const {
  const std::string grid = "#e6e6e6", axis = "#444444";
  const std::vector<double> ys = log_y ? log_ticks(y_lo, y_hi) : ticks(y_lo, y_hi);
  for (double y : ys) {
    c.line(left, py(y), left + width, py(y), grid);
    c.text(left - 4, py(y) + 4, tick_label(y), 10, "end");
  }
  const std::vector<double> xs = !x_ticks.empty() ? x_ticks : log_x ? log_ticks(x_lo, x_hi) : ticks(x_lo, x_hi);
  for (size_t i = 0; i < xs.size(); ++i) {
    c.line(px(xs[i]), top, px(xs[i]), top + height, grid);
    c.text(px(xs[i]), top + height + 14, i < x_tick_labels.size() ? x_tick_labels[i] : tick_label(xs[i]), 10, "middle");
  }
  c.line(left, top + height, left + width, top + height, axis);
  c.line(left, top, left, top + height, axis);
  c.text(left + width / 2, top + height + 30, x_label, 11, "middle");
  c.text(left - 40, top + height / 2, y_label, 11, "middle",
         "transform=\"rotate(-90 " + num(left - 40) + " " + num(top + height / 2) + ")\"");
}

}  // namespace spindle::svg
