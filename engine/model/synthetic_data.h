// Learnable synthetic multi-task data. Sample i of a task has a latent z ~ N(0, I_16); each
// modality sees z through its own fixed random map plus noise, u_t = A_t z + 0.5 eps (A_t
// entries N(0, 1/16), so each entry of A_t z has unit variance): patch features are u_t [P]
// with a map per position; a token is argmax_v u_t [V] with one map for all positions (a
// word means the same wherever it stands), fresh noise per position. The two towers of a contrastive task see the same z, so the
// loss can only fall by aligning them; a decoder's target text is drawn from z the same way.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "engine/model/task_batch.h"
#include "planner/config/scenario.h"
#include "planner/graph/graph.h"

namespace spindle::engine {

inline constexpr int kLatentDim = 16;

class SyntheticData {
 public:
  SyntheticData(const Scenario& s, const Graph& g, std::uint64_t seed);
  // The task's batch of samples [first, first + batch).
  TaskBatch batch(int task, std::int64_t first);
  // Rows [lo, hi) of that batch alone (samples first + lo ...), as batch() gives them: a device
  // draws only the rows its program reads.
  TaskBatch batch(int task, std::int64_t first, std::int64_t lo, std::int64_t hi);

 private:
  struct Feed {           // one embedding operator of a task
    int component = -1;
    bool tokens = false;  // token ids (else patch features)
    std::int64_t length = 0, width = 0;  // tokens per sample; features or vocabulary
    bool target = false;  // the decoder an LM head reads: its ids are the shifted labels
  };
  const std::vector<float>& map(int component, std::int64_t position, std::int64_t rows);

  const Scenario& s_;
  std::uint64_t seed_;
  std::vector<std::vector<Feed>> feeds_;  // per task
  std::vector<std::int64_t> batch_;       // per task
  std::map<std::pair<int, std::int64_t>, std::vector<float>> maps_;  // (component, position) -> [rows, 16]
};

}  // namespace spindle::engine
