// Crash-safe output: every file a program writes goes to a temporary file beside its
// destination first and is renamed over it only when complete, so a reader (or a killed run)
// never sees half a file.
#pragma once

#include <filesystem>
#include <string_view>

namespace spindle {

// The temporary file this process writes `path` through: "<path>.tmp.<host>.<pid>". Before
// returning it, removes the temporaries of `path` left by writers on this host whose process
// is gone (a killed run); other hosts' and live writers' files are left alone.
std::filesystem::path temporary_for(const std::filesystem::path& path);

// Writes `content` to `path` atomically (temporary file + fsync + rename). Creates missing
// parent directories. Throws IoError naming the path on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

// Reads a whole file; throws IoError naming the path when it cannot.
std::string read_file(const std::filesystem::path& path);

}  // namespace spindle
