// The report's pictures from a small hand-made run: one Gantt row per GPU in GPU order, bars
// where the intervals are, wave marks, escaping, ticks, stable bytes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "sim/report/svg_canvas.h"
#include "sim/report/svg_charts.h"

namespace {

using ::testing::HasSubstr;

spindle::RunResults small_run() {
  spindle::RunResults r;
  r.scenario = "tiny <run>";
  r.nodes = 2;
  r.gpus_per_node = 3;
  r.gpus = 6;
  r.tasks = {"a", "b"};
  for (int m = 0; m < 2; ++m) {
    spindle::MetaOpInfo mi;
    mi.id = m;
    mi.label = "M" + std::to_string(m) + " enc x2 [8, 4, 16]";
    mi.tasks = {m};
    mi.layers = 2;
    mi.batch = 8;
    for (int n : {1, 2, 4, 8}) mi.points.push_back({n, 1e-3 / n + 1e-4, 0, 0, m == 0, 0});
    r.metaops.push_back(mi);
  }
  spindle::SystemRun s;
  s.name = s.system = "spindle";
  s.simulated_s = 0.01;
  s.utilization = 0.5;
  s.waves = 2;
  for (int g = 0; g < 6; ++g) {
    s.bars.push_back({g, spindle::BarKind::kForward, g % 2, 0, 0.0, 0.004, "fwd"});
    s.bars.push_back({g, spindle::BarKind::kTransfer, -1, 0, 0.004, 0.005, "recv"});
    s.bars.push_back({g, spindle::BarKind::kBackward, g % 2, 0, 0.005, 0.009, "bwd"});
  }
  s.forward_wave_s = {0.0, 0.002};
  s.backward_wave_s = {0.007, 0.005};
  r.systems.push_back(s);
  return r;
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Svg, GanttHasOneRowPerGpuInOrder) {
  const spindle::RunResults r = small_run();
  const std::string svg = spindle::gantt_svg(r, r.systems[0], 0.02);
  EXPECT_EQ(count(svg, "class=\"gpu-row\""), 6);
  for (int g = 0; g < 6; ++g) EXPECT_THAT(svg, HasSubstr("data-gpu=\"" + std::to_string(g) + "\""));
  EXPECT_LT(svg.find("data-gpu=\"2\""), svg.find("data-gpu=\"3\""));
  EXPECT_EQ(count(svg, "class=\"wave\""), 4);
  EXPECT_EQ(count(svg, "url(#transfer)"), 6 + 1);  // six bars and the legend swatch
  EXPECT_THAT(svg, HasSubstr("tiny &lt;run&gt;"));
  EXPECT_THAT(svg, HasSubstr("node 1"));
  EXPECT_EQ(svg, spindle::gantt_svg(r, r.systems[0], 0.02));  // same inputs, same bytes
  // The x axis spans time_scale_s: a bar to 9 ms of 20 ms ends 45% across the 980 px plot.
  EXPECT_THAT(svg, HasSubstr("x=\"" + spindle::svg::num(112 + 0.005 / 0.02 * 980) + "\""));
}

TEST(Svg, UtilisationScalingAndLinePlots) {
  const spindle::RunResults r = small_run();
  const std::string u = spindle::utilization_svg(r);
  EXPECT_THAT(u, HasSubstr("spindle (mean 50.0%)"));
  const std::string sc = spindle::scaling_svg(r);
  EXPECT_EQ(count(sc, "class=\"metaop\""), 2);
  EXPECT_EQ(count(sc, "<circle"), 8);
  EXPECT_THAT(sc, HasSubstr("(measured)"));
  // Many MetaOps: the 12 with the most work (layers x T(1)) get panels, largest first; the
  // rest are named in one line.
  spindle::RunResults many = r;
  many.metaops.clear();
  for (int k = 0; k < 14; ++k) {
    spindle::MetaOpInfo m = r.metaops.front();
    m.id = k;
    m.layers = 1 + (k * 5) % 14;  // 1..14 layers, each once
    many.metaops.push_back(m);
  }
  int largest = 0;
  for (const auto& m : many.metaops)
    if (m.layers > many.metaops[static_cast<size_t>(largest)].layers) largest = m.id;
  const std::string big = spindle::scaling_svg(many);
  EXPECT_EQ(count(big, "class=\"metaop\""), 12);
  EXPECT_EQ(big.find("data-metaop=\"" + std::to_string(largest) + "\""), big.find("data-metaop="));
  EXPECT_THAT(big, HasSubstr("the other 2 ("));
  // Without markers (utilisation), earlier series are drawn wider so identical lines show.
  EXPECT_THAT(u, HasSubstr("class=\"series\""));
  const std::string lp = spindle::line_plot_svg("t", "x", "y", {{"one", {{1, 2}, {2, 3}}}, {"two", {{1, 1}}}});
  EXPECT_EQ(count(lp, "class=\"series\""), 2);
  EXPECT_EQ(lp.rfind("</svg>\n"), lp.size() - 7);
}

TEST(Svg, NumbersTicksAndEscaping) {
  EXPECT_EQ(spindle::svg::num(1.0), "1");
  EXPECT_EQ(spindle::svg::num(2.345), "2.35");
  EXPECT_EQ(spindle::svg::num(-0.001), "0");
  EXPECT_EQ(spindle::svg::escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
  EXPECT_THAT(spindle::svg::ticks(0, 10), ::testing::ElementsAre(0, 2, 4, 6, 8, 10));
  using ::testing::DoubleNear;
  EXPECT_THAT(spindle::svg::ticks(0.1, 0.7, 3), ::testing::ElementsAre(DoubleNear(0.2, 1e-12), DoubleNear(0.4, 1e-12),
                                                                        DoubleNear(0.6, 1e-12)));
  EXPECT_NE(spindle::svg::palette(0), spindle::svg::palette(10));
}

}  // namespace
