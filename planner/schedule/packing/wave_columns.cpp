// Device options, pricing and column generation for one MetaLevel's wave configurations
// (see wave_columns.h).
#include "planner/schedule/packing/wave_columns.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "planner/schedule/wavefront.h"
#include "traces/errors.h"

namespace spindle::packing {
namespace {
constexpr int kMaxPricingRounds = 400;  // per column generation
}  // namespace

Packer::Packer(const std::vector<LevelItem>& items, int gpus) : items_(items), gpus_(gpus) {
  for (const LevelItem& it : items) {
    std::vector<Option> opts;
    double fastest = std::numeric_limits<double>::infinity();
    for (int n : it.valid_n) {
      if (n > gpus) break;
      const double t = it.curve->time_s(n);
      opts.push_back(Option{n, t, t < fastest * (1 - 1e-12)});
      fastest = std::min(fastest, t);
    }
    if (opts.empty() || opts.size() > 127)
      throw InternalError(
          "wave packing: a MetaOp has no valid device count within the GPUs, or over 127");
    options_.push_back(std::move(opts));
  }
}

int Packer::option_of(size_t i, int n) const {
  const std::vector<Option>& opts = options_[i];
  for (size_t k = 0; k < opts.size(); ++k)
    if (opts[k].n == n) {
      size_t best = k;
      for (size_t j = 0; j < k; ++j)
        if (opts[j].t <= opts[k].t) {
          best = j;
          break;
        }
      return static_cast<int>(best);
    }
  throw InternalError("wave packing: the incumbent uses a device count the MetaOp does not allow");
}

Column Packer::single(size_t i, int layers) const {
  int best = 0;
  for (size_t k = 1; k < options_[i].size(); ++k)
    if (options_[i][k].t < options_[i][static_cast<size_t>(best)].t) best = static_cast<int>(k);
  return Column{Part{static_cast<int>(i), best, layers}};
}

double Packer::pricing_cells(const std::vector<int>& left) const {
  double spans = 0, opts = 0;
  for (size_t i = 0; i < size(); ++i) {
    spans += static_cast<double>(options_[i].size()) * left[i];
    opts += static_cast<double>(options_[i].size());
  }
  return spans * opts * (gpus_ + 1);
}

Packer::SpanTable Packer::span_table(const std::vector<int>& left) const {
  SpanTable tab;
  for (size_t i = 0; i < size(); ++i) {
    tab.width = std::max(tab.width, options(i));
    if (left[i] <= 0) continue;
    for (const Option& o : options_[i])
      if (o.useful)
        for (int l = 1; l <= left[i]; ++l) tab.spans.push_back(l * o.t);
  }
  std::sort(tab.spans.begin(), tab.spans.end());
  tab.spans.erase(std::unique(tab.spans.begin(), tab.spans.end()), tab.spans.end());
  const size_t w = static_cast<size_t>(tab.width), m = size();
  tab.layers.assign(tab.spans.size() * m * w, 0);
  for (size_t s = 0; s < tab.spans.size(); ++s)
    for (size_t i = 0; i < m; ++i) {
      if (left[i] <= 0) continue;
      int prev = 0;
      for (size_t k = 0; k < options_[i].size(); ++k) {
        const Option& o = options_[i][k];
        if (!o.useful) continue;
        const int l =
            std::min(left[i], static_cast<int>(std::floor(tab.spans[s] / o.t * (1 + 1e-12))));
        if (l <= prev) continue;  // a narrower option runs as many layers
        prev = l;
        tab.layers[(s * m + i) * w + k] = l;
      }
    }
  return tab;
}

Column Packer::price(const std::vector<double>& y, const SpanTable& tab) {
  const size_t m = size(), w = static_cast<size_t>(tab.width);
  double scale = 0;
  for (size_t i = 0; i < m; ++i) scale = std::max(scale, y[i]);
  if (tab.spans.empty() || scale <= 0) return {};
  struct Bound {
    double gain;
    size_t s;
  };
  std::vector<Bound> order;
  order.reserve(tab.spans.size());
  struct Segment {
    double slope, dn;
  };
  std::vector<Segment> segs;
  std::vector<std::pair<double, double>> hull;  // (n, v)
  for (size_t s = 0; s < tab.spans.size(); ++s) {
    segs.clear();
    for (size_t i = 0; i < m; ++i) {
      if (y[i] <= 0) continue;
      hull.assign(1, {0.0, 0.0});
      for (size_t k = 0; k < w; ++k) {
        const int l = tab.layers[(s * m + i) * w + k];
        if (l == 0) continue;
        const std::pair<double, double> pt{static_cast<double>(options_[i][k].n), y[i] * l};
        while (hull.size() >= 2) {
          const auto& a = hull[hull.size() - 2];
          const auto& b = hull.back();
          // Drop b if it lies on or below the segment a -> pt.
          if ((b.second - a.second) * (pt.first - a.first) <=
              (pt.second - a.second) * (b.first - a.first))
            hull.pop_back();
          else
            break;
        }
        hull.push_back(pt);
      }
      for (size_t h = 1; h < hull.size(); ++h) {
        const double dn = hull[h].first - hull[h - 1].first;
        segs.push_back(Segment{(hull[h].second - hull[h - 1].second) / dn, dn});
      }
    }
    std::sort(segs.begin(), segs.end(),
              [](const Segment& a, const Segment& b) { return a.slope > b.slope; });
    double cap = gpus_, ub = 0;
    for (const Segment& g : segs) {
      if (g.slope <= 0 || cap <= 0) break;
      const double take = std::min(g.dn, cap);
      ub += take * g.slope;
      cap -= take;
    }
    order.push_back(Bound{ub - tab.spans[s], s});
    cells_ += static_cast<double>(m * w);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const Bound& a, const Bound& b) { return a.gain > b.gain; });
  double best_gain = 1e-9 * scale;
  Column best;
  const int cap = gpus_;
  std::vector<double> dp(static_cast<size_t>(cap) + 1), next(dp.size());
  std::vector<std::vector<signed char>> choice(m, std::vector<signed char>(dp.size(), -1));
  for (const Bound& b : order) {
    if (b.gain <= best_gain) break;
    const int* lay = &tab.layers[b.s * m * w];
    std::fill(dp.begin(), dp.end(), 0.0);
    for (size_t i = 0; i < m; ++i) {
      std::fill(choice[i].begin(), choice[i].end(), -1);
      if (y[i] <= 0) continue;
      next = dp;
      for (size_t k = 0; k < w; ++k) {
        const int l = lay[i * w + k];
        if (l == 0) continue;
        const double v = y[i] * l;
        const int n = options_[i][k].n;
        for (int c = n; c <= cap; ++c) {
          const double cand = dp[static_cast<size_t>(c - n)] + v;
          if (cand > next[static_cast<size_t>(c)] + 1e-15) {
            next[static_cast<size_t>(c)] = cand;
            choice[i][static_cast<size_t>(c)] = static_cast<signed char>(k);
          }
        }
        cells_ += cap - n + 1;
      }
      dp.swap(next);
    }
    Column col;
    double value = 0;
    int c = cap;
    for (size_t i = m; i-- > 0;) {
      const int k = choice[i][static_cast<size_t>(c)];
      if (k < 0) continue;
      const int l = lay[i * w + static_cast<size_t>(k)];
      col.push_back(Part{static_cast<int>(i), k, l});
      value += y[i] * l;
      c -= options_[i][static_cast<size_t>(k)].n;
    }
    std::reverse(col.begin(), col.end());
    const double gain = value - span(col);
    if (!col.empty() && gain > best_gain) {
      best_gain = gain;
      best = std::move(col);
    }
  }
  return best;
}

Packer::Master Packer::generate(const std::vector<int>& left, const std::vector<Column>& seed,
                                std::map<Column, double>& pool) {
  Master ms;
  std::vector<size_t> rows;
  for (size_t i = 0; i < size(); ++i)
    if (left[i] > 0) rows.push_back(i);
  // The master program grows by one column per round; rows are the MetaOps with layers left.
  std::vector<double> demand;
  for (size_t i : rows) demand.push_back(left[i]);
  CoveringMaster master(std::move(demand));
  std::set<Column> seen;
  auto add = [&](const Column& c) {
    if (c.empty() || !seen.insert(c).second) return false;
    ms.cols.push_back(c);
    pool.emplace(c, span(c));
    std::vector<double> a(rows.size(), 0.0);
    for (const Part& part : c) {
      const auto it = std::lower_bound(rows.begin(), rows.end(), static_cast<size_t>(part.item));
      a[static_cast<size_t>(it - rows.begin())] = part.layers;
    }
    master.add_column(span(c), a);
    return true;
  };
  for (const Column& c : seed) add(cap(c, left));
  for (size_t i = 0; i < size(); ++i)
    if (left[i] > 0) add(single(i, left[i]));
  const SpanTable tab = span_table(left);
  cells_ += static_cast<double>(tab.layers.size());
  for (int round = 0; round < kMaxPricingRounds; ++round) {
    ms.lp = master.solve();
    if (ms.lp.status != LpStatus::kOptimal) return ms;
    if (cells_ > limit_) return ms;
    std::vector<double> y(size(), 0.0);
    for (size_t r = 0; r < rows.size(); ++r) y[rows[r]] = ms.lp.dual[r];
    Column c = price(y, tab);
    if (c.empty()) {
      ms.converged = true;
      return ms;
    }
    if (!add(c)) return ms;  // numerical stall: the best column is already in
  }
  return ms;
}

std::map<int, size_t> item_index(const std::vector<LevelItem>& items) {
  std::map<int, size_t> item_of;
  for (size_t i = 0; i < items.size(); ++i) item_of[items[i].metaop] = i;
  return item_of;
}

std::vector<Column> columns_of(const Packer& pk, const std::map<int, size_t>& item_of,
                               const std::vector<Wave>& waves) {
  std::vector<Column> cols;
  for (const Wave& w : waves) {
    Column c;
    for (const Slice& s : w.slices) {
      const auto it = item_of.find(s.metaop);
      if (it == item_of.end())
        throw InternalError("wave packing: a seed schedule runs a MetaOp of another level");
      c.push_back(Part{static_cast<int>(it->second), pk.option_of(it->second, s.n), s.layers()});
    }
    std::sort(c.begin(), c.end());
    for (size_t k = 1; k < c.size(); ++k)
      if (c[k].item == c[k - 1].item)
        throw InternalError("wave packing: a seed wave runs a MetaOp twice");
    cols.push_back(std::move(c));
  }
  return cols;
}

double emit_waves(const Packer& pk, const std::vector<LevelItem>& items,
                  const std::vector<Column>& cols, double start_s, std::vector<Wave>& out) {
  const size_t m = items.size();
  std::vector<int> next(m, 0);
  const size_t first_wave = out.size();
  double now = start_s;
  for (const Column& c : cols) {
    Wave w;
    w.start_s = now;
    w.end_s = now;
    for (const Part& part : c) {
      const size_t i = static_cast<size_t>(part.item);
      Slice s;
      s.metaop = items[i].metaop;
      s.first_layer = next[i];
      s.last_layer = next[i] + part.layers;
      s.n = pk.option(part).n;
      s.start_s = now;
      s.end_s = now + part.layers * pk.option(part).t;
      w.end_s = std::max(w.end_s, s.end_s);
      next[i] += part.layers;
      w.slices.push_back(s);
    }
    std::sort(w.slices.begin(), w.slices.end(),
              [](const Slice& a, const Slice& b) { return a.metaop < b.metaop; });
    now = w.end_s;
    out.push_back(std::move(w));
  }
  for (size_t i = 0; i < m; ++i)
    if (next[i] != items[i].L)
      throw InternalError("wave packing scheduled " + std::to_string(next[i]) + " of the " +
                          std::to_string(items[i].L) + " layers of MetaOp " +
                          std::to_string(items[i].metaop));
  merge_identical_waves(out, first_wave);
  return now;
}

}  // namespace spindle::packing
