// Synthetic multi-task data (see synthetic_data.h). Every draw is keyed by (seed, what, task,
// sample, component, position), so batches do not depend on the order they are asked for.
#include "engine/model/synthetic_data.h"

#include <cmath>

#include "engine/model/rng.h"
#include "traces/errors.h"

namespace spindle::engine {
namespace {

constexpr double kNoise = 0.5;  // per feature, against a signal of unit variance
constexpr std::int32_t kBos = 0;  // a decoder's first input token

}  // namespace

SyntheticData::SyntheticData(const Scenario& s, const Graph& g, std::uint64_t seed) : s_(s), seed_(seed) {
  feeds_.resize(s.tasks.size());
  batch_.resize(s.tasks.size());
  for (size_t t = 0; t < s.tasks.size(); ++t) batch_[t] = s.tasks[t].batch;
  std::map<int, int> lm_source;  // task -> component its LM head reads
  for (const Operator& op : g.ops())
    if (op.kind == OpKind::kLmHead)
      lm_source[op.task] = s.model.index_of(s.model.components[static_cast<size_t>(op.component)].inputs.front());
  for (const Operator& op : g.ops()) {
    if (op.kind != OpKind::kPatchEmbed && op.kind != OpKind::kTokenEmbed) continue;
    Feed f;
    f.component = op.component;
    f.tokens = op.kind == OpKind::kTokenEmbed;
    f.length = op.shape.seq;
    f.width = op.in_features;
    auto it = lm_source.find(op.task);
    f.target = it != lm_source.end() && it->second == op.component;
    feeds_[static_cast<size_t>(op.task)].push_back(f);
  }
}

const std::vector<float>& SyntheticData::map(int component, std::int64_t position, std::int64_t rows) {
  auto key = std::make_pair(component, position);
  auto it = maps_.find(key);
  if (it != maps_.end()) return it->second;
  const std::string& name = s_.model.components[static_cast<size_t>(component)].name;
  Rng rng(hash_mix(hash_mix(seed_, hash_name("map/" + name)), static_cast<std::uint64_t>(position)));
  std::vector<float> m(static_cast<size_t>(rows * kLatentDim));
  for (float& x : m) x = static_cast<float>(rng.normal() / std::sqrt(static_cast<double>(kLatentDim)));
  return maps_.emplace(key, std::move(m)).first->second;
}

TaskBatch SyntheticData::batch(int task, std::int64_t first) { return batch(task, first, 0, batch_[static_cast<size_t>(task)]); }

TaskBatch SyntheticData::batch(int task, std::int64_t whole_first, std::int64_t lo, std::int64_t hi) {
  if (lo < 0 || hi < lo || hi > batch_[static_cast<size_t>(task)])
    throw InternalError("rows [" + std::to_string(lo) + "," + std::to_string(hi) + ") of a batch of " +
                        std::to_string(batch_[static_cast<size_t>(task)]));
  const std::int64_t b = hi - lo, first = whole_first + lo;
  const std::uint64_t task_key = hash_mix(seed_, hash_name("task/" + s_.tasks[static_cast<size_t>(task)].name));
  std::vector<double> z(static_cast<size_t>(b * kLatentDim));
  for (std::int64_t i = 0; i < b; ++i) {
    Rng rng(hash_mix(hash_mix(task_key, hash_name("latent")), static_cast<std::uint64_t>(first + i)));
    for (int k = 0; k < kLatentDim; ++k) z[static_cast<size_t>(i * kLatentDim + k)] = rng.normal();
  }
  TaskBatch out;
  for (const Feed& f : feeds_[static_cast<size_t>(task)]) {
    HostInput in;
    const std::uint64_t feed_key =
        hash_mix(task_key, hash_name("noise/" + s_.model.components[static_cast<size_t>(f.component)].name));
    std::vector<std::int32_t> drawn;  // token ids before any shift
    if (f.tokens) drawn.resize(static_cast<size_t>(b * f.length));
    else in.features.resize(static_cast<size_t>(b * f.length * f.width));
    for (std::int64_t p = 0; p < f.length; ++p) {
      // Patches: a map per position (what a pixel means depends on where it is). Tokens: one
      // vocabulary map for all positions (a word means the same wherever it stands).
      const std::vector<float>& a = map(f.component, f.tokens ? 0 : p, f.width);
      for (std::int64_t i = 0; i < b; ++i) {
        Rng rng(hash_mix(hash_mix(feed_key, static_cast<std::uint64_t>(first + i)), static_cast<std::uint64_t>(p)));
        const double* zi = z.data() + i * kLatentDim;
        std::int32_t best = 0;
        double best_score = -INFINITY;
        for (std::int64_t r = 0; r < f.width; ++r) {
          double signal = 0;
          for (int k = 0; k < kLatentDim; ++k) signal += a[static_cast<size_t>(r * kLatentDim + k)] * zi[k];
          if (f.tokens) {
            const double score = signal + kNoise * rng.normal();
            if (score > best_score) best_score = score, best = static_cast<std::int32_t>(r);
          } else {
            in.features[static_cast<size_t>((i * f.length + p) * f.width + r)] =
                static_cast<float>(signal + kNoise * rng.normal());
          }
        }
        if (f.tokens) drawn[static_cast<size_t>(i * f.length + p)] = best;
      }
    }
    if (f.tokens) {
      in.dims = {b, f.length};
      in.ids = drawn;
      if (f.target) {  // teacher forcing: input [BOS, y0 .. y_{T-2}], labels y
        for (std::int64_t i = 0; i < b; ++i)
          for (std::int64_t p = 0; p < f.length; ++p)
            in.ids[static_cast<size_t>(i * f.length + p)] = p == 0 ? kBos : drawn[static_cast<size_t>(i * f.length + p - 1)];
        out.label_dims = {b, f.length};
        out.labels = drawn;
      }
    } else {
      in.dims = {b, f.length, f.width};
    }
    out.inputs.emplace(f.component, std::move(in));
  }
  return out;
}

}  // namespace spindle::engine
