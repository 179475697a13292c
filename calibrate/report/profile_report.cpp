// The profile report (see profile_report.h).
#include "calibrate/report/profile_report.h"

#include <algorithm>
#include <map>
#include <vector>

#include "planner/cost/profile_points.h"
#include "traces/text_table.h"

namespace spindle::calibrate {
namespace {

std::string ms(double v) { return v >= 1 ? fixed(v, 3) : v >= 0.01 ? fixed(v, 4) : fixed(v, 6); }
std::string pct(double e) { return fixed(100 * e, 1) + "%"; }

std::string pieces_text(const std::vector<CurvePiece>& pieces, const std::vector<std::int64_t>& batches) {
  std::string out;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const CurvePiece& p = pieces[k];
    // The measured batches this piece covers: from its first up to the next piece's.
    std::int64_t to = static_cast<std::int64_t>(p.w_from);
    for (std::int64_t b : batches)
      if (k + 1 == pieces.size() || static_cast<double>(b) < pieces[k + 1].w_from) to = std::max(to, b);
    out += (out.empty() ? "" : "; ") + std::string("b ") + std::to_string(static_cast<std::int64_t>(p.w_from)) +
           (to != static_cast<std::int64_t>(p.w_from) ? ".." + std::to_string(to) : "") + ": " + ms(p.alpha) +
           " + " + ms(p.beta) + " b";
  }
  return out;
}

// Whether a GPU's kernel records came with the times (calibrated with CUPTI).
bool has_kernel_records(const Profile& p) {
  for (const auto& [key, m] : p.ops)
    if (m.fwd_kernels > 0 || m.bwd_kernels > 0 || !m.kernels.empty()) return true;
  return false;
}

// Per operator kind: the share of the measured time the device was busy, and its longest
// kernels (by their time added over the kind's points, forward and backward apart).
std::string kernels_section(const Profile& p) {
  struct Kind {
    double event_ms = 0, busy_ms = 0;
    std::map<std::pair<std::string, std::string>, double> by_kernel;  // (pass, name) -> ms
  };
  std::map<std::string, Kind> kinds;
  for (const auto& [key, m] : p.ops) {
    Kind& k = kinds[key.kind];
    k.event_ms += m.fwd_ms + m.bwd_ms;
    k.busy_ms += m.fwd_kernel_ms + m.bwd_kernel_ms;
    for (const KernelShare& share : m.kernels) k.by_kernel[{share.pass, share.name}] += share.ms;
  }
  TextTable t;
  using A = TextTable::Align;
  for (auto [h, a] : std::vector<std::pair<const char*, A>>{{"operator kind", A::kLeft},
                                                           {"device busy", A::kRight},
                                                           {"pass", A::kLeft},
                                                           {"kernel (longest 4)", A::kLeft},
                                                           {"share", A::kRight}})
    t.add_column(h, a);
  for (const auto& [kind, k] : kinds) {
    std::vector<std::pair<double, std::pair<std::string, std::string>>> longest;
    for (const auto& [which, ms_sum] : k.by_kernel) longest.push_back({ms_sum, which});
    std::sort(longest.begin(), longest.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    double all = 0;
    for (const auto& l : longest) all += l.first;
    const std::string busy = k.event_ms > 0 ? pct(k.busy_ms / k.event_ms) : "-";
    if (longest.empty()) t.add_row({kind, busy, "-", "(no records)", "-"});
    for (size_t i = 0; i < longest.size() && i < 4; ++i) {
      std::string name = longest[i].second.second;
      if (name.size() > 72) name = name.substr(0, 69) + "...";
      t.add_row({i == 0 ? kind : "", i == 0 ? busy : "", longest[i].second.first, name,
                 all > 0 ? pct(longest[i].first / all) : "-"});
    }
  }
  return "\nKernels (device busy: the kernels' time, overlaps once, over the measured time; the rest is launches "
         "and gaps. share: of the kind's kernel time)\n" + t.render();
}

}  // namespace

std::string profile_report(const Profile& p) {
  std::string out = "Profile " + p.source + "\n";
  out += "  backend " + p.backend + ", device " + p.device + "\n";
  out += "  timer " + p.timer + "; libraries " + p.libraries + "\n";
  out += "  measured " + p.date + (p.notes.empty() ? "" : "; " + p.notes) + "\n";
  const ProfilePoints points(p);
  const bool recorded = has_kernel_records(p);
  out += "  " + std::to_string(p.ops.size()) + " operator points in " + std::to_string(points.curves().size()) +
         " shapes, " + std::to_string(p.collectives.size()) + " collective points\n";

  struct KindSummary {
    int shapes = 0, points = 0;
    double fit = 0, loo = 0;
    int loo_shapes = 0;
  };
  std::map<std::string, KindSummary> kinds;
  for (const auto& [shape, curve] : points.curves()) {
    std::string title = shape.str();  // "[0,seq,hidden]" with the batch left open
    if (const size_t at = title.find("[0,"); at != std::string::npos) title.replace(at, 3, "[b,");
    out += "\n" + title + "\n";
    if (shape.kind == kOptimizerKind)
      out += "    (b: elements of one weight tensor; fwd: its share of a multi-tensor AdamW step, bwd: of the gradient norm)\n";
    TextTable t;
    using A = TextTable::Align;
    for (auto [h, a] : std::vector<std::pair<const char*, A>>{{"batch", A::kRight},
                                                             {"fwd ms", A::kRight},
                                                             {"+-", A::kRight},
                                                             {"bwd ms", A::kRight},
                                                             {"+-", A::kRight},
                                                             {"samples", A::kRight},
                                                             {"fit fwd", A::kRight},
                                                             {"fit bwd", A::kRight}})
      t.add_column(h, a);
    if (recorded)
      for (const char* h : {"fwd device ms", "bwd device ms", "kernels"}) t.add_column(h, A::kRight);
    for (size_t i = 0; i < curve.batches().size(); ++i) {
      OpShapeKey key = shape;
      key.batch = curve.batches()[i];
      const OpMeasurement& m = *p.find(key);
      const double b = static_cast<double>(key.batch);
      std::vector<std::string> row{std::to_string(key.batch), ms(m.fwd_ms), ms(m.fwd_spread_ms), ms(m.bwd_ms),
                                   ms(m.bwd_spread_ms), std::to_string(m.samples),
                                   ms(piece_value(curve.fwd_pieces(), b)),
                                   curve.bwd_pieces().empty() ? "-" : ms(piece_value(curve.bwd_pieces(), b))};
      if (recorded) {
        row.push_back(ms(m.fwd_kernel_ms));
        row.push_back(ms(m.bwd_kernel_ms));
        row.push_back(fixed(m.fwd_kernels, 1) + " + " + fixed(m.bwd_kernels, 1));
      }
      t.add_row(row);
    }
    out += t.render(4);
    out += "    fwd = " + pieces_text(curve.fwd_pieces(), curve.batches()) + " ms\n";
    if (!curve.bwd_pieces().empty()) out += "    bwd = " + pieces_text(curve.bwd_pieces(), curve.batches()) + " ms\n";
    const double fit = curve.fit_error(), loo = curve.leave_one_out_error();
    out += "    fit error " + pct(fit) +
           (curve.batches().size() >= 3 ? ", leave-one-out " + pct(loo) : ", leave-one-out - (fewer than 3 batches)") +
           "\n";
    KindSummary& k = kinds[shape.kind];
    ++k.shapes;
    k.points += static_cast<int>(curve.batches().size());
    k.fit = std::max(k.fit, fit);
    if (curve.batches().size() >= 3) {
      k.loo = std::max(k.loo, loo);
      ++k.loo_shapes;
    }
  }
  if (!kinds.empty()) {
    TextTable t;
    using A = TextTable::Align;
    for (auto [h, a] : std::vector<std::pair<const char*, A>>{{"operator kind", A::kLeft},
                                                             {"shapes", A::kRight},
                                                             {"points", A::kRight},
                                                             {"max fit error", A::kRight},
                                                             {"max leave-one-out", A::kRight}})
      t.add_column(h, a);
    for (const auto& [kind, k] : kinds)
      t.add_row({kind, std::to_string(k.shapes), std::to_string(k.points), pct(k.fit),
                 k.loo_shapes ? pct(k.loo) : "-"});
    out += "\nPer operator kind (fit: piecewise alpha-beta in the local batch, a new piece where a line stops "
           "fitting within " + pct(kBatchFitTolerance) + ")\n" + t.render();
  }
  if (recorded) out += kernels_section(p);
  if (!p.collectives.empty()) {
    TextTable t;
    using A = TextTable::Align;
    for (auto [h, a] : std::vector<std::pair<const char*, A>>{{"collective", A::kLeft},
                                                             {"algorithm", A::kLeft},
                                                             {"ranks", A::kRight},
                                                             {"nodes", A::kRight},
                                                             {"per node", A::kRight},
                                                             {"bytes", A::kRight},
                                                             {"ms", A::kRight},
                                                             {"+-", A::kRight},
                                                             {"samples", A::kRight}})
      t.add_column(h, a);
    for (const CollectiveMeasurement& c : p.collectives)
      t.add_row({c.kind, c.algorithm.empty() ? "-" : c.algorithm, std::to_string(c.ranks), std::to_string(c.nodes),
                 std::to_string(c.ranks_per_node), with_commas(c.bytes), ms(c.time_ms), ms(c.spread_ms),
                 std::to_string(c.samples)});
    out += "\nCollectives\n" + t.render();
  }
  return out;
}

}  // namespace spindle::calibrate
