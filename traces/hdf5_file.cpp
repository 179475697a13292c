// HDF5 record tables and attributes (see hdf5_file.h). HDF5's C API is used here only; every
// call goes through SPINDLE_H5, which names the call, this file and line, and throws.
#include "traces/hdf5_file.h"

#include <hdf5.h>

#include <algorithm>
#include <system_error>

#include "traces/atomic_file.h"
#include "traces/errors.h"

namespace spindle::h5 {
namespace {

namespace fs = std::filesystem;

// One HDF5 object id, closed when it goes out of scope.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), close_(closer) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    std::swap(id_, o.id_);
    std::swap(close_, o.close_);
    return *this;
  }
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  herr_t close() {  // closes now and reports the result (a file's final flush happens here)
    const herr_t r = id_ >= 0 ? close_(id_) : 0;
    id_ = -1;
    return r;
  }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// Turns a failed call into an exception naming it: InputError (with `allowed`) when reading a
// user's file, IoError when writing.
struct Checker {
  std::string file;
  bool input = false;
  std::string allowed;
  template <typename T>
  T operator()(T result, const char* expr, int line) const {
    if (result < 0) {
      // A user's file that HDF5 cannot read is their problem to fix: say what HDF5 says, not
      // our call and line. A failed write is ours (or the disk's): name the call.
      if (input) throw InputError(file + ": HDF5 cannot read it: " + innermost_error() + allowed);
      throw IoError(file + ": HDF5 call failed: " + expr + " (" + __FILE__ + ":" + std::to_string(line) + ")");
    }
    return result;
  }
  // The deepest entry of HDF5's error stack ("filter not available", "wrong B-tree signature").
  static std::string innermost_error() {
    std::string desc;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_DOWNWARD,
        [](unsigned, const H5E_error2_t* e, void* out) -> herr_t {
          if (e->desc != nullptr && *e->desc != '\0') *static_cast<std::string*>(out) = e->desc;
          return 0;
        },
        &desc);
    return desc.empty() ? "the file is corrupt or truncated" : desc + " (corrupt or truncated?)";
  }
};
#define SPINDLE_H5(checker, expr) (checker)((expr), #expr, __LINE__)

// HDF5 prints its own error stack by default; we report errors ourselves.
void silence() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Handle string_type(const Checker& check, std::size_t len) {
  Handle t(SPINDLE_H5(check, H5Tcopy(H5T_C_S1)), H5Tclose);
  SPINDLE_H5(check, H5Tset_size(t.get(), len));
  SPINDLE_H5(check, H5Tset_strpad(t.get(), H5T_STR_NULLTERM));
  return t;
}

// The compound type of `layout`, members little-endian so files are the same on every host.
Handle compound(const Checker& check, const Layout& layout, std::vector<Handle>& strings) {
  Handle t(SPINDLE_H5(check, H5Tcreate(H5T_COMPOUND, layout.size)), H5Tclose);
  for (const Field& f : layout.fields) {
    hid_t member = H5T_IEEE_F64LE;
    if (f.kind == Kind::kI32) member = H5T_STD_I32LE;
    if (f.kind == Kind::kI64) member = H5T_STD_I64LE;
    if (f.kind == Kind::kString) {
      strings.push_back(string_type(check, f.string_len));
      member = strings.back().get();
    }
    SPINDLE_H5(check, H5Tinsert(t.get(), f.name.c_str(), f.offset, member));
  }
  return t;
}

}  // namespace

struct Writer::Impl {
  fs::path path, tmp;
  Checker check;
  Handle dcpl, gcpl, file;
  bool committed = false;
};

Writer::Writer(fs::path path) : impl_(std::make_unique<Impl>()) {
  silence();
  Impl& w = *impl_;
  w.path = std::move(path);
  const fs::path parent = w.path.parent_path().empty() ? fs::path(".") : w.path.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw IoError(w.path.string() + ": cannot create its folder: " + ec.message());
  w.tmp = temporary_for(w.path);
  w.check = Checker{w.tmp.string(), false, ""};
  const Checker& check = w.check;
  Handle fcpl(SPINDLE_H5(check, H5Pcreate(H5P_FILE_CREATE)), H5Pclose);
  SPINDLE_H5(check, H5Pset_obj_track_times(fcpl.get(), 0));  // the root group's timestamps too
  Handle fapl(SPINDLE_H5(check, H5Pcreate(H5P_FILE_ACCESS)), H5Pclose);
  SPINDLE_H5(check, H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18));
  w.dcpl = Handle(SPINDLE_H5(check, H5Pcreate(H5P_DATASET_CREATE)), H5Pclose);
  SPINDLE_H5(check, H5Pset_obj_track_times(w.dcpl.get(), 0));
  w.gcpl = Handle(SPINDLE_H5(check, H5Pcreate(H5P_GROUP_CREATE)), H5Pclose);
  SPINDLE_H5(check, H5Pset_obj_track_times(w.gcpl.get(), 0));
  w.file = Handle(SPINDLE_H5(check, H5Fcreate(w.tmp.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get())), H5Fclose);
}

Writer::~Writer() {
  if (!impl_->committed) {
    impl_->file.close();
    std::error_code ignored;
    fs::remove(impl_->tmp, ignored);
  }
}

void Writer::string_attr(const std::string& group, const std::string& name, const std::string& value) {
  const Checker& check = impl_->check;
  Handle obj(SPINDLE_H5(check, H5Gopen2(impl_->file.get(), group.c_str(), H5P_DEFAULT)), H5Gclose);
  Handle type = string_type(check, value.size() + 1);
  Handle space(SPINDLE_H5(check, H5Screate(H5S_SCALAR)), H5Sclose);
  Handle attr(SPINDLE_H5(check, H5Acreate2(obj.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT)),
              H5Aclose);
  SPINDLE_H5(check, H5Awrite(attr.get(), type.get(), value.c_str()));
}

void Writer::string_dataset(const std::string& path, const std::string& value) {
  const Checker& check = impl_->check;
  Handle type = string_type(check, value.size() + 1);
  Handle space(SPINDLE_H5(check, H5Screate(H5S_SCALAR)), H5Sclose);
  Handle ds(SPINDLE_H5(check, H5Dcreate2(impl_->file.get(), path.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                         impl_->dcpl.get(), H5P_DEFAULT)),
            H5Dclose);
  SPINDLE_H5(check, H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, value.c_str()));
}

void Writer::group(const std::string& path) {
  const Checker& check = impl_->check;
  Handle g(SPINDLE_H5(check, H5Gcreate2(impl_->file.get(), path.c_str(), H5P_DEFAULT, impl_->gcpl.get(), H5P_DEFAULT)),
           H5Gclose);
}

void Writer::table(const std::string& path, const Layout& layout, const void* data, std::size_t count) {
  const Checker& check = impl_->check;
  std::vector<Handle> strings;
  Handle type = compound(check, layout, strings);
  const hsize_t dims[1] = {count};
  Handle space(SPINDLE_H5(check, H5Screate_simple(1, dims, nullptr)), H5Sclose);
  // Records carry HDF5's Fletcher32 checksum (per chunk of up to 4096), so a flipped byte is
  // an error on reading instead of a changed value.
  Handle dcpl(SPINDLE_H5(check, H5Pcopy(impl_->dcpl.get())), H5Pclose);
  if (count > 0) {
    const hsize_t chunk[1] = {std::min<hsize_t>(count, 4096)};
    SPINDLE_H5(check, H5Pset_chunk(dcpl.get(), 1, chunk));
    SPINDLE_H5(check, H5Pset_fletcher32(dcpl.get()));
  }
  Handle ds(SPINDLE_H5(check, H5Dcreate2(impl_->file.get(), path.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                         dcpl.get(), H5P_DEFAULT)),
            H5Dclose);
  if (count > 0) SPINDLE_H5(check, H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
}

void Writer::commit() {
  Impl& w = *impl_;
  const Checker& check = w.check;
  SPINDLE_H5(check, H5Fflush(w.file.get(), H5F_SCOPE_GLOBAL));
  SPINDLE_H5(check, w.file.close());
  std::error_code ec;
  fs::rename(w.tmp, w.path, ec);
  if (ec) throw IoError(w.path.string() + ": cannot rename the temporary file into place: " + ec.message());
  w.committed = true;
}

struct Reader::Impl {
  Checker check;
  Handle file, root;
};

Reader::Reader(fs::path path, std::string allowed) : impl_(std::make_unique<Impl>()) {
  silence();
  const std::string name = path.string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw InputError(name + ": no such file" + allowed);
  if (H5Fis_hdf5(name.c_str()) <= 0) throw InputError(name + ": not an HDF5 file (truncated or corrupt?)" + allowed);
  const hid_t fid = H5Fopen(name.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (fid < 0) throw InputError(name + ": cannot open as HDF5 (truncated or corrupt?)" + allowed);
  impl_->file = Handle(fid, H5Fclose);
  impl_->check = Checker{name, true, std::move(allowed)};
  impl_->root = Handle(SPINDLE_H5(impl_->check, H5Gopen2(fid, "/", H5P_DEFAULT)), H5Gclose);
}

Reader::~Reader() = default;

std::string Reader::string_attr(const std::string& name) const {
  const Checker& check = impl_->check;
  const hid_t obj = impl_->root.get();
  if (SPINDLE_H5(check, H5Aexists(obj, name.c_str())) == 0)
    throw InputError(check.file + ": missing attribute '" + name + "'" + check.allowed);
  Handle attr(SPINDLE_H5(check, H5Aopen(obj, name.c_str(), H5P_DEFAULT)), H5Aclose);
  Handle ftype(SPINDLE_H5(check, H5Aget_type(attr.get())), H5Tclose);
  Handle aspace(SPINDLE_H5(check, H5Aget_space(attr.get())), H5Sclose);
  if (H5Tget_class(ftype.get()) != H5T_STRING || H5Tis_variable_str(ftype.get()) != 0 ||
      H5Sget_simple_extent_npoints(aspace.get()) != 1)
    throw InputError(check.file + ": attribute '" + name + "' is not one fixed-length string" + check.allowed);
  const std::size_t len = H5Tget_size(ftype.get());
  if (len > 4096)
    throw InputError(check.file + ": attribute '" + name + "' is " + std::to_string(len) +
                     " bytes long; allowed: at most 4096");
  Handle mtype = string_type(check, len + 1);
  std::string buf(len + 1, '\0');
  SPINDLE_H5(check, H5Aread(attr.get(), mtype.get(), buf.data()));
  return std::string(buf.c_str());
}

std::size_t Reader::rows_in(const std::string& name, const Layout& layout) const {
  const Checker& check = impl_->check;
  const hid_t file = impl_->file.get();
  if (SPINDLE_H5(check, H5Lexists(file, name.c_str(), H5P_DEFAULT)) == 0)
    throw InputError(check.file + ": missing dataset /" + name + check.allowed);
  Handle ds(SPINDLE_H5(check, H5Dopen2(file, name.c_str(), H5P_DEFAULT)), H5Dclose);
  Handle ftype(SPINDLE_H5(check, H5Dget_type(ds.get())), H5Tclose);
  if (H5Tget_class(ftype.get()) != H5T_COMPOUND)
    throw InputError(check.file + ": dataset /" + name + " is not a table of records" + check.allowed);
  for (const Field& f : layout.fields)
    if (H5Tget_member_index(ftype.get(), f.name.c_str()) < 0)
      throw InputError(check.file + ": dataset /" + name + " has no field '" + f.name + "'" + check.allowed);
  Handle space(SPINDLE_H5(check, H5Dget_space(ds.get())), H5Sclose);
  if (H5Sget_simple_extent_ndims(space.get()) != 1)
    throw InputError(check.file + ": dataset /" + name + " is not one-dimensional" + check.allowed);
  hsize_t dims[1] = {0};
  SPINDLE_H5(check, H5Sget_simple_extent_dims(space.get(), dims, nullptr));
  // Never more memory than the file can describe: raw records fit in the file; compressed
  // ones (a filter other than the checksum) in deflate's best ratio of it (about 1032:1).
  hsize_t file_size = 0;
  SPINDLE_H5(check, H5Fget_filesize(file, &file_size));
  Handle dcpl(SPINDLE_H5(check, H5Dget_create_plist(ds.get())), H5Pclose);
  bool filtered = false;  // compressed: a filter other than the checksum
  for (int i = 0, n = SPINDLE_H5(check, H5Pget_nfilters(dcpl.get())); i < n; ++i) {
    unsigned flags = 0, config = 0;
    std::size_t nvalues = 0;
    filtered = filtered || H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nvalues, nullptr, 0, nullptr,
                                          &config) != H5Z_FILTER_FLETCHER32;
  }
  const std::size_t row_bytes = std::max<std::size_t>(1, H5Tget_size(ftype.get()));
  if (dims[0] > (filtered ? file_size * 1100 : file_size) / row_bytes)
    throw InputError(check.file + ": dataset /" + name + " claims " + std::to_string(dims[0]) +
                     " records, more than the file holds" + check.allowed);
  return static_cast<std::size_t>(dims[0]);
}

void Reader::read(const std::string& name, const Layout& layout, void* out) const {
  const Checker& check = impl_->check;
  std::vector<Handle> strings;
  Handle mtype = compound(check, layout, strings);
  Handle ds(SPINDLE_H5(check, H5Dopen2(impl_->file.get(), name.c_str(), H5P_DEFAULT)), H5Dclose);
  SPINDLE_H5(check, H5Dread(ds.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out));
}

}  // namespace spindle::h5
