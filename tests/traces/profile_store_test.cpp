// Calibration profiles on disk: a round trip keeps every field, the same profile gives the
// same bytes, and a wrong schema version, a missing dataset or a truncated file gives one
// clear line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <vector>

#include "traces/atomic_file.h"
#include "traces/errors.h"
#include "traces/profile.h"

namespace spindle {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path temp(const std::string& name) {
  return fs::temp_directory_path() / ("spindle-profile-" + std::to_string(::getpid()) + "-" + name);
}

Profile sample_profile() {
  Profile p;
  p.backend = "cuda";
  p.device = "NVIDIA A800-SXM4-80GB";
  p.timer = "cuda_events";
  p.libraries = "CUDA runtime 12.4, cuBLASLt 120400";
  p.date = "2025-01-02T03:04:05Z";
  p.notes = "scenario multitask-clip-4";
  OpMeasurement m;
  m.key.kind = "encoder_layer";
  m.key.dtype = "bf16";
  m.key.batch = 4;
  m.key.seq = 229;
  m.key.hidden = 768;
  m.key.heads = 12;
  m.key.ffn = 3072;
  m.fwd_ms = 0.25;
  m.bwd_ms = 0.5;
  m.samples = 20;
  m.fwd_spread_ms = 0.01;
  m.bwd_spread_ms = 0.02;
  m.fwd_kernel_ms = 0.2;
  m.bwd_kernel_ms = 0.45;
  m.fwd_kernels = 9;
  m.bwd_kernels = 6;
  m.kernels = {{"bwd", "sm90_xmma_gemm_bf16bf16_bf16f32_f32_nn_n", 6, 0.3}, {"fwd", "[memset]", 1, 0.001},
               {"fwd", "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", 8, 0.15}};
  p.add(m);
  m.fwd_kernel_ms = m.bwd_kernel_ms = m.fwd_kernels = m.bwd_kernels = 0;
  m.kernels.clear();
  m.key.kind = "decoder_layer";
  m.key.cross_seq = 576;
  m.key.mlp = 1;
  m.key.causal = 1;
  p.add(m);
  CollectiveMeasurement c;
  c.kind = "all_reduce";
  c.algorithm = "ring";
  c.ranks = 8;
  c.nodes = 1;
  c.ranks_per_node = 8;
  c.bytes = 1 << 26;
  c.time_ms = 0.9;
  c.samples = 10;
  c.spread_ms = 0.05;
  p.collectives.push_back(c);
  return p;
}

// Edits the measurement of `kind` (its key too: taken out of the map and put back).
template <class F>
void edit(Profile& p, const std::string& kind, F f) {
  for (auto it = p.ops.begin(); it != p.ops.end(); ++it)
    if (it->first.kind == kind) {
      OpMeasurement m = it->second;
      p.ops.erase(it);
      f(m);
      p.ops.emplace(m.key, m);
      return;
    }
  FAIL() << "no " << kind;
}

std::string read_error(const fs::path& f) {
  try {
    read_profile(f);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ProfileStore, RoundTrip) {
  fs::path f = temp("rt.h5");
  Profile p = sample_profile();
  write_profile(f, p);
  Profile q = read_profile(f);
  EXPECT_EQ(q.backend, p.backend);
  EXPECT_EQ(q.device, p.device);
  EXPECT_EQ(q.timer, p.timer);
  EXPECT_EQ(q.libraries, p.libraries);
  EXPECT_EQ(q.date, p.date);
  EXPECT_EQ(q.notes, p.notes);
  ASSERT_EQ(q.ops.size(), 2u);
  for (const auto& [key, m] : p.ops) {
    const OpMeasurement* r = q.find(key);
    ASSERT_NE(r, nullptr) << key.str();
    EXPECT_EQ(r->key, m.key);
    EXPECT_EQ(r->key.dtype, "bf16");
    EXPECT_EQ(r->fwd_ms, m.fwd_ms);
    EXPECT_EQ(r->bwd_ms, m.bwd_ms);
    EXPECT_EQ(r->samples, m.samples);
    EXPECT_EQ(r->fwd_spread_ms, m.fwd_spread_ms);
    EXPECT_EQ(r->bwd_spread_ms, m.bwd_spread_ms);
    EXPECT_EQ(r->fwd_kernel_ms, m.fwd_kernel_ms);
    EXPECT_EQ(r->bwd_kernel_ms, m.bwd_kernel_ms);
    EXPECT_EQ(r->fwd_kernels, m.fwd_kernels);
    EXPECT_EQ(r->bwd_kernels, m.bwd_kernels);
    EXPECT_EQ(r->kernels, m.kernels);
  }
  int with_kernels = 0;
  for (const auto& [key, m] : q.ops) with_kernels += !m.kernels.empty();
  EXPECT_EQ(with_kernels, 1);
  ASSERT_EQ(q.collectives.size(), 1u);
  EXPECT_EQ(q.collectives[0].kind, "all_reduce");
  EXPECT_EQ(q.collectives[0].algorithm, "ring");
  EXPECT_EQ(q.collectives[0].ranks, 8);
  EXPECT_EQ(q.collectives[0].nodes, 1);
  EXPECT_EQ(q.collectives[0].ranks_per_node, 8);
  EXPECT_EQ(q.collectives[0].bytes, 1 << 26);
  EXPECT_EQ(q.collectives[0].time_ms, 0.9);
  EXPECT_EQ(q.find(OpShapeKey{}), nullptr);
  fs::remove(f);
}

TEST(ProfileStore, EmptyProfileRoundTrips) {
  fs::path f = temp("empty.h5");
  Profile p;
  p.backend = "cuda";
  p.device = "NVIDIA H100 80GB HBM3";
  write_profile(f, p);
  Profile q = read_profile(f);
  EXPECT_EQ(q.device, "NVIDIA H100 80GB HBM3");
  EXPECT_TRUE(q.ops.empty());
  fs::remove(f);
}

TEST(ProfileStore, SameProfileSameBytes) {
  fs::path a = temp("a.h5"), b = temp("b.h5");
  write_profile(a, sample_profile());
  ::usleep(1100 * 1000);  // across a second boundary: no timestamps may be stored
  write_profile(b, sample_profile());
  EXPECT_EQ(read_file(a), read_file(b));
  fs::remove(a);
  fs::remove(b);
}

TEST(ProfileStore, TruncatedFile) {
  fs::path f = temp("trunc.h5");
  write_profile(f, sample_profile());
  std::string bytes = read_file(f);
  write_file_atomically(f, bytes.substr(0, bytes.size() / 2));
  EXPECT_THAT(read_error(f), HasSubstr(f.string() + ": "));
  EXPECT_THAT(read_error(f), HasSubstr("; allowed: a profile written by spindle-calibrate (schema version 4)"));
  write_file_atomically(f, "not hdf5 at all");
  EXPECT_EQ(read_error(f), f.string() + ": not an HDF5 file (truncated or corrupt?); allowed: a profile written by "
                                        "spindle-calibrate (schema version 4)");
  fs::remove(f);
}

// A flipped byte in the records fails Fletcher32 (it was read as a changed value), in one line
// naming HDF5's reason and not our source; the truncated file names no source line either.
TEST(ProfileStore, FlippedByteFailsTheChecksum) {
  fs::path f = temp("flip.h5");
  write_profile(f, sample_profile());
  std::string bytes = read_file(f);
  const double fwd = 0.25;  // the first record's fwd_ms, found in the file's bytes
  const size_t at = bytes.find(std::string(reinterpret_cast<const char*>(&fwd), sizeof fwd));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 3] ^= 0x10;
  write_file_atomically(f, bytes);
  const std::string e = read_error(f);
  EXPECT_THAT(e, HasSubstr(f.string() + ": HDF5 cannot read it: "));
  EXPECT_THAT(e, HasSubstr("Fletcher32"));
  EXPECT_EQ(e.find("hdf5_file.cpp"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  write_file_atomically(f, read_file(f).substr(0, bytes.size() * 3 / 4));
  EXPECT_EQ(read_error(f).find("hdf5_file.cpp"), std::string::npos) << read_error(f);
  fs::remove(f);
}

// A profile that another tool compressed (h5repack -f GZIP) reads as the original; it was
// refused as claiming more records than the file holds.
TEST(ProfileStore, GzipCompressedTablesRead) {
  if (std::system("command -v h5repack >/dev/null 2>&1") != 0) GTEST_SKIP() << "h5repack not installed";
  fs::path f = temp("plain.h5"), z = temp("gzip.h5");
  Profile p = sample_profile();
  for (int i = 0; i < 3000; ++i) {  // enough rows that gzip shrinks them below the raw size
    OpMeasurement m = p.ops.begin()->second;
    m.key.batch = 1000 + i;
    p.add(m);
  }
  write_profile(f, p);
  ASSERT_EQ(std::system(("h5repack -f ops:GZIP=9 '" + f.string() + "' '" + z.string() + "'").c_str()), 0);
  ASSERT_LT(fs::file_size(z), p.ops.size() * 100) << "gzip did not shrink the table";
  const Profile back = read_profile(z);
  ASSERT_EQ(back.ops.size(), p.ops.size());
  EXPECT_EQ(back.ops.rbegin()->first, p.ops.rbegin()->first);
  fs::remove(f);
  fs::remove(z);
}

// Rewrites one root attribute / removes one dataset with the HDF5 API, as another tool might.
void set_version(const fs::path& f, const std::string& v) {
  hid_t file = H5Fopen(f.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  H5Adelete_by_name(file, "/", "version", H5P_DEFAULT);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, v.size() + 1);
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate_by_name(file, "/", "version", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, v.c_str());
  H5Aclose(a);
  H5Sclose(s);
  H5Tclose(t);
  H5Fclose(file);
}

TEST(ProfileStore, WrongSchemaVersion) {
  fs::path f = temp("ver.h5");
  write_profile(f, sample_profile());
  set_version(f, "7");
  EXPECT_EQ(read_error(f), f.string() + ": profile schema version 7; allowed: a profile written by spindle-calibrate "
                                        "(schema version 4)");
  fs::remove(f);
}

TEST(ProfileStore, Version2SaysWhatChanged) {
  fs::path f = temp("ver2.h5");
  write_profile(f, sample_profile());
  set_version(f, "2");
  EXPECT_EQ(read_error(f), f.string() + ": profile schema version 2 (its operators have no dtype and it does not say "
                                        "what measured it: measure again); allowed: a profile written by "
                                        "spindle-calibrate (schema version 4)");
  fs::remove(f);
}

void delete_dataset(const fs::path& f, const char* path) {
  hid_t file = H5Fopen(f.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(file, path, H5P_DEFAULT);
  H5Fclose(file);
}

// Version 3 (before kernel records) still reads: the times, no kernel records.
TEST(ProfileStore, Version3ReadsWithoutKernelRecords) {
  fs::path f = temp("ver3.h5");
  write_profile(f, sample_profile());
  delete_dataset(f, "/kernels");
  set_version(f, "3");
  const Profile q = read_profile(f);
  ASSERT_EQ(q.ops.size(), 2u);
  for (const auto& [key, m] : q.ops) {
    EXPECT_EQ(m.fwd_ms, 0.25);
    EXPECT_EQ(m.fwd_kernel_ms, 0);
    EXPECT_EQ(m.bwd_kernels, 0);
    EXPECT_TRUE(m.kernels.empty());
  }
  fs::remove(f);
}

// Keys sort with the batch last: one shape's batches are adjacent and ascending, and a lookup
// finds exactly its key (log n in a map; it was a linear scan).
TEST(ProfileStore, LookupsAndBatchesOfAShape) {
  Profile p = sample_profile();
  OpMeasurement m = p.ops.begin()->second;
  for (std::int64_t b : {16, 2, 8}) {
    m.key.batch = b;
    EXPECT_TRUE(p.add(m));
  }
  EXPECT_FALSE(p.add(m)) << "a key twice";
  OpShapeKey other = m.key;
  other.seq += 1;
  other.batch = 3;
  m.key = other;
  p.add(m);
  OpShapeKey probe = p.ops.begin()->first;
  probe.batch = 1000;
  std::vector<std::int64_t> batches;
  for (const OpMeasurement* r : p.batches_of(probe)) batches.push_back(r->key.batch);
  EXPECT_EQ(batches, (std::vector<std::int64_t>{2, 4, 8, 16}));
  EXPECT_EQ(p.find(probe), nullptr);
  probe.batch = 8;
  ASSERT_NE(p.find(probe), nullptr);
  EXPECT_EQ(p.find(probe)->key.batch, 8);
  EXPECT_TRUE(p.find(probe)->key.same_shape(p.ops.begin()->first));
  EXPECT_FALSE(other.same_shape(probe));
}

TEST(ProfileStore, MissingDataset) {
  fs::path f = temp("missing.h5");
  write_profile(f, sample_profile());
  delete_dataset(f, "/collectives");
  EXPECT_EQ(read_error(f), f.string() + ": missing dataset /collectives; allowed: a profile written by spindle-calibrate "
                                        "(schema version 4)");
  fs::remove(f);
}

TEST(ProfileStore, MissingFile) {
  EXPECT_EQ(read_error("no/such.h5"),
            "no/such.h5: no such file; allowed: a profile written by spindle-calibrate (schema version 4)");
}

}  // namespace
}  // namespace spindle

namespace spindle {
namespace {

TEST(ProfileStore, MalformedAttributeIsAnInputError) {
  // A `device` attribute holding an array of strings (a crafted file) must not overrun a buffer.
  fs::path f = temp("attr.h5");
  write_profile(f, sample_profile());
  hid_t file = H5Fopen(f.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  H5Adelete_by_name(file, "/", "device", H5P_DEFAULT);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, 17);
  hsize_t dims[1] = {4096};
  hid_t s = H5Screate_simple(1, dims, nullptr);
  hid_t a = H5Acreate_by_name(file, "/", "device", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<char> data(4096 * 17, 'x');
  H5Awrite(a, t, data.data());
  H5Aclose(a);
  H5Sclose(s);
  H5Tclose(t);
  H5Fclose(file);
  EXPECT_EQ(read_error(f), f.string() + ": attribute 'device' is not one fixed-length string; allowed: a profile written by "
                                        "spindle-calibrate (schema version 4)");
  fs::remove(f);
}

TEST(ProfileStore, FailedWriteLeavesNoTemporaryFile) {
  fs::path dir = temp("dir");
  fs::create_directories(dir);
  Profile p = sample_profile();
  edit(p, "encoder_layer", [](OpMeasurement& m) { m.key.kind = std::string(40, 'k'); });  // longer than 31 characters
  EXPECT_THROW(write_profile(dir / "p.h5", p), IoError);
  EXPECT_TRUE(fs::is_empty(dir));
  fs::remove_all(dir);
}

TEST(ProfileStore, NonFiniteTimesAreRejected) {
  fs::path f = temp("inf.h5");
  Profile p = sample_profile();
  edit(p, "encoder_layer", [](OpMeasurement& m) { m.bwd_ms = std::numeric_limits<double>::infinity(); });
  write_profile(f, p);
  EXPECT_THAT(read_error(f), HasSubstr("allowed: 1e-6 to 1e9 ms (1 ns to 11 days) for fwd_ms, and 0 or the same for bwd_ms"));
  // Found by the profile fuzzer: a subnormal fwd_ms passed "> 0" and became 0 s in the cost
  // model, an internal error (exit 1) instead of one line.
  p = sample_profile();
  edit(p, "encoder_layer", [](OpMeasurement& m) { m.fwd_ms = 5e-324; });
  write_profile(f, p);
  EXPECT_THAT(read_error(f), HasSubstr("has fwd_ms 0.000000, bwd_ms 0.500000; allowed: 1e-6 to 1e9 ms"));
  p = sample_profile();
  p.collectives[0].time_ms = 1e300;
  write_profile(f, p);
  EXPECT_THAT(read_error(f), HasSubstr("time_ms 1e-6 to 1e9 ms"));
  fs::remove(f);
}

// Issue 18: NaN or negative spreads, samples <= 0, negative sizes, mlp = 5, causal = 7, unknown
// or empty kinds were all read with exit 0.
TEST(ProfileStore, EveryFieldIsRanged) {
  struct Case {
    const char* what;
    void (*edit)(Profile&);
    const char* expect;
  };
  const Case cases[] = {
      {"nan spread", [](Profile& p) { edit(p, "encoder_layer", [](OpMeasurement& m) { m.fwd_spread_ms = std::nan(""); }); }, "allowed: samples >= 1, a finite spread >= 0"},
      {"negative spread", [](Profile& p) { edit(p, "encoder_layer", [](OpMeasurement& m) { m.bwd_spread_ms = -1; }); }, "a finite spread >= 0"},
      {"no samples", [](Profile& p) { edit(p, "encoder_layer", [](OpMeasurement& m) { m.samples = 0; }); }, "samples 0"},
      {"negative batch", [](Profile& p) { edit(p, "encoder_layer", [](OpMeasurement& m) { m.key.batch = -4; }); }, "allowed: batch, seq, hidden >= 1"},
      {"mlp 5", [](Profile& p) { edit(p, "encoder_layer", [](OpMeasurement& m) { m.key.mlp = 5; }); }, "mlp 5, causal 0, tp 1; allowed: mlp 0 (gelu) or 1"},
      {"causal 7", [](Profile& p) { edit(p, "decoder_layer", [](OpMeasurement& m) { m.key.causal = 7; }); }, "causal 7"},
      {"empty kind", [](Profile& p) { edit(p, "encoder_layer", [](OpMeasurement& m) { m.key.kind = ""; }); }, "kind '' is empty"},
      {"dtype", [](Profile& p) { edit(p, "encoder_layer", [](OpMeasurement& m) { m.key.dtype = "int8"; }); },
       "dtype 'int8'; allowed: one of fp32, bf16, fp16"},
      {"negative kernel time", [](Profile& p) { edit(p, "encoder_layer", [](OpMeasurement& m) { m.bwd_kernel_ms = -0.1; }); },
       "bwd_kernel_ms -0.100000, fwd_kernels 9.000000, bwd_kernels 6.000000; allowed: finite values >= 0"},
      {"kernel pass", [](Profile& p) { edit(p, "encoder_layer", [](OpMeasurement& m) { m.kernels[0].pass = "both"; }); },
       "/kernels row 0: pass 'both'; allowed: fwd, bwd"},
      {"kernel calls", [](Profile& p) { edit(p, "encoder_layer", [](OpMeasurement& m) { m.kernels[1].calls = 0; }); },
       "/kernels row 1: calls 0.000000, time_ms 0.001000; allowed: calls > 0"},
      {"kernel name", [](Profile& p) { edit(p, "encoder_layer", [](OpMeasurement& m) { m.kernels[2].name.clear(); }); },
       "/kernels row 2: an empty kernel name"},
      {"kernel twice", [](Profile& p) { edit(p, "encoder_layer", [](OpMeasurement& m) { m.kernels[2] = m.kernels[1]; }); },
       "/kernels row 2: [memset] of fwd of /ops row 1 is there twice"},
      {"kernel rows against the records", [](Profile& p) { edit(p, "encoder_layer", [](OpMeasurement& m) { m.kernels[1].calls = 2; }); },
       "/kernels rows of the fwd pass of encoder_layer bf16 [4,229,768] heads 12 ffn 3072 add up to 10.000000 calls, its "
       "/ops row says 9.000000 kernels"},
      {"kernel rows without records", [](Profile& p) { edit(p, "decoder_layer", [](OpMeasurement& m) { m.kernels = {{"bwd", "k", 1, 0.1}}; }); },
       "add up to 1.000000 calls, its /ops row says 0.000000 kernels"},
      {"collective kind", [](Profile& p) { p.collectives[0].kind = "all_to_all"; }, "kind 'all_to_all'; allowed: one of all_reduce"},
      {"collective algorithm", [](Profile& p) { p.collectives[0].algorithm = "collnet"; },
       "algorithm 'collnet'; allowed: one of '' (NCCL chose), ring, tree, nvls, nvls_tree, pat"},
      {"one rank", [](Profile& p) { p.collectives[0].ranks = 1; }, "ranks 1, nodes 1, ranks_per_node 8; allowed: ranks >= 2"},
      {"more ranks than the nodes hold", [](Profile& p) { p.collectives[0].ranks = 16; }, "ranks 16, nodes 1, ranks_per_node 8"},
      {"an empty node", [](Profile& p) { p.collectives[0].nodes = 2; }, "ranks 8, nodes 2, ranks_per_node 8"},
      {"fewer than the fullest node holds", [](Profile& p) { p.collectives[0].ranks = 4; },
       "ranks 4, nodes 1, ranks_per_node 8; allowed: ranks >= 2 on nodes >= 1, each node holding one or more"},
      {"no bytes", [](Profile& p) { p.collectives[0].bytes = 0; }, "bytes 0, time_ms 0.900000; allowed: bytes >= 1"},
      {"twice", [](Profile& p) { p.collectives.push_back(p.collectives[0]); },
       "/collectives row 1: all_reduce of 67108864 B on 8 ranks (1 nodes x 8) with ring is there twice"},
      {"collective time", [](Profile& p) { p.collectives[0].time_ms = 0; }, "time_ms 1e-6 to 1e9 ms"},
      {"collective samples", [](Profile& p) { p.collectives[0].samples = -1; }, "samples -1"},
  };
  for (const Case& c : cases) {
    const fs::path f = temp("ranged.h5");
    Profile p = sample_profile();
    c.edit(p);
    write_profile(f, p);
    const std::string e = read_error(f);
    EXPECT_THAT(e, HasSubstr(c.expect)) << c.what;
    EXPECT_THAT(e, HasSubstr(f.string())) << c.what;
    fs::remove(f);
  }
}

}  // namespace
}  // namespace spindle
