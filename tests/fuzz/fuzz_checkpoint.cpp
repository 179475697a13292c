// libFuzzer target: checkpoints of tiny multitask-clip-4 in the sharded format (one rank file
// of 2.2 MB and a manifest naming it), loaded by spindle-run's trainer. The manifest stays
// valid; the rank file is the input. The first byte picks how the rest is used: as the whole
// body, or laid over the start of a valid body (header, first entries) with the valid rest
// after it. Either way the file is sealed with its FNV-1a checksum, so the fuzzer reaches the
// fields behind it as a hand-edited, resealed file would. Only InputError may escape, and
// reading may not allocate what the file does not hold (the sanitizer's allocation limit).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

#include "engine/cpu/cpu_backend.h"
#include "planner/config/model_scale.h"
#include "engine/train/trainer.h"
#include "planner/config/scenario.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"

namespace {

std::string sealed(std::string body) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, as engine/model/sharded_checkpoint.cpp seals
  for (const char c : body) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  char tail[8];
  std::memcpy(tail, &h, 8);  // little-endian hosts only, as the format
  return body.append(tail, 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spindle;
  static engine::CpuBackend be;
  static const Scenario s =
      scale_scenario(load_scenario(default_data_dir() / "multitask-clip-4.toml"), find_scale("tiny"));
  static engine::Trainer trainer = [] {
    engine::TrainOptions opt;
    opt.scale = "tiny";
    return engine::Trainer(s, be, opt);
  }();
  static const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("spindle-fuzz-checkpoint-" + std::to_string(::getpid()));
  static const std::filesystem::path file = dir / "step-0.ranks-1.rank-0.bin";
  static const std::string valid = [] {  // a real rank file's body, without its checksum
    trainer.save(dir);
    const std::string f = read_file(file);
    return f.substr(0, f.size() - 8);
  }();
  if (size == 0) return 0;
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 1 && body.size() < valid.size()) body += valid.substr(body.size());
  write_file_atomically(file, sealed(body));
  try {
    trainer.load(dir);
  } catch (const InputError&) {
  }
  return 0;
}
