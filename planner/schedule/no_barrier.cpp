// Wavefront scheduling over the whole MetaGraph, without level barriers (see no_barrier.h).
#include "planner/schedule/no_barrier.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "planner/schedule/allocator.h"
#include "planner/schedule/wavefront.h"
#include "traces/errors.h"

namespace spindle {
namespace {

int next_valid_count(const ScalingCurve& c, int n) {
  for (const CurvePoint& p : c.points())
    if (p.n > n) return p.n;
  return 0;
}

struct Running {
  int metaop = 0;
  int n = 0;
  int layers = 0;  // remaining
  double per_op_s = 0;
};

}  // namespace

double schedule_without_barriers(const MetaGraph& mg, const CostModel& cost, int gpus, SpanChoice choice,
                                 std::vector<Wave>& out) {
  const size_t count = mg.metaops.size();
  std::vector<int> left(count), next(count, 0);
  for (const MetaOp& m : mg.metaops) left[static_cast<size_t>(m.id)] = m.L;
  // Downstream critical path at each MetaOp's fastest (its successors' chain), for priority.
  std::vector<std::vector<int>> succ(count);
  for (const MetaOp& m : mg.metaops)
    for (int p : m.preds) succ[static_cast<size_t>(p)].push_back(m.id);
  std::vector<double> tail(count, 0);
  for (size_t i = count; i-- > 0;) {  // MetaOps are numbered in level order
    for (int s : succ[i]) {
      const ScalingCurve& c = cost.metaop(s).curve;
      tail[i] = std::max(tail[i], tail[static_cast<size_t>(s)] + mg.metaops[static_cast<size_t>(s)].L * c.time_s(c.max_n()));
    }
  }
  const size_t first_wave = out.size();
  double now = 0;
  for (;;) {
    std::vector<LevelItem> ready;
    for (const MetaOp& m : mg.metaops) {
      if (left[static_cast<size_t>(m.id)] == 0) continue;
      bool ok = true;
      for (int p : m.preds) ok = ok && left[static_cast<size_t>(p)] == 0;
      if (!ok) continue;
      LevelItem it;
      it.metaop = m.id;
      it.L = left[static_cast<size_t>(m.id)];
      it.curve = &cost.metaop(m.id).curve;
      for (const CurvePoint& pt : it.curve->points()) it.valid_n.push_back(pt.n);
      ready.push_back(it);
    }
    if (ready.empty()) break;
    // Priority: remaining time on one device plus what must still follow it.
    std::vector<size_t> order(ready.size());
    for (size_t i = 0; i < ready.size(); ++i) order[i] = i;
    auto rank = [&](size_t i) { return ready[i].L * ready[i].curve->time_s(1) + tail[static_cast<size_t>(ready[i].metaop)]; };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rank(a) > rank(b); });
    // Water-fill: one device each in priority order, then widen the one with most remaining
    // work (plus its tail) one valid step at a time.
    std::vector<Running> run;
    int used = 0;
    for (size_t i : order) {
      if (used + 1 > gpus) break;
      run.push_back(Running{ready[i].metaop, 1, ready[i].L, 0});
      ++used;
    }
    for (bool widened = true; widened && used < gpus;) {
      widened = false;
      size_t best = run.size();
      double best_work = 0;
      for (size_t i = 0; i < run.size(); ++i) {
        const ScalingCurve& c = cost.metaop(run[i].metaop).curve;
        const int wider = next_valid_count(c, run[i].n);
        if (wider == 0 || used + wider - run[i].n > gpus || !(c.time_s(wider) < c.time_s(run[i].n))) continue;
        const double work = run[i].layers * c.time_s(run[i].n) + tail[static_cast<size_t>(run[i].metaop)];
        if (work > best_work) {
          best_work = work;
          best = i;
        }
      }
      if (best < run.size()) {
        const int wider = next_valid_count(cost.metaop(run[best].metaop).curve, run[best].n);
        used += wider - run[best].n;
        run[best].n = wider;
        widened = true;
      }
    }
    double first_end = std::numeric_limits<double>::infinity();
    for (Running& r : run) {
      r.per_op_s = cost.metaop(r.metaop).curve.time_s(r.n);
      first_end = std::min(first_end, r.layers * r.per_op_s);
    }
    double span = first_end;
    if (choice == SpanChoice::kBestSpan) {
      // Among operator boundaries up to the first completion, the least wasteful.
      auto useful = [&](double sp) {
        double u = 0;
        for (const Running& r : run)
          u += r.n * std::min(r.layers, static_cast<int>(std::floor(sp / r.per_op_s * (1 + 1e-12)))) * r.per_op_s;
        return u;
      };
      double best_eff = useful(first_end) / (gpus * first_end);
      for (const Running& r : run)
        for (int k = 1; k <= r.layers && k * r.per_op_s <= first_end; ++k) {
          const double sp = k * r.per_op_s;
          const double eff = useful(sp) / (gpus * sp);
          if (eff > best_eff + 1e-9) {
            best_eff = eff;
            span = sp;
          }
        }
    }
    Wave w;
    w.start_s = now;
    w.end_s = now;
    std::sort(run.begin(), run.end(), [](const Running& a, const Running& b) { return a.metaop < b.metaop; });
    for (const Running& r : run) {
      const int k = std::min(r.layers, static_cast<int>(std::floor(span / r.per_op_s * (1 + 1e-12))));
      if (k == 0) continue;
      Slice sl;
      sl.metaop = r.metaop;
      sl.first_layer = next[static_cast<size_t>(r.metaop)];
      sl.last_layer = sl.first_layer + k;
      sl.n = r.n;
      sl.start_s = now;
      sl.end_s = now + k * r.per_op_s;
      w.end_s = std::max(w.end_s, sl.end_s);
      w.slices.push_back(sl);
      next[static_cast<size_t>(r.metaop)] += k;
      left[static_cast<size_t>(r.metaop)] -= k;
    }
    if (w.slices.empty()) throw InternalError("no-barrier wave runs nothing");
    now = w.end_s;
    out.push_back(std::move(w));
  }
  merge_identical_waves(out, first_wave);
  return now;
}

void compact_plan(Plan& plan, const MetaGraph& mg, const CostModel& cost) {
  struct Ref {
    size_t wave, slice;
  };
  std::vector<Ref> order;
  for (size_t w = 0; w < plan.waves.size(); ++w)
    for (size_t k = 0; k < plan.waves[w].slices.size(); ++k) order.push_back(Ref{w, k});
  std::stable_sort(order.begin(), order.end(), [&](const Ref& a, const Ref& b) {
    return plan.waves[a.wave].slices[a.slice].start_s < plan.waves[b.wave].slices[b.slice].start_s;
  });
  std::vector<double> meta_end(mg.metaops.size(), 0.0);  // end of the latest placed slice
  struct Busy {
    double start, end;
    int n;
  };
  std::vector<Busy> busy;
  auto fits = [&](double t, double d, int n) {
    // Peak use over [t, t + d) of what is placed, plus n.
    std::vector<std::pair<double, int>> ev;
    for (const Busy& b : busy)
      if (b.start < t + d - 1e-12 && b.end > t + 1e-12) {
        ev.push_back({std::max(b.start, t), b.n});
        ev.push_back({b.end, -b.n});
      }
    std::sort(ev.begin(), ev.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first < b.first : a.second < b.second; });
    int use = 0;
    for (auto [time, delta] : ev) {
      use += delta;
      if (use + n > plan.gpus) return false;
    }
    return true;
  };
  for (const Ref& r : order) {
    Slice& sl = plan.waves[r.wave].slices[r.slice];
    const MetaOp& m = mg.metaops[static_cast<size_t>(sl.metaop)];
    double earliest = meta_end[static_cast<size_t>(m.id)];
    if (sl.first_layer == 0)
      for (int p : m.preds) earliest = std::max(earliest, meta_end[static_cast<size_t>(p)]);
    const double d = sl.layers() * cost.metaop(sl.metaop).curve.time_s(sl.n);
    std::vector<double> starts = {earliest};
    for (const Busy& b : busy)
      if (b.end > earliest && b.end < sl.start_s) starts.push_back(b.end);
    std::sort(starts.begin(), starts.end());
    double at = sl.start_s;  // always feasible (see the header)
    for (double t : starts)
      if (t < at && fits(t, d, sl.n)) {
        at = t;
        break;
      }
    sl.start_s = at;
    sl.end_s = at + d;
    busy.push_back(Busy{sl.start_s, sl.end_s, sl.n});
    meta_end[static_cast<size_t>(m.id)] = sl.end_s;
  }
  for (Wave& w : plan.waves) {
    w.start_s = std::numeric_limits<double>::infinity();
    w.end_s = 0;
    for (const Slice& sl : w.slices) {
      w.start_s = std::min(w.start_s, sl.start_s);
      w.end_s = std::max(w.end_s, sl.end_s);
    }
  }
  plan.finish();
}

}  // namespace spindle
