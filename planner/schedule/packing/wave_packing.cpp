// Wave packing of one MetaLevel: column generation, rounding dive, branch and bound from
// several starts, and the neighbourhood search (see wave_packing.h).
#include "planner/schedule/packing/wave_packing.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "planner/schedule/packing/covering_lp.h"
#include "planner/schedule/packing/wave_columns.h"
#include "planner/schedule/packing/wave_moves.h"
#include "traces/errors.h"

namespace spindle {
namespace {

using packing::Column;
using packing::Packer;
using packing::Part;

// Knapsack cells (items x options x capacities) one level may spend on pricing, and the
// branch-and-bound nodes of its integer program. Fixed counts, not seconds: plans must not
// depend on the machine.
constexpr double kRootCells = 3e7;       // column generation for the whole level
constexpr double kDiveCells = 4.5e7;     // cumulative, with the rounding dive
constexpr double kPricingCells = 6.5e7;  // cumulative, with the neighbourhood search
constexpr long kNodeLimit = 100;
constexpr int kMaxDiveSteps = 64;
constexpr long kNeighbourhoodNodes = 30;
constexpr size_t kStarts = 4;  // schedules the integer search starts from

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
    return pk.total_span(realise(pk, cols, x, demand));
  });
  if (!ip.found) throw InternalError("wave packing: no cover found from a covering seed");
  std::vector<Column> waves = realise(pk, cols, ip.x, demand);
  if (out) *out = std::move(ip);
  return waves;
}

// Large-neighbourhood search: take out two or three waves, re-plan their layers alone
// (column generation and branch and bound on the smaller problem), keep the result when
// its summed span is smaller; until no neighbourhood improves or the budget is spent.
// `failed` remembers neighbourhoods (their waves, sorted) that did not improve: re-planning
// the same waves gives the same result, so they are not tried again.
void improve_by_neighbourhoods(Packer& pk, std::vector<Column>& waves, int gpus,
                               std::set<std::vector<Column>>& failed) {
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
      for (size_t k : sub) {
        seed.push_back(waves[k]);
        for (const Part& p : waves[k]) demand[static_cast<size_t>(p.item)] += p.layers;
      }
      std::vector<Column> key = seed;
      std::sort(key.begin(), key.end());
      if (!failed.insert(key).second) continue;
      const double before = pk.total_span(seed);
      std::map<Column, double> pool;
      Packer::Master ms = pk.generate(demand, seed, pool);
      if (ms.lp.status != LpStatus::kOptimal || ms.lp.objective >= before * (1 - 1e-9)) continue;
      std::vector<Column> better = solve_pool(pk, pool, demand, seed, kNeighbourhoodNodes, nullptr);
      packing::shift_layers(pk, better, gpus);
      if (pk.total_span(better) >= before * (1 - 1e-9)) continue;
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

double pack_level_waves(const std::vector<LevelItem>& items, int gpus, double start_s,
                        const std::vector<const std::vector<Wave>*>& schedules,
                        std::vector<Wave>& out, WavePackingReport* report) {
  if (schedules.empty()) throw InternalError("wave packing needs a schedule to start from");
  if (items.empty()) throw InternalError("wave packing of an empty MetaLevel");
  WavePackingReport rep;
  Packer pk(items, gpus);
  const std::map<int, size_t> item_of = packing::item_index(items);
  std::vector<int> L;
  for (const LevelItem& it : items) L.push_back(it.L);
  std::vector<std::vector<Column>> given;  // the schedules as configurations
  for (const std::vector<Wave>* sch : schedules)
    given.push_back(packing::columns_of(pk, item_of, *sch));
  // Starts: the first kStarts distinct schedules.
  std::vector<std::vector<Column>> starts;
  for (const std::vector<Column>& cols : given)
    if (starts.size() < kStarts && std::find(starts.begin(), starts.end(), cols) == starts.end())
      starts.push_back(cols);
  std::vector<Column> waves = starts.front();
  const double cells = pk.pricing_cells(L);
  if (cells * 8 > kPricingCells) {
    rep.why_not = "one pricing round would take " + std::to_string(static_cast<long long>(cells)) +
                  " knapsack cells (budget " +
                  std::to_string(static_cast<long long>(kPricingCells)) + " per level)";
  } else {
    rep.ran = true;
    std::map<Column, double> pool;  // every configuration seen, and its span
    for (const std::vector<Column>& cols : given)
      for (const Column& c : cols) pool.emplace(c, pk.span(c));
    // Root column generation, then a dive: take the columns the LP uses whole, or round up
    // the one it uses most, and generate again for the layers left.
    pk.set_limit(kRootCells);
    Packer::Master ms = pk.generate(L, starts.front(), pool);
    rep.lp_converged = ms.converged;
    if (ms.lp.status == LpStatus::kOptimal) rep.lp_bound_s = ms.lp.objective;
    pk.set_limit(kDiveCells);
    std::vector<int> left = L;
    std::vector<Column> dive;  // the dive's own cover
    for (int step = 0;
         step < kMaxDiveSteps && ms.lp.status == LpStatus::kOptimal && !ms.cols.empty(); ++step) {
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
          dive.push_back(c);
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
    if (std::all_of(left.begin(), left.end(), [](int l) { return l == 0; }) &&
        std::find(starts.begin(), starts.end(), dive) == starts.end())
      starts.push_back(dive);  // the dive's cover is one more start
    // From each start: branch and bound over the pool, local moves, then re-planning of
    // small groups of waves (an equal share of the budget left each); the best is kept.
    const double share = (kPricingCells - pk.cells_used()) / static_cast<double>(starts.size());
    double best = std::numeric_limits<double>::infinity();
    std::set<std::vector<Column>> failed;
    for (size_t k = 0; k < starts.size(); ++k) {
      IpSolution ip;
      std::vector<Column> result = solve_pool(pk, pool, L, starts[k], kNodeLimit, &ip);
      rep.nodes += ip.nodes;
      packing::shift_layers(pk, result, gpus);
      pk.set_limit(pk.cells_used() + share);
      improve_by_neighbourhoods(pk, result, gpus, failed);
      const double total = pk.total_span(result);
      if (total < best * (1 - 1e-12)) {
        best = total;
        waves = std::move(result);
      }
    }
  }
  packing::shift_layers(pk, waves, gpus);
  const double end = packing::emit_waves(pk, items, waves, start_s, out);
  if (report) *report = rep;
  return end;
}

}  // namespace spindle
