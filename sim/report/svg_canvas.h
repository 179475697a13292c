// A small SVG writer for the report's pictures: shapes and text with fixed number formats (the
// same inputs give the same bytes), escaping, a categorical palette and "nice" axis ticks.
// Written by the project so that the pictures need no browser, plotting library or network.
#pragma once

#include <string>
#include <vector>

namespace spindle::svg {

std::string escape(const std::string& text);  // &, <, >, " and ' as XML entities
std::string num(double x);                     // at most 2 decimals, no trailing zeros

// Colour k of a 10-colour categorical palette (repeats, darker, after 10).
std::string palette(int k);

class Canvas {
 public:
  Canvas(double width, double height, const std::string& title);
  double width() const { return width_; }
  double height() const { return height_; }

  // `extra` is inserted verbatim into the element (class="...", stroke-dasharray=...).
  void rect(double x, double y, double w, double h, const std::string& fill, const std::string& extra = "",
            const std::string& tooltip = "");
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double stroke_width = 1,
            const std::string& extra = "");
  void polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke,
                double stroke_width = 1.5, const std::string& extra = "");
  void circle(double cx, double cy, double r, const std::string& fill, const std::string& stroke,
              const std::string& tooltip = "");
  // anchor: start, middle, end.
  void text(double x, double y, const std::string& text, double size = 11, const std::string& anchor = "start",
            const std::string& extra = "");
  void raw(const std::string& xml) { body_ += xml; }
  void open_group(const std::string& attributes);  // <g attributes>
  void close_group();
  void defs(const std::string& xml) { defs_ += xml; }
  std::string str() const;

 private:
  double width_, height_;
  std::string title_, defs_, body_;
};

// About `count` round tick values (steps of 1, 2 or 5 x 10^k) covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int count = 5);
// Tick label: "0.5", "12", "1.2k".
std::string tick_label(double x);

// A plot frame: maps data (x, y) into a rectangle of the canvas, draws axes, ticks, labels.
struct Frame {
  double left, top, width, height;  // plot area on the canvas
  double x_lo, x_hi, y_lo, y_hi;    // data range (log ranges are log10 values)
  bool log_x = false, log_y = false;
  double px(double x) const;
  double py(double y) const;
  // Axes with ticks (log axes: tick at 1, 2, 5 x 10^k, or at `x_ticks` when given).
  void draw(Canvas& c, const std::string& x_label, const std::string& y_label,
            const std::vector<double>& x_ticks = {}, const std::vector<std::string>& x_tick_labels = {}) const;
};

}  // namespace spindle::svg
