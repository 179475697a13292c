// HDF5 reading and writing of calibration profiles (schema version 1, see README.md). HDF5's C
// API is used here only; every call goes through check(), which names the call and throws.
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <map>

#include "traces/errors.h"
#include "traces/profile.h"

namespace spindle {
namespace {

namespace fs = std::filesystem;

// One HDF5 object id, closed when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), close_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  // Closes now and reports the result (a file's final flush happens here).
  herr_t close() {
    herr_t r = id_ >= 0 ? close_(id_) : 0;
    id_ = -1;
    return r;
  }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Turns a failed HDF5 call into an exception naming it; `input` selects InputError (reading a
// user's file) over IoError (writing).
struct Checker {
  std::string file;
  bool input;
  template <typename T>
  T operator()(T result, const char* expr, int line) const {
    if (result < 0) {
      std::string msg = file + ": HDF5 call failed: " + expr + " (" + __FILE__ + ":" + std::to_string(line) + ")";
      if (input) throw InputError(msg + "; allowed: a profile written by spindle-calibrate (schema version " +
                                  std::to_string(kProfileSchemaVersion) + ")");
      throw IoError(msg);
    }
    return result;
  }
};
#define SPINDLE_H5(checker, expr) (checker)((expr), #expr, __LINE__)

constexpr size_t kKindLen = 32, kShortLen = 16;

struct OpRow {
  char kind[kKindLen];
  std::int64_t batch, seq, hidden, heads, ffn, cross_seq, out_hidden, out_seq, in_features;
  std::int32_t mlp, causal, tp, samples;
  double fwd_ms, bwd_ms, fwd_spread_ms, bwd_spread_ms;
};

struct CollectiveRow {
  char kind[kShortLen], algorithm[kShortLen], level[kShortLen];
  std::int32_t group_size, samples;
  std::int64_t bytes;
  double time_ms, spread_ms;
};

hid_t string_type(size_t len) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, len);
  H5Tset_strpad(t, H5T_STR_NULLTERM);
  return t;
}

// Compound types with explicit little-endian members, so files are the same on every host.
hid_t op_type(hid_t str) {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(OpRow));
  H5Tinsert(t, "kind", offsetof(OpRow, kind), str);
  const std::pair<const char*, size_t> i64[] = {
      {"batch", offsetof(OpRow, batch)}, {"seq", offsetof(OpRow, seq)}, {"hidden", offsetof(OpRow, hidden)},
      {"heads", offsetof(OpRow, heads)}, {"ffn", offsetof(OpRow, ffn)}, {"cross_seq", offsetof(OpRow, cross_seq)},
      {"out_hidden", offsetof(OpRow, out_hidden)}, {"out_seq", offsetof(OpRow, out_seq)},
      {"in_features", offsetof(OpRow, in_features)}};
  for (auto [name, off] : i64) H5Tinsert(t, name, off, H5T_STD_I64LE);
  const std::pair<const char*, size_t> i32[] = {{"mlp", offsetof(OpRow, mlp)}, {"causal", offsetof(OpRow, causal)},
                                                {"tp", offsetof(OpRow, tp)}, {"samples", offsetof(OpRow, samples)}};
  for (auto [name, off] : i32) H5Tinsert(t, name, off, H5T_STD_I32LE);
  const std::pair<const char*, size_t> f64[] = {{"fwd_ms", offsetof(OpRow, fwd_ms)}, {"bwd_ms", offsetof(OpRow, bwd_ms)},
                                                {"fwd_spread_ms", offsetof(OpRow, fwd_spread_ms)},
                                                {"bwd_spread_ms", offsetof(OpRow, bwd_spread_ms)}};
  for (auto [name, off] : f64) H5Tinsert(t, name, off, H5T_IEEE_F64LE);
  return t;
}

hid_t collective_type(hid_t str) {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(CollectiveRow));
  H5Tinsert(t, "kind", offsetof(CollectiveRow, kind), str);
  H5Tinsert(t, "algorithm", offsetof(CollectiveRow, algorithm), str);
  H5Tinsert(t, "level", offsetof(CollectiveRow, level), str);
  H5Tinsert(t, "group_size", offsetof(CollectiveRow, group_size), H5T_STD_I32LE);
  H5Tinsert(t, "samples", offsetof(CollectiveRow, samples), H5T_STD_I32LE);
  H5Tinsert(t, "bytes", offsetof(CollectiveRow, bytes), H5T_STD_I64LE);
  H5Tinsert(t, "time_ms", offsetof(CollectiveRow, time_ms), H5T_IEEE_F64LE);
  H5Tinsert(t, "spread_ms", offsetof(CollectiveRow, spread_ms), H5T_IEEE_F64LE);
  return t;
}

void copy_string(char* dst, size_t len, const std::string& src, const std::string& what) {
  if (src.size() >= len) throw IoError("profile " + what + " '" + src + "' is longer than " + std::to_string(len - 1));
  std::memset(dst, 0, len);
  std::memcpy(dst, src.data(), src.size());
}

void write_string_attr(const Checker& check, hid_t obj, const char* name, const std::string& value) {
  Handle type(string_type(value.size() + 1), H5Tclose);
  Handle space(SPINDLE_H5(check, H5Screate(H5S_SCALAR)), H5Sclose);
  Handle attr(SPINDLE_H5(check, H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT)), H5Aclose);
  SPINDLE_H5(check, H5Awrite(attr.get(), type.get(), value.c_str()));
}

template <typename Row>
void write_rows(const Checker& check, hid_t file, const char* name, hid_t type, const std::vector<Row>& rows) {
  hsize_t dims[1] = {rows.size()};
  Handle space(SPINDLE_H5(check, H5Screate_simple(1, dims, nullptr)), H5Sclose);
  Handle dcpl(SPINDLE_H5(check, H5Pcreate(H5P_DATASET_CREATE)), H5Pclose);
  SPINDLE_H5(check, H5Pset_obj_track_times(dcpl.get(), 0));
  Handle ds(SPINDLE_H5(check, H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT)), H5Dclose);
  if (!rows.empty()) SPINDLE_H5(check, H5Dwrite(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()));
}

void write_tables(const Checker& check, hid_t file, const Profile& profile) {
  std::vector<OpRow> ops(profile.ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const OpMeasurement& m = profile.ops[i];
    OpRow& r = ops[i];
    std::memset(&r, 0, sizeof r);
    copy_string(r.kind, kKindLen, m.key.kind, "operator kind");
    r.batch = m.key.batch, r.seq = m.key.seq, r.hidden = m.key.hidden, r.heads = m.key.heads, r.ffn = m.key.ffn;
    r.cross_seq = m.key.cross_seq, r.out_hidden = m.key.out_hidden, r.out_seq = m.key.out_seq;
    r.in_features = m.key.in_features, r.mlp = m.key.mlp, r.causal = m.key.causal, r.tp = m.key.tp;
    r.samples = m.samples, r.fwd_ms = m.fwd_ms, r.bwd_ms = m.bwd_ms;
    r.fwd_spread_ms = m.fwd_spread_ms, r.bwd_spread_ms = m.bwd_spread_ms;
  }
  std::vector<CollectiveRow> colls(profile.collectives.size());
  for (size_t i = 0; i < colls.size(); ++i) {
    const CollectiveMeasurement& m = profile.collectives[i];
    CollectiveRow& r = colls[i];
    std::memset(&r, 0, sizeof r);
    copy_string(r.kind, kShortLen, m.kind, "collective kind");
    copy_string(r.algorithm, kShortLen, m.algorithm, "collective algorithm");
    copy_string(r.level, kShortLen, m.level, "collective level");
    r.group_size = m.group_size, r.samples = m.samples, r.bytes = m.bytes, r.time_ms = m.time_ms;
    r.spread_ms = m.spread_ms;
  }
  Handle kind_str(string_type(kKindLen), H5Tclose), short_str(string_type(kShortLen), H5Tclose);
  Handle ot(op_type(kind_str.get()), H5Tclose), ct(collective_type(short_str.get()), H5Tclose);
  write_rows(check, file, "ops", ot.get(), ops);
  write_rows(check, file, "collectives", ct.get(), colls);
}

std::string read_string_attr(const Checker& check, hid_t obj, const char* name) {
  if (SPINDLE_H5(check, H5Aexists(obj, name)) == 0)
    throw InputError(check.file + ": missing attribute '" + std::string(name) + "'; allowed: a profile written by "
                     "spindle-calibrate (schema version " + std::to_string(kProfileSchemaVersion) + ")");
  Handle attr(SPINDLE_H5(check, H5Aopen(obj, name, H5P_DEFAULT)), H5Aclose);
  Handle ftype(SPINDLE_H5(check, H5Aget_type(attr.get())), H5Tclose);
  Handle aspace(SPINDLE_H5(check, H5Aget_space(attr.get())), H5Sclose);
  if (H5Tget_class(ftype.get()) != H5T_STRING || H5Tis_variable_str(ftype.get()) != 0 ||
      H5Sget_simple_extent_npoints(aspace.get()) != 1)
    throw InputError(check.file + ": attribute '" + std::string(name) + "' is not one fixed-length string; allowed: " +
                     "schema version " + std::to_string(kProfileSchemaVersion));
  size_t len = H5Tget_size(ftype.get());
  if (len > 4096)
    throw InputError(check.file + ": attribute '" + std::string(name) + "' is " + std::to_string(len) +
                     " bytes long; allowed: at most 4096");
  Handle mtype(string_type(len + 1), H5Tclose);
  std::string buf(len + 1, '\0');
  SPINDLE_H5(check, H5Aread(attr.get(), mtype.get(), buf.data()));
  return std::string(buf.c_str());
}

template <typename Row>
std::vector<Row> read_rows(const Checker& check, hid_t file, const char* name, hid_t mtype,
                           const std::vector<std::string>& fields) {
  const std::string allowed = "; allowed: a profile of schema version " + std::to_string(kProfileSchemaVersion) +
                              " (README.md, Profile files)";
  if (SPINDLE_H5(check, H5Lexists(file, name, H5P_DEFAULT)) == 0)
    throw InputError(check.file + ": missing dataset /" + name + allowed);
  Handle ds(SPINDLE_H5(check, H5Dopen2(file, name, H5P_DEFAULT)), H5Dclose);
  Handle ftype(SPINDLE_H5(check, H5Dget_type(ds.get())), H5Tclose);
  if (H5Tget_class(ftype.get()) != H5T_COMPOUND)
    throw InputError(check.file + ": dataset /" + name + " is not a table of records" + allowed);
  for (const std::string& f : fields)
    if (H5Tget_member_index(ftype.get(), f.c_str()) < 0)
      throw InputError(check.file + ": dataset /" + name + " has no field '" + f + "'" + allowed);
  Handle space(SPINDLE_H5(check, H5Dget_space(ds.get())), H5Sclose);
  if (H5Sget_simple_extent_ndims(space.get()) != 1)
    throw InputError(check.file + ": dataset /" + name + " is not one-dimensional" + allowed);
  hsize_t dims[1] = {0};
  SPINDLE_H5(check, H5Sget_simple_extent_dims(space.get(), dims, nullptr));
  hsize_t file_size = 0;
  SPINDLE_H5(check, H5Fget_filesize(file, &file_size));
  const size_t row_bytes = std::max<size_t>(1, H5Tget_size(ftype.get()));
  if (dims[0] > file_size / row_bytes)
    throw InputError(check.file + ": dataset /" + name + " claims " + std::to_string(dims[0]) +
                     " records, more than the file holds" + allowed);
  std::vector<Row> rows(dims[0]);
  if (!rows.empty()) SPINDLE_H5(check, H5Dread(ds.get(), mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()));
  return rows;
}

// HDF5 prints its own error stack by default; we report errors ourselves.
void silence_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

}  // namespace

std::string OpShapeKey::str() const {
  std::string s = kind + " [" + std::to_string(batch) + "," + std::to_string(seq) + "," + std::to_string(hidden) + "]";
  if (heads) s += " heads " + std::to_string(heads);
  if (ffn) s += " ffn " + std::to_string(ffn) + (mlp ? " swiglu" : "");
  if (causal) s += " causal";
  if (cross_seq) s += " cross " + std::to_string(cross_seq);
  if (out_hidden || out_seq) s += " out [" + std::to_string(out_seq) + "," + std::to_string(out_hidden) + "]";
  if (in_features) s += " in " + std::to_string(in_features);
  if (tp != 1) s += " tp " + std::to_string(tp);
  return s;
}

const OpMeasurement* Profile::find(const OpShapeKey& key) const {
  for (const OpMeasurement& m : ops)
    if (m.key == key) return &m;
  return nullptr;
}

void write_profile(const fs::path& path, const Profile& profile) {
  silence_hdf5();
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  Checker check{tmp, false};
  try {
    Handle fcpl(SPINDLE_H5(check, H5Pcreate(H5P_FILE_CREATE)), H5Pclose);
    SPINDLE_H5(check, H5Pset_obj_track_times(fcpl.get(), 0));  // the root group's timestamps too
    Handle fapl(SPINDLE_H5(check, H5Pcreate(H5P_FILE_ACCESS)), H5Pclose);
    SPINDLE_H5(check, H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18));
    Handle file(SPINDLE_H5(check, H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get())), H5Fclose);
    {
      Handle root(SPINDLE_H5(check, H5Gopen2(file.get(), "/", H5P_DEFAULT)), H5Gclose);
      write_string_attr(check, root.get(), "schema", "spindle-profile");
      write_string_attr(check, root.get(), "version", std::to_string(kProfileSchemaVersion));
      write_string_attr(check, root.get(), "gpu", profile.gpu);
      write_tables(check, file.get(), profile);
    }
    SPINDLE_H5(check, H5Fflush(file.get(), H5F_SCOPE_GLOBAL));
    SPINDLE_H5(check, file.close());
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IoError(path.string() + ": cannot rename temporary profile into place");
  }
}

Profile read_profile(const fs::path& path) {
  silence_hdf5();
  const std::string name = path.string();
  const std::string allowed = "; allowed: a profile written by spindle-calibrate (schema version " +
                              std::to_string(kProfileSchemaVersion) + ")";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw InputError(name + ": no such profile file" + allowed);
  if (H5Fis_hdf5(name.c_str()) <= 0) throw InputError(name + ": not an HDF5 file (truncated or corrupt?)" + allowed);
  hid_t fid = H5Fopen(name.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (fid < 0) throw InputError(name + ": cannot open as HDF5 (truncated or corrupt?)" + allowed);
  Handle file(fid, H5Fclose);
  Checker check{name, true};
  Handle root(SPINDLE_H5(check, H5Gopen2(file.get(), "/", H5P_DEFAULT)), H5Gclose);
  if (read_string_attr(check, root.get(), "schema") != "spindle-profile")
    throw InputError(name + ": not a spindle profile (attribute schema is not 'spindle-profile')" + allowed);
  const std::string version = read_string_attr(check, root.get(), "version");
  if (version != std::to_string(kProfileSchemaVersion))
    throw InputError(name + ": profile schema version " + version + allowed);
  Profile p;
  p.gpu = read_string_attr(check, root.get(), "gpu");
  Handle kind_str(string_type(kKindLen), H5Tclose), short_str(string_type(kShortLen), H5Tclose);
  Handle ot(op_type(kind_str.get()), H5Tclose), ct(collective_type(short_str.get()), H5Tclose);
  for (const OpRow& r : read_rows<OpRow>(check, file.get(), "ops", ot.get(),
                                        {"kind", "batch", "seq", "hidden", "heads", "ffn", "cross_seq", "out_hidden",
                                         "out_seq", "in_features", "mlp", "causal", "tp", "samples", "fwd_ms",
                                         "bwd_ms", "fwd_spread_ms", "bwd_spread_ms"})) {
    OpMeasurement m;
    m.key.kind = std::string(r.kind, strnlen(r.kind, kKindLen));
    m.key.batch = r.batch, m.key.seq = r.seq, m.key.hidden = r.hidden, m.key.heads = r.heads, m.key.ffn = r.ffn;
    m.key.cross_seq = r.cross_seq, m.key.out_hidden = r.out_hidden, m.key.out_seq = r.out_seq;
    m.key.in_features = r.in_features, m.key.mlp = r.mlp, m.key.causal = r.causal, m.key.tp = r.tp;
    m.samples = r.samples, m.fwd_ms = r.fwd_ms, m.bwd_ms = r.bwd_ms;
    m.fwd_spread_ms = r.fwd_spread_ms, m.bwd_spread_ms = r.bwd_spread_ms;
    if (!(m.fwd_ms > 0) || !(m.bwd_ms >= 0) || !std::isfinite(m.fwd_ms + m.bwd_ms))
      throw InputError(name + ": /ops row for " + m.key.str() + " has fwd_ms " + std::to_string(m.fwd_ms) +
                       ", bwd_ms " + std::to_string(m.bwd_ms) + "; allowed: finite fwd_ms > 0, bwd_ms >= 0");
    if (p.find(m.key) != nullptr)
      throw InputError(name + ": /ops holds " + m.key.str() + " twice; allowed: one record per shape");
    p.ops.push_back(m);
  }
  for (const CollectiveRow& r : read_rows<CollectiveRow>(check, file.get(), "collectives", ct.get(),
                                                        {"kind", "algorithm", "level", "group_size", "samples",
                                                         "bytes", "time_ms", "spread_ms"})) {
    CollectiveMeasurement m;
    m.kind = std::string(r.kind, strnlen(r.kind, kShortLen));
    m.algorithm = std::string(r.algorithm, strnlen(r.algorithm, kShortLen));
    m.level = std::string(r.level, strnlen(r.level, kShortLen));
    m.group_size = r.group_size, m.samples = r.samples, m.bytes = r.bytes, m.time_ms = r.time_ms;
    m.spread_ms = r.spread_ms;
    p.collectives.push_back(m);
  }
  return p;
}

}  // namespace spindle
