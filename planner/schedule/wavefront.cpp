// propose / extend / align / commit (see wavefront.h).
#include "planner/schedule/wavefront.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "planner/schedule/allocator.h"
#include "traces/errors.h"

namespace spindle {
namespace {

// A MetaOp's remaining work: layers still to run from `next_layer`, as (layers, n) chunks from
// the bi-point split. Which chunk runs first is free (the layers are identical); the next
// slice always continues at next_layer.
struct Chunk {
  int layers = 0;
  int n = 0;
};
struct Queue {
  const LevelItem* item = nullptr;
  int next_layer = 0;
  std::vector<Chunk> chunks;
  bool empty() const { return chunks.empty(); }
  double remaining_s() const {
    double t = 0;
    for (const Chunk& c : chunks) t += c.layers * item->curve->time_s(c.n);
    return t;
  }
  // The chunk on the fewest devices: starting narrow leaves room for others, and extend
  // widens it when devices stay idle.
  size_t narrowest() const {
    size_t best = 0;
    for (size_t i = 1; i < chunks.size(); ++i)
      if (chunks[i].n < chunks[best].n) best = i;
    return best;
  }
};

struct Candidate {
  size_t queue = 0;
  size_t chunk = 0;
  int n = 0;
  int layers = 0;  // the head piece's remaining layers
  int run = 0;     // whole operators it runs in this wave
  double per_op_s = 0;
};

// The next valid device count above `n`, or 0.
int next_valid(const LevelItem& item, int n) {
  for (int v : item.valid_n)
    if (v > n) return v;
  return 0;
}

// The span `rule` gives a wave of these candidates (their per_op_s and layers set).
double choose_span(const std::vector<Candidate>& cand, int gpus, AlignRule rule) {
  double shortest = std::numeric_limits<double>::infinity();
  for (const Candidate& c : cand) shortest = std::min(shortest, c.layers * c.per_op_s);
  if (rule == AlignRule::kShortestPiece) return shortest;
  // Useful device-seconds in a wave of span `span`: whole operators that fit.
  auto useful = [&](double span) {
    double u = 0;
    for (const Candidate& c : cand)
      u += c.n * std::min(c.layers, static_cast<int>(std::floor(span / c.per_op_s * (1 + 1e-12)))) * c.per_op_s;
    return u;
  };
  std::vector<double> spans;
  for (const Candidate& c : cand)
    for (int k = 1; k <= c.layers; ++k) spans.push_back(k * c.per_op_s);
  double best_span = shortest, best_eff = useful(shortest) / (gpus * shortest);
  for (double span : spans) {
    const double eff = useful(span) / (gpus * span);
    if (eff > best_eff + 1e-9 || (eff > best_eff - 1e-9 && span > best_span)) {
      best_eff = eff;
      best_span = span;
    }
  }
  return best_span;
}

}  // namespace

double schedule_level(const std::vector<LevelItem>& items, const std::vector<Piece>& pieces, int gpus,
                      double start_s, std::vector<Wave>& out, AlignRule rule) {
  std::vector<Queue> queues;
  std::map<int, size_t> queue_of;
  for (const LevelItem& it : items) {
    queue_of[it.metaop] = queues.size();
    queues.push_back(Queue{&it, 0, {}});
  }
  for (const Piece& p : pieces) queues[queue_of.at(p.metaop)].chunks.push_back(Chunk{p.layers, p.n});
  const size_t first_wave = out.size();
  double now = start_s;
  for (;;) {
    // propose: heads of the queues, most remaining work first.
    std::vector<size_t> order;
    for (size_t q = 0; q < queues.size(); ++q)
      if (!queues[q].empty()) order.push_back(q);
    if (order.empty()) break;
    std::vector<double> remaining(queues.size());
    for (size_t q : order) remaining[q] = queues[q].remaining_s();
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return remaining[a] > remaining[b]; });
    std::vector<Candidate> cand;
    int used = 0;
    for (size_t q : order) {
      const size_t k = queues[q].narrowest();
      const Chunk& chunk = queues[q].chunks[k];
      if (used + chunk.n > gpus) continue;
      cand.push_back(Candidate{q, k, chunk.n, chunk.layers, 0, 0});
      used += chunk.n;
    }
    if (cand.empty()) throw InternalError("wavefront: no piece fits on " + std::to_string(gpus) + " devices");
    double span = 0;
    for (;;) {
      // extend: widen the pieces with most remaining time onto idle devices.
      for (bool widened = true; widened && used < gpus;) {
        widened = false;
        std::vector<size_t> by_work(cand.size());
        for (size_t i = 0; i < cand.size(); ++i) by_work[i] = i;
        std::stable_sort(by_work.begin(), by_work.end(),
                         [&](size_t a, size_t b) { return remaining[cand[a].queue] > remaining[cand[b].queue]; });
        for (size_t i : by_work) {
          Candidate& c = cand[i];
          const LevelItem& it = *queues[c.queue].item;
          const int wider = next_valid(it, c.n);
          if (wider == 0 || used + wider - c.n > gpus) continue;
          if (!(it.curve->time_s(wider) < it.curve->time_s(c.n))) continue;
          used += wider - c.n;
          c.n = wider;
          widened = true;
          break;
        }
      }
      // align: the wave's span (see AlignRule).
      for (Candidate& c : cand) c.per_op_s = queues[c.queue].item->curve->time_s(c.n);
      span = choose_span(cand, gpus, rule);
      bool dropped = false;
      for (size_t i = 0; i < cand.size();) {
        Candidate& c = cand[i];
        c.run = std::min(c.layers, static_cast<int>(std::floor(span / c.per_op_s * (1 + 1e-12))));
        if (c.run == 0) {  // cannot finish one operator in the span: leaves the wave
          used -= c.n;
          cand.erase(cand.begin() + static_cast<std::ptrdiff_t>(i));
          dropped = true;
        } else {
          ++i;
        }
      }
      if (!dropped) break;
    }
    // commit
    Wave w;
    w.start_s = now;
    w.end_s = now;
    std::sort(cand.begin(), cand.end(), [&](const Candidate& a, const Candidate& b) {
      return queues[a.queue].item->metaop < queues[b.queue].item->metaop;
    });
    for (const Candidate& c : cand) {
      Queue& q = queues[c.queue];
      Slice s;
      s.metaop = q.item->metaop;
      s.first_layer = q.next_layer;
      s.last_layer = q.next_layer + c.run;
      s.n = c.n;
      s.start_s = now;
      s.end_s = now + c.run * c.per_op_s;
      w.end_s = std::max(w.end_s, s.end_s);
      w.slices.push_back(s);
      q.next_layer += c.run;
      Chunk& chunk = q.chunks[c.chunk];
      chunk.layers -= c.run;
      if (chunk.layers == 0) q.chunks.erase(q.chunks.begin() + static_cast<std::ptrdiff_t>(c.chunk));
    }
    now = w.end_s;
    out.push_back(std::move(w));
  }
  merge_identical_waves(out, first_wave);
  return now;
}

namespace {
// A deterministic factor in [1 - spread, 1 + spread] for (seed, a, b); 1 when seed is 0.
double jitter(std::uint64_t seed, std::uint64_t a, std::uint64_t b, double spread) {
  if (seed == 0) return 1.0;
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ULL + a * 0xBF58476D1CE4E5B9ULL + b * 0x94D049BB133111EBULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return 1.0 + spread * (2.0 * static_cast<double>(z >> 11) / 9007199254740992.0 - 1.0);
}
}  // namespace

double schedule_level_replanned(const std::vector<LevelItem>& items, int gpus, double start_s, std::vector<Wave>& out,
                                bool look_ahead, bool water_fill, std::uint64_t seed) {
  std::uint64_t wave_no = 0;
  const size_t first_wave = out.size();
  std::vector<int> left(items.size()), next(items.size(), 0);
  for (size_t i = 0; i < items.size(); ++i) left[i] = items[i].L;
  double now = start_s;
  for (;;) {
    std::vector<size_t> active;
    std::vector<LevelItem> rest;
    for (size_t i = 0; i < items.size(); ++i)
      if (left[i] > 0) {
        active.push_back(i);
        LevelItem it = items[i];
        it.L = left[i];
        rest.push_back(it);
      }
    if (active.empty()) break;
    ++wave_no;
    LevelAllocation a = allocate_level(rest, gpus);
    // Each MetaOp's narrower bi-point count (1 below one device); slack = how long it can wait.
    struct Want {
      size_t item;
      int n;
      double remaining_s;  // at n
      double slack_s;
    };
    std::vector<Want> wants;
    for (size_t k = 0; k < active.size(); ++k) {
      int n = 1 << 30;
      for (const Piece& p : a.pieces)
        if (p.metaop == rest[k].metaop) n = std::min(n, p.n);
      if (water_fill) n = 1;  // every MetaOp starts on one device; extend hands out the rest
      const double rem = left[active[k]] * rest[k].curve->time_s(n);
      wants.push_back(Want{active[k], n, rem, a.cstar_s - rem * jitter(seed, active[k], wave_no, 0.15)});
    }
    // Least slack first: those that must run now to finish with the rest.
    std::stable_sort(wants.begin(), wants.end(), [](const Want& x, const Want& y) { return x.slack_s < y.slack_s; });
    std::vector<Candidate> cand;
    std::vector<double> waiting_slack;
    int used = 0;
    for (const Want& w : wants) {
      if (used + w.n <= gpus) {
        cand.push_back(Candidate{w.item, 0, w.n, left[w.item], 0, 0});
        used += w.n;
      } else {
        waiting_slack.push_back(w.slack_s);
      }
    }
    // extend: widen the candidates with most remaining time while devices are idle.
    for (bool widened = true; widened && used < gpus;) {
      widened = false;
      size_t best = cand.size();
      double best_rem = 0;
      for (size_t i = 0; i < cand.size(); ++i) {
        const LevelItem& it = items[cand[i].queue];
        const int wider = next_valid(it, cand[i].n);
        if (wider == 0 || used + wider - cand[i].n > gpus || !(it.curve->time_s(wider) < it.curve->time_s(cand[i].n)))
          continue;
        const double rem = cand[i].layers * it.curve->time_s(cand[i].n) * jitter(seed, cand[i].queue, wave_no + 7777, 0.15);
        if (rem > best_rem) {
          best_rem = rem;
          best = i;
        }
      }
      if (best < cand.size()) {
        const int wider = next_valid(items[cand[best].queue], cand[best].n);
        used += wider - cand[best].n;
        cand[best].n = wider;
        widened = true;
      }
    }
    for (Candidate& c : cand) c.per_op_s = items[c.queue].curve->time_s(c.n);
    double span = 0;
    if (look_ahead) {
      // Span with one step of look-ahead: the wave's span plus the C* of what would remain,
      // over the candidates' natural ends, each also snapped to the widest piece's boundary.
      size_t widest = 0;
      for (size_t i = 1; i < cand.size(); ++i)
        if (cand[i].n > cand[widest].n) widest = i;
      std::vector<double> spans;
      for (const Candidate& c : cand) {
        const double end = c.layers * c.per_op_s;
        spans.push_back(end);
        const double snapped = std::floor(end / cand[widest].per_op_s * (1 + 1e-12)) * cand[widest].per_op_s;
        if (snapped > 0) spans.push_back(snapped);
      }
      std::sort(spans.begin(), spans.end());
      spans.erase(std::unique(spans.begin(), spans.end()), spans.end());
      span = spans.front();
      double best_score = std::numeric_limits<double>::infinity();
      for (double sp : spans) {
        std::vector<LevelItem> after;
        bool progress = false;
        std::vector<int> done(items.size(), 0);
        for (const Candidate& c : cand) {
          done[c.queue] = std::min(c.layers, static_cast<int>(std::floor(sp / c.per_op_s * (1 + 1e-12))));
          progress = progress || done[c.queue] > 0;
        }
        if (!progress) continue;
        for (size_t i = 0; i < items.size(); ++i)
          if (left[i] - done[i] > 0) {
            LevelItem it = items[i];
            it.L = left[i] - done[i];
            after.push_back(it);
          }
        const double score = sp + (after.empty() ? 0.0 : valid_count_cstar(after, gpus));
        if (score < best_score * (1 - 1e-9) || (score < best_score * (1 + 1e-9) && sp > span)) {
          best_score = score;
          span = sp;
        }
      }

    } else {
      // The most efficient span, capped by the slack of the MetaOps left waiting.
      double cap = std::numeric_limits<double>::infinity();
      for (double sl : waiting_slack) cap = std::min(cap, std::max(sl, 0.0));
      span = choose_span(cand, gpus, AlignRule::kBestSpan);
      if (span > cap) {
        double best = std::numeric_limits<double>::infinity();
        for (const Candidate& c : cand) best = std::min(best, c.per_op_s);
        for (const Candidate& c : cand)
          for (int k = 1; k <= c.layers && k * c.per_op_s <= cap; ++k) best = std::max(best, k * c.per_op_s);
        span = std::min(span, best);
      }
    }
    Wave w;
    w.start_s = now;
    w.end_s = now;
    std::sort(cand.begin(), cand.end(), [&](const Candidate& x, const Candidate& y) {
      return items[x.queue].metaop < items[y.queue].metaop;
    });
    for (const Candidate& c : cand) {
      const int run = std::min(c.layers, static_cast<int>(std::floor(span / c.per_op_s * (1 + 1e-12))));
      if (run == 0) continue;
      Slice sl;
      sl.metaop = items[c.queue].metaop;
      sl.first_layer = next[c.queue];
      sl.last_layer = next[c.queue] + run;
      sl.n = c.n;
      sl.start_s = now;
      sl.end_s = now + run * c.per_op_s;
      w.end_s = std::max(w.end_s, sl.end_s);
      w.slices.push_back(sl);
      next[c.queue] += run;
      left[c.queue] -= run;
    }
    if (w.slices.empty()) throw InternalError("re-planned wave runs nothing");
    now = w.end_s;
    out.push_back(std::move(w));
  }
  merge_identical_waves(out, first_wave);
  return now;
}

void merge_identical_waves(std::vector<Wave>& waves, size_t from) {
  std::vector<Wave> merged(waves.begin(), waves.begin() + static_cast<std::ptrdiff_t>(from));
  for (size_t i = from; i < waves.size(); ++i) {
    Wave& w = waves[i];
    if (merged.size() > from) {
      Wave& prev = merged.back();
      bool same = prev.slices.size() == w.slices.size();
      for (size_t k = 0; same && k < w.slices.size(); ++k) {
        const Slice &a = prev.slices[k], &b = w.slices[k];
        same = a.metaop == b.metaop && a.n == b.n && a.last_layer == b.first_layer;
      }
      if (same) {
        for (size_t k = 0; k < w.slices.size(); ++k) {
          Slice& a = prev.slices[k];
          const Slice& b = w.slices[k];
          a.end_s = a.start_s + (a.end_s - a.start_s) + (b.end_s - b.start_s);
          a.last_layer = b.last_layer;
        }
        prev.end_s = w.end_s;
        continue;
      }
    }
    merged.push_back(std::move(w));
  }
  waves = std::move(merged);
}

}  // namespace spindle
