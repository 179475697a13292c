// The project's one door to HDF5: files of fixed-layout record tables (1-D compound datasets
// with little-endian members) and string attributes, written crash-safe (a temporary file
// beside the destination, renamed over it on commit) without timestamps, so the same data
// gives the same bytes; and read back with every call checked. Every .h5 the project writes
// or reads (calibration profiles, results.h5) goes through here; HDF5's headers stay in
// hdf5_file.cpp.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace spindle::h5 {

// A member of a record: a C struct field at `offset`.
enum class Kind { kI32, kI64, kF64, kString };
struct Field {
  std::string name;
  std::size_t offset = 0;
  Kind kind = Kind::kF64;
  std::size_t string_len = 0;  // kString: fixed length, NUL-terminated, including the NUL
};
// A record type: the struct's size and the fields stored (in file order).
struct Layout {
  std::size_t size = 0;
  std::vector<Field> fields;
};

// Writes `path` through a temporary file; nothing appears at `path` unless commit() succeeds.
// Failures throw IoError naming the file and the HDF5 call.
class Writer {
 public:
  explicit Writer(std::filesystem::path path);
  ~Writer();  // removes the temporary file unless committed
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // A fixed-length string attribute on the group `group` ("/" for the root).
  void string_attr(const std::string& group, const std::string& name, const std::string& value);
  // A scalar dataset holding one fixed-length string of any size (attributes stop at 64 KiB).
  void string_dataset(const std::string& path, const std::string& value);
  void group(const std::string& path);
  // A table of `count` records of `layout` at `data` (zero-filled padding gives equal bytes),
  // chunked with a Fletcher32 checksum per chunk.
  void table(const std::string& path, const Layout& layout, const void* data, std::size_t count);
  // Flushes, closes and renames the file into place.
  void commit();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a file written as above. A file that is missing, not HDF5, or lacks an attribute, a
// table or a field is an InputError naming the file, what is wrong and then `allowed`.
class Reader {
 public:
  Reader(std::filesystem::path path, std::string allowed);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // A root attribute that is one fixed-length string (at most 4096 bytes).
  std::string string_attr(const std::string& name) const;
  // The records of the 1-D table `name`, converted to `layout` (fields matched by name).
  template <typename Row>
  std::vector<Row> table(const std::string& name, const Layout& layout) const {
    std::vector<Row> rows(rows_in(name, layout));
    if (!rows.empty()) read(name, layout, rows.data());
    return rows;
  }

 private:
  std::size_t rows_in(const std::string& name, const Layout& layout) const;
  void read(const std::string& name, const Layout& layout, void* out) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spindle::h5
