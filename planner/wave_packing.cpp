// Column generation, rounding dive and branch and bound over wave configurations (see
// wave_packing.h).
#include "planner/wave_packing.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "planner/covering_lp.h"
#include "planner/wavefront.h"
#include "traces/errors.h"

namespace spindle {
namespace {

// Knapsack cells (items x options x capacities) one level may spend on pricing, and the
// branch-and-bound nodes of its integer program. Fixed counts, not seconds: plans must not
// depend on the machine.
constexpr double kRootCells = 3e7;       // column generation for the whole level
constexpr double kDiveCells = 4.5e7;     // cumulative, with the rounding dive
constexpr double kPricingCells = 6.5e7;  // cumulative, with the neighbourhood search
constexpr long kNodeLimit = 100;
constexpr int kMaxPricingRounds = 400;  // per column generation
constexpr int kMaxDiveSteps = 64;
constexpr long kNeighbourhoodNodes = 30;
constexpr size_t kStarts = 4;  // schedules the integer search starts from
constexpr int kMaxShiftRounds = 10000;

struct Option {
  int n = 0;
  double t = 0;        // one operator on n devices
  bool useful = true;  // strictly faster than every narrower option
};

struct Part {
  int item = 0;
  int option = 0;
  int layers = 0;
  bool operator<(const Part& o) const {
    return std::tie(item, option, layers) < std::tie(o.item, o.option, o.layers);
  }
  bool operator==(const Part& o) const {
    return item == o.item && option == o.option && layers == o.layers;
  }
};
using Column = std::vector<Part>;  // sorted by item, at most one part per item

class Packer {
 public:
  Packer(const std::vector<LevelItem>& items, int gpus) : items_(items), gpus_(gpus) {
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

  size_t size() const { return items_.size(); }
  int options(size_t i) const { return static_cast<int>(options_[i].size()); }
  const Option& option(const Part& p) const {
    return options_[static_cast<size_t>(p.item)][static_cast<size_t>(p.option)];
  }
  double span(const Column& c) const {
    double s = 0;
    for (const Part& p : c) s = std::max(s, p.layers * option(p).t);
    return s;
  }
  int devices(const Column& c) const {
    int d = 0;
    for (const Part& p : c) d += option(p).n;
    return d;
  }
  static Column cap(const Column& c, const std::vector<int>& left) {
    Column out;
    for (Part p : c) {
      p.layers = std::min(p.layers, left[static_cast<size_t>(p.item)]);
      if (p.layers > 0) out.push_back(p);
    }
    return out;
  }
  // The option of item `i` on `n` devices, or the narrowest one at least as fast.
  int option_of(size_t i, int n) const {
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
    throw InternalError(
        "wave packing: the incumbent uses a device count the MetaOp does not allow");
  }
  Column single(size_t i, int layers) const {
    int best = 0;
    for (size_t k = 1; k < options_[i].size(); ++k)
      if (options_[i][k].t < options_[i][static_cast<size_t>(best)].t) best = static_cast<int>(k);
    return Column{Part{static_cast<int>(i), best, layers}};
  }
  // Knapsack cells one pricing over all spans would take for `left`.
  double pricing_cells(const std::vector<int>& left) const {
    double spans = 0, opts = 0;
    for (size_t i = 0; i < size(); ++i) {
      spans += static_cast<double>(options_[i].size()) * left[i];
      opts += static_cast<double>(options_[i].size());
    }
    return spans * opts * (gpus_ + 1);
  }
  double cells_used() const { return cells_; }
  void set_limit(double cells) { limit_ = cells; }
  double limit() const { return limit_; }

  // Every span at which some MetaOp's layers in a wave change (l x T(n) for its useful
  // options), and at each the layers every option fits: independent of the duals, so one
  // table serves a whole column generation.
  struct SpanTable {
    std::vector<double> spans;
    std::vector<int> layers;  // spans x items x max options; 0 where the option is useless
    int width = 0;            // max options
  };
  SpanTable span_table(const std::vector<int>& left) const {
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

  // The column with the largest reduced cost sum_i y_i l_i - span (> tolerance), or empty.
  // Spans are tried in the order of an upper bound on their knapsack (its LP relaxation:
  // per MetaOp the upper concave hull of value over devices, filled by slope), stopping
  // once the bound cannot beat the best found.
  Column price(const std::vector<double>& y, const SpanTable& tab) {
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

  struct Master {
    std::vector<Column> cols;
    LpSolution lp;
    bool converged = false;
  };

  // Column generation for the layers `left`, starting from `seed` (capped to `left`) and one
  // single-MetaOp column per MetaOp; every column is also kept in `pool`.
  Master generate(const std::vector<int>& left, const std::vector<Column>& seed,
                  std::map<Column, double>& pool) {
    Master ms;
    std::map<Column, bool> seen;
    auto add = [&](const Column& c) {
      if (c.empty() || seen.count(c)) return false;
      seen[c] = true;
      ms.cols.push_back(c);
      pool.emplace(c, span(c));
      return true;
    };
    for (const Column& c : seed) add(cap(c, left));
    for (size_t i = 0; i < size(); ++i)
      if (left[i] > 0) add(single(i, left[i]));
    std::vector<size_t> rows;
    for (size_t i = 0; i < size(); ++i)
      if (left[i] > 0) rows.push_back(i);
    const SpanTable tab = span_table(left);
    cells_ += static_cast<double>(tab.layers.size());
    for (int round = 0; round < kMaxPricingRounds; ++round) {
      CoveringProgram p;
      for (size_t i : rows) p.demand.push_back(left[i]);
      for (const Column& c : ms.cols) {
        std::vector<double> a(rows.size(), 0.0);
        for (const Part& part : c) {
          const auto it =
              std::lower_bound(rows.begin(), rows.end(), static_cast<size_t>(part.item));
          a[static_cast<size_t>(it - rows.begin())] = part.layers;
        }
        p.column.push_back(std::move(a));
        p.cost.push_back(span(c));
      }
      ms.lp = solve_covering_lp(p);
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

 private:
  const std::vector<LevelItem>& items_;
  int gpus_;
  std::vector<std::vector<Option>> options_;
  double cells_ = 0;
  double limit_ = 0;
};

// The waves a cover makes: the chosen configurations, longest first (copies together, so
// they merge), each capped to the layers still left; empty ones dropped.
std::vector<Column> realise(const Packer& pk, const std::vector<Column>& cols,
                            const std::vector<long>& x, std::vector<int> left) {
  std::vector<size_t> order;
  for (size_t j = 0; j < cols.size(); ++j)
    if (x[j] > 0) order.push_back(j);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return pk.span(cols[a]) > pk.span(cols[b]); });
  std::vector<Column> out;
  for (size_t j : order)
    for (long copy = 0; copy < x[j]; ++copy) {
      Column c = Packer::cap(cols[j], left);
      if (c.empty()) break;
      for (const Part& p : c) left[static_cast<size_t>(p.item)] -= p.layers;
      out.push_back(std::move(c));
    }
  return out;
}

// Branch and bound over `pool` for the layers `demand`, from the cover `seed`; the waves
// of the best cover found.
std::vector<Column> solve_pool(const Packer& pk, const std::map<Column, double>& pool,
                               const std::vector<int>& demand, const std::vector<Column>& seed,
                               long node_limit, IpSolution* out) {
  const size_t m = pk.size();
  CoveringProgram p;
  for (size_t i = 0; i < m; ++i) p.demand.push_back(demand[i]);
  std::vector<Column> cols;
  std::map<Column, size_t> index;
  auto add = [&](const Column& c, double span) {
    if (index.count(c)) return;
    index[c] = cols.size();
    cols.push_back(c);
    std::vector<double> a(m, 0.0);
    for (const Part& part : c) a[static_cast<size_t>(part.item)] = part.layers;
    p.column.push_back(std::move(a));
    p.cost.push_back(span);
  };
  for (const auto& [c, sp] : pool) add(c, sp);
  for (const Column& c : seed) add(c, pk.span(c));
  std::vector<long> inc(cols.size(), 0);
  for (const Column& c : seed) ++inc[index.at(c)];
  IpSolution ip = solve_covering_ip(p, inc, node_limit, [&](const std::vector<long>& x) {
    double v = 0;
    for (const Column& c : realise(pk, cols, x, demand)) v += pk.span(c);
    return v;
  });
  if (!ip.found) throw InternalError("wave packing: no cover found from a covering seed");
  std::vector<Column> waves = realise(pk, cols, ip.x, demand);
  if (out) *out = std::move(ip);
  return waves;
}

}  // namespace

namespace {

// Local moves on the waves, best gain first, until none gains: every slice that sets a
// wave's span gives one layer to another wave (joining that MetaOp's slice there, perhaps
// wider, or on idle devices), or the one slice that sets it widens onto idle devices.
void shift_layers(const Packer& pk, std::vector<Column>& waves, int gpus) {
  std::vector<double> span(waves.size());
  for (size_t w = 0; w < waves.size(); ++w) span[w] = pk.span(waves[w]);
  // The cheapest way to add one layer of `item` to wave B: the new wave (empty if none fits).
  auto add_layer = [&](const Column& B, double span_b, int item, double* increase) {
    const int free_b = gpus - pk.devices(B);
    const auto at = std::find_if(B.begin(), B.end(), [&](const Part& q) { return q.item == item; });
    double others = 0;
    for (const Part& q : B)
      if (q.item != item) others = std::max(others, q.layers * pk.option(q).t);
    const int have_n = at == B.end() ? 0 : pk.option(*at).n;
    const int have_l = at == B.end() ? 0 : at->layers;
    int best_k = -1;
    double best_span = std::numeric_limits<double>::infinity();
    for (int k = at == B.end() ? 0 : at->option; k < pk.options(static_cast<size_t>(item)); ++k) {
      const Option& o = pk.option(Part{item, k, 0});
      if (o.n - have_n > free_b) break;
      const double sp = std::max(others, (have_l + 1) * o.t);
      if (sp < best_span) {
        best_span = sp;
        best_k = k;
      }
    }
    Column nb;
    if (best_k < 0) return nb;
    nb = B;
    if (at == B.end()) {
      nb.push_back(Part{item, best_k, 1});
      std::sort(nb.begin(), nb.end());
    } else {
      Part& q = nb[static_cast<size_t>(at - B.begin())];
      q.option = best_k;
      ++q.layers;
    }
    *increase = best_span - span_b;
    return nb;
  };
  for (int round = 0; round < kMaxShiftRounds; ++round) {
    double total = 0;
    for (double sp : span) total += sp;
    double best_gain = 1e-12 * total;
    std::map<size_t, Column> best;  // the waves a move rewrites
    for (size_t a = 0; a < waves.size(); ++a) {
      const Column& A = waves[a];
      std::vector<size_t> crit;
      for (size_t k = 0; k < A.size(); ++k)
        if (A[k].layers * pk.option(A[k]).t >= span[a] * (1 - 1e-12)) crit.push_back(k);
      if (crit.size() == 1) {  // widen in place
        const Part p = A[crit[0]];
        const int free_a = gpus - pk.devices(A);
        for (int k = p.option + 1; k < pk.options(static_cast<size_t>(p.item)); ++k) {
          if (pk.option(Part{p.item, k, 0}).n - pk.option(p).n > free_a) break;
          Column na = A;
          na[crit[0]].option = k;
          const double gain = span[a] - pk.span(na);
          if (gain > best_gain) {
            best_gain = gain;
            best = {{a, std::move(na)}};
          }
        }
      }
      // Every critical slice gives one layer to the wave that takes it most cheaply.
      std::map<size_t, Column> changed;
      auto wave = [&](size_t w) -> const Column& {
        const auto it = changed.find(w);
        return it == changed.end() ? waves[w] : it->second;
      };
      auto span_of = [&](size_t w) {
        const auto it = changed.find(w);
        return it == changed.end() ? span[w] : pk.span(it->second);
      };
      Column na = A;
      double gain = 0;
      bool ok = true;
      for (size_t k : crit) {
        const int item = A[k].item;
        --na[k].layers;
        size_t to = waves.size();
        double inc = std::numeric_limits<double>::infinity();
        Column moved;
        for (size_t b = 0; b < waves.size(); ++b) {
          if (b == a) continue;
          double i = 0;
          Column nb = add_layer(wave(b), span_of(b), item, &i);
          if (!nb.empty() && i < inc) {
            inc = i;
            to = b;
            moved = std::move(nb);
          }
        }
        if (to == waves.size()) {
          ok = false;
          break;
        }
        gain -= inc;
        changed[to] = std::move(moved);
      }
      if (!ok) continue;
      na.erase(std::remove_if(na.begin(), na.end(), [](const Part& x) { return x.layers == 0; }),
               na.end());
      gain += span[a] - pk.span(na);
      if (gain > best_gain) {
        best_gain = gain;
        changed[a] = std::move(na);
        best = std::move(changed);
      }
    }
    if (best.empty()) break;
    for (auto& [w, c] : best) {
      waves[w] = std::move(c);
      span[w] = pk.span(waves[w]);
    }
  }
  waves.erase(std::remove_if(waves.begin(), waves.end(), [](const Column& c) { return c.empty(); }),
              waves.end());
}

}  // namespace

namespace {

// Large-neighbourhood search: take out two or three waves, re-plan their layers alone
// (column generation and branch and bound on the smaller problem), keep the result when
// its summed span is smaller; until no neighbourhood improves or the budget is spent.
void improve_by_neighbourhoods(Packer& pk, std::vector<Column>& waves, int gpus) {
  const size_t m = pk.size();
  for (bool improved = true; improved && pk.cells_used() < pk.limit();) {
    improved = false;
    const size_t w = waves.size();
    std::vector<std::vector<size_t>> subsets;
    for (size_t a = 0; a < w; ++a)
      for (size_t b = a + 1; b < w; ++b) subsets.push_back({a, b});
    for (size_t a = 0; a < w; ++a)
      for (size_t b = a + 1; b < w; ++b)
        for (size_t c = b + 1; c < w; ++c) subsets.push_back({a, b, c});
    for (const std::vector<size_t>& sub : subsets) {
      if (pk.cells_used() >= pk.limit()) break;
      std::vector<int> demand(m, 0);
      std::vector<Column> seed;
      double before = 0;
      for (size_t k : sub) {
        seed.push_back(waves[k]);
        before += pk.span(waves[k]);
        for (const Part& p : waves[k]) demand[static_cast<size_t>(p.item)] += p.layers;
      }
      std::map<Column, double> pool;
      Packer::Master ms = pk.generate(demand, seed, pool);
      if (ms.lp.status != LpStatus::kOptimal || ms.lp.objective >= before * (1 - 1e-9)) continue;
      std::vector<Column> better = solve_pool(pk, pool, demand, seed, kNeighbourhoodNodes, nullptr);
      shift_layers(pk, better, gpus);
      double after = 0;
      for (const Column& c : better) after += pk.span(c);
      if (after >= before * (1 - 1e-9)) continue;
      std::vector<Column> next;
      for (size_t k = 0; k < w; ++k)
        if (std::find(sub.begin(), sub.end(), k) == sub.end()) next.push_back(waves[k]);
      next.insert(next.end(), better.begin(), better.end());
      std::stable_sort(next.begin(), next.end(),
                       [&](const Column& x, const Column& y) { return pk.span(x) > pk.span(y); });
      waves = std::move(next);
      improved = true;
      break;
    }
  }
}

}  // namespace

namespace {

std::map<int, size_t> item_index(const std::vector<LevelItem>& items) {
  std::map<int, size_t> item_of;
  for (size_t i = 0; i < items.size(); ++i) item_of[items[i].metaop] = i;
  return item_of;
}

// Waves as configurations.
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
    cols.push_back(std::move(c));
  }
  return cols;
}

// Appends the configurations as waves from `start_s` (layers in order, identical
// consecutive waves merged); returns the end.
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

}  // namespace

double polish_level_waves(const std::vector<LevelItem>& items, int gpus, double start_s,
                          std::vector<Wave>& waves) {
  Packer pk(items, gpus);
  std::vector<Column> cols = columns_of(pk, item_index(items), waves);
  shift_layers(pk, cols, gpus);
  std::vector<Wave> out;
  const double end = emit_waves(pk, items, cols, start_s, out);
  waves = std::move(out);
  return end;
}

double pack_level_waves(const std::vector<LevelItem>& items, int gpus, double start_s,
                        const std::vector<const std::vector<Wave>*>& schedules,
                        std::vector<Wave>& out, WavePackingReport* report) {
  if (schedules.empty()) throw InternalError("wave packing needs a schedule to start from");
  WavePackingReport rep;
  Packer pk(items, gpus);
  const std::map<int, size_t> item_of = item_index(items);
  std::vector<int> L;
  for (const LevelItem& it : items) L.push_back(it.L);
  // Starts: the first kStarts distinct schedules.
  std::vector<std::vector<Column>> starts;
  for (const std::vector<Wave>* sch : schedules) {
    std::vector<Column> cols = columns_of(pk, item_of, *sch);
    if (starts.size() < kStarts && std::find(starts.begin(), starts.end(), cols) == starts.end())
      starts.push_back(std::move(cols));
  }
  for (const Column& c : starts.front()) rep.incumbent_s += pk.span(c);
  std::vector<Column> waves = starts.front();
  const double cells = pk.pricing_cells(L);
  if (cells * 8 > kPricingCells) {
    rep.why_not = "one pricing round would take " + std::to_string(static_cast<long long>(cells)) +
                  " knapsack cells (budget " +
                  std::to_string(static_cast<long long>(kPricingCells)) + " per level)";
  } else {
    rep.ran = true;
    std::map<Column, double> pool;  // every configuration seen, and its span
    for (const std::vector<Wave>* sch : schedules)
      for (const Column& c : columns_of(pk, item_of, *sch)) pool.emplace(c, pk.span(c));
    // Root column generation, then a dive: take the columns the LP uses whole, or round up
    // the one it uses most, and generate again for the layers left.
    pk.set_limit(kRootCells);
    Packer::Master ms = pk.generate(L, starts.front(), pool);
    rep.lp_converged = ms.converged;
    if (ms.lp.status == LpStatus::kOptimal) rep.lp_bound_s = ms.lp.objective;
    pk.set_limit(kDiveCells);
    std::vector<int> left = L;
    for (int step = 0; step < kMaxDiveSteps && ms.lp.status == LpStatus::kOptimal; ++step) {
      std::vector<std::pair<size_t, long>> take;
      for (size_t j = 0; j < ms.cols.size(); ++j)
        if (ms.lp.x[j] >= 1 - 1e-6)
          take.emplace_back(j, static_cast<long>(std::floor(ms.lp.x[j] + 1e-6)));
      if (take.empty()) {
        size_t j = 0;
        for (size_t k = 1; k < ms.cols.size(); ++k)
          if (ms.lp.x[k] > ms.lp.x[j] + 1e-12) j = k;
        take.emplace_back(j, 1);
      }
      for (const auto& [j, copies] : take)
        for (long k = 0; k < copies; ++k) {
          const Column c = Packer::cap(ms.cols[j], left);
          if (c.empty()) break;
          pool.emplace(c, pk.span(c));
          for (const Part& p : c) left[static_cast<size_t>(p.item)] -= p.layers;
        }
      if (std::all_of(left.begin(), left.end(), [](int l) { return l == 0; })) break;
      if (pk.cells_used() > kDiveCells) break;
      std::vector<Column> keep;
      for (size_t j = 0; j < ms.cols.size(); ++j)
        if (ms.lp.x[j] > 1e-9) keep.push_back(ms.cols[j]);
      ms = pk.generate(left, keep, pool);
    }
    rep.columns = static_cast<long>(pool.size());
    // From each start: branch and bound over the pool, local moves, then re-planning of
    // small groups of waves (an equal share of the budget left each); the best is kept.
    const double share = (kPricingCells - pk.cells_used()) / static_cast<double>(starts.size());
    double best = std::numeric_limits<double>::infinity();
    for (size_t k = 0; k < starts.size(); ++k) {
      IpSolution ip;
      std::vector<Column> result = solve_pool(pk, pool, L, starts[k], kNodeLimit, &ip);
      rep.nodes += ip.nodes;
      shift_layers(pk, result, gpus);
      pk.set_limit(pk.cells_used() + share);
      improve_by_neighbourhoods(pk, result, gpus);
      double total = 0;
      for (const Column& c : result) total += pk.span(c);
      if (total < best * (1 - 1e-12)) {
        best = total;
        waves = std::move(result);
      }
    }
  }
  shift_layers(pk, waves, gpus);
  const double end = emit_waves(pk, items, waves, start_s, out);
  rep.packed_s = end - start_s;
  if (report) *report = rep;
  return end;
}

}  // namespace spindle
