// Small torch-free file helpers used by everything that writes results: reports, results.json,
// run configs.
//
// Usage:
//   robustmsa::write_file_atomic("runs/umdf/results.json", json_text);  // all or nothing
//   std::string text = robustmsa::read_file("runs/umdf/results.json");
#pragma once

#include <string>

namespace robustmsa {

// Writes `content` to "<path>.tmp", flushes it to disk (fsync), closes it and renames it over
// `path`, so that a reader sees either the previous file or the complete new one, never a
// truncated one. Throws RunError naming the path and the system's reason on any failure; the
// temporary file is removed and a previous `path` is left untouched.
void write_file_atomic(const std::string& path, const std::string& content);

// The whole file as bytes. Throws DataError naming the path when it does not exist, is a
// directory or cannot be read.
std::string read_file(const std::string& path);

}  // namespace robustmsa
