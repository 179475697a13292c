// Times scenario parsing + validation, graph building and contraction for every zoo
// scenario and for a generated 100-task scenario of about 10,000 operators (goal: < 1 s).
// Prints the median of several runs of each phase.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "bench_timing.h"
#include "planner/config/scenario.h"
#include "planner/graph/graph_builder.h"
#include "planner/graph/metagraph.h"
#include "traces/atomic_file.h"
#include "traces/text_table.h"

namespace {

using namespace spindle;
using bench::median_ms;

// 24 modality encoders, a shared 32-layer encoder, a shared 24-layer decoder with
// cross-attention and a tied LM head; task i reads three modalities.
std::string generated_scenario(int tasks) {
  std::string s = R"([scenario]
name = "generated-100"
[cluster]
nodes = 8
gpus_per_node = 8
gpu = "a800-80gb"
intra_node = { bw_GBps = 200.0, latency_us = 2.0 }
inter_node = { bw_GBps = 50.0, latency_us = 5.0 }
[model.components.text]
kind = "encoder"
embedding = "token"
vocab = 32000
tokens = 32
layers = 0
hidden = 512
)";
  const int modalities = 24;
  std::string inputs;
  for (int m = 0; m < modalities; ++m) {
    std::string name = "m" + std::to_string(m);
    s += "[model.components." + name + "]\nkind = \"encoder\"\nembedding = \"patch\"\npatch_dim = 64\ntokens = " +
         std::to_string(64 + 8 * m) + "\nlayers = 12\nhidden = 512\nheads = 8\nffn = 2048\n";
    inputs += "\"" + name + "\", ";
  }
  s += "[model.components.encoder]\nkind = \"encoder\"\ninputs = [" + inputs +
       "\"text\"]\nlayers = 32\nhidden = 512\nheads = 8\nffn = 2048\n"
       "[model.components.decoder]\nkind = \"decoder\"\nembedding = \"token\"\ntie_embedding = \"text\"\n"
       "tokens = 16\ncross_inputs = [\"encoder\"]\nlayers = 24\nhidden = 512\nheads = 8\nffn = 2048\n"
       "[model.components.lm_head]\nkind = \"lm_head\"\ninputs = [\"decoder\"]\ntie_embedding = \"text\"\n";
  for (int t = 0; t < tasks; ++t) {
    s += "[[tasks]]\nname = \"t" + std::to_string(t) + "\"\ncomponents = [\"text\", ";
    for (int k = 0; k < 3; ++k) s += "\"m" + std::to_string((t * 7 + k * 5) % modalities) + "\", ";
    s += "\"encoder\", \"decoder\", \"lm_head\"]\nbatch = " + std::to_string(4 << (t % 4)) +
         "\nloss = \"cross_entropy\"\n";
  }
  return s;
}

}  // namespace

int main() {
  std::vector<std::pair<std::string, std::string>> inputs;  // name, TOML text
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(default_data_dir()))
    if (e.path().extension() == ".toml") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) inputs.emplace_back(std::filesystem::path(f).stem().string(), read_file(f));
  inputs.emplace_back("generated-100", generated_scenario(100));

  TextTable table;
  for (auto [h, a] : std::vector<std::pair<const char*, TextTable::Align>>{
           {"scenario", TextTable::Align::kLeft}, {"operators", TextTable::Align::kRight},
           {"MetaOps", TextTable::Align::kRight}, {"levels", TextTable::Align::kRight},
           {"parse ms", TextTable::Align::kRight}, {"build ms", TextTable::Align::kRight},
           {"contract ms", TextTable::Align::kRight}, {"total ms", TextTable::Align::kRight}})
    table.add_column(h, a);
  for (const auto& [name, text] : inputs) {
    const int runs = 7;
    Scenario s;
    Graph g;
    MetaGraph mg;
    double parse = median_ms(runs, [&] { s = load_scenario_text(text, name + ".toml", default_data_dir()); });
    double build = median_ms(runs, [&] { g = build_graph(s); });
    double contract_ms = median_ms(runs, [&] { mg = contract(g); });
    table.add_row({name, with_commas(g.size()), std::to_string(mg.metaops.size()), std::to_string(mg.levels),
                   fixed(parse, 2), fixed(build, 2), fixed(contract_ms, 2), fixed(parse + build + contract_ms, 2)});
  }
  std::printf("Graph building and contraction, median of 7 runs (goal: generated-100 under 1000 ms)\n%s",
              table.render().c_str());
  return 0;
}
