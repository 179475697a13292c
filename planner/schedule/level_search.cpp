// spindle's level search (see level_search.h).
#include "planner/schedule/level_search.h"

#include <algorithm>
#include <string>

#include "planner/schedule/bounds.h"
#include "planner/schedule/packing/wave_moves.h"
#include "planner/schedule/packing/wave_packing.h"
#include "planner/schedule/wavefront.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

// Re-planned level schedules are also tried with this many seeded perturbations (+-15%) of
// their slack and widening priorities; the seeds are fixed, so plans stay deterministic.
constexpr std::uint64_t kReplanSeeds = 32;

// Appends `waves` (of a level scheduled from time 0) to `p` from `offset`.
double append_level(Plan& p, const std::vector<Wave>& waves, double offset) {
  double end = offset;
  for (Wave w : waves) {
    w.start_s += offset;
    w.end_s += offset;
    for (Slice& sl : w.slices) {
      sl.start_s += offset;
      sl.end_s += offset;
    }
    end = std::max(end, w.end_s);
    p.waves.push_back(std::move(w));
  }
  return end;
}

}  // namespace

LevelPlans plan_levels(const Scenario& s, const MetaGraph& mg, const CostModel& cost) {
  LevelPlans out;
  Plan& p = out.packed;
  const int gpus = s.cluster.gpus();
  double now = 0, now_polished = 0, now_scheduled = 0;
  std::string chosen, packing;
  for (int level = 1; level <= mg.levels; ++level) {
    std::vector<LevelItem> items = level_items(mg, cost, level);
    LevelAllocation a = allocate_level(items, gpus);
    // Candidates, each scheduled from time 0: the published rule, best-span align, and
    // re-planning before every wave (with the slack-capped efficient span, or with
    // look-ahead; from bi-point or water-filled counts), the last also with seeded
    // perturbations of its priorities.
    struct Candidate {
      std::string name;
      std::vector<Wave> waves;
      double end = 0;
    };
    std::vector<Candidate> cands;
    for (AlignRule rule : {AlignRule::kShortestPiece, AlignRule::kBestSpan}) {
      Candidate c{rule == AlignRule::kShortestPiece ? "published" : "best-span", {}, 0};
      c.end = schedule_level(items, a.pieces, gpus, 0.0, c.waves, rule);
      cands.push_back(std::move(c));
    }
    for (std::uint64_t seed = 0; seed <= kReplanSeeds; ++seed)
      for (int k = 0; k < 4; ++k) {
        const bool look_ahead = k % 2 == 1, water_fill = k >= 2;
        std::string name = std::string(water_fill ? "water-filled" : "re-planned") +
                           (look_ahead ? " look-ahead" : "");
        if (seed > 0) name += " (perturbation " + std::to_string(seed) + ")";
        Candidate c{name, {}, 0};
        c.end = schedule_level_replanned(items, gpus, 0.0, c.waves, look_ahead, water_fill, seed);
        cands.push_back(std::move(c));
      }
    const Candidate* first = &cands[0];
    for (const Candidate& c : cands)
      if (c.end < first->end * (1 - 1e-9)) first = &c;
    now_scheduled = append_level(out.scheduled, first->waves, now_scheduled);
    // Every candidate is polished by local moves; the fastest seed the integer program over
    // wave configurations, which keeps the fastest unless it finds a smaller summed span.
    for (Candidate& c : cands) c.end = polish_level_waves(items, gpus, 0.0, c.waves);
    std::vector<const Candidate*> ranked;
    for (const Candidate& c : cands) ranked.push_back(&c);
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const Candidate* x, const Candidate* y) { return x->end < y->end; });
    const Candidate* best = ranked.front();
    now_polished = append_level(out.polished, best->waves, now_polished);
    std::vector<const std::vector<Wave>*> schedules;
    for (const Candidate* c : ranked) schedules.push_back(&c->waves);
    Candidate packed{"wave packing", {}, 0};
    WavePackingReport rep;
    packed.end = pack_level_waves(items, gpus, 0.0, schedules, packed.waves, &rep);
    const std::string polished_name = best->name + " polished";
    if (packed.end < best->end * (1 - 1e-9)) best = &packed;
    now = append_level(p, best->waves, now);
    chosen += (level > 1 ? ", " : "") + std::to_string(level) + ": " +
              (best == &packed ? best->name : polished_name) + " " +
              fixed(best->end / a.cstar_s, 3) + "x C*";
    if (!rep.ran)
      packing +=
          (packing.empty() ? "" : ", ") + std::to_string(level) + ": not run, " + rep.why_not;
    else
      packing += (packing.empty() ? "" : ", ") + std::to_string(level) + ": " +
                 (rep.lp_converged ? "LP bound " + fixed(rep.lp_bound_s / a.cstar_s, 3) + "x C*"
                                   : std::string("LP not converged")) +
                 ", " + std::to_string(rep.columns) + " columns, " + std::to_string(rep.nodes) +
                 " nodes";
  }
  p.notes.push_back("MPSP allocation and wavefront scheduling per MetaLevel, levels concatenated");
  p.notes.push_back(
      "wave schedule taken per MetaLevel (fastest of the published wavefront, best-span align, "
      "and re-planning before every wave, from bi-point or water-filled counts, with or without "
      "look-ahead, each also with " +
      std::to_string(kReplanSeeds) +
      " seeded perturbations of its priorities, every one polished by local moves; the fastest "
      "few then start an integer program over wave configurations): " +
      chosen);
  p.notes.push_back(
      "wave packing (configuration LP by column generation, a rounding dive, branch and bound "
      "from the fastest schedules and the dive's cover, re-planning of two or three waves at a "
      "time; the LP bound holds for every barrier-wave schedule of the level): " +
      packing);
  return out;
}

}  // namespace spindle
