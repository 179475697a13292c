// Local moves on a level's waves (see wave_moves.h).
#include "planner/schedule/packing/wave_moves.h"

#include <algorithm>
#include <limits>
#include <map>

namespace spindle {
namespace packing {
namespace {
constexpr int kMaxShiftRounds = 10000;
}  // namespace

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

}  // namespace packing

double polish_level_waves(const std::vector<LevelItem>& items, int gpus, double start_s,
                          std::vector<Wave>& waves) {
  packing::Packer pk(items, gpus);
  std::vector<packing::Column> cols = packing::columns_of(pk, packing::item_index(items), waves);
  packing::shift_layers(pk, cols, gpus);
  std::vector<Wave> out;
  const double end = packing::emit_waves(pk, items, cols, start_s, out);
  waves = std::move(out);
  return end;
}

}  // namespace spindle
