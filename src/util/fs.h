// Small torch-free file helpers used by everything that writes results: reports, results.json,
// run configs.
//
// Usage:
//   robustmsa::write_file_atomic("runs/umdf/results.json", json_text);  // all or nothing
//   std::string text = robustmsa::read_file("runs/umdf/results.json");
#pragma once

#include <cstddef>
#include <string>

namespace robustmsa {

// Writes `content` to atomic_temp_path(path), flushes it to disk (fsync), closes it and renames it
// over `path`, so that a reader sees either the previous file or the complete new one, never a
// truncated one. Throws RunError naming the path and the system's reason on any failure; the
// temporary file is removed and a previous `path` is left untouched. After a successful write,
// the temporaries of `path` left by killed processes of this host are removed.
//
// Fault injection (for the interruption tests; docs/security.md): when the environment variable
// ROBUSTMSA_FAULT_KILL is "NAME:N:POINT", the N-th atomic write (1-based, counted per process)
// of a file whose name (last path component) is NAME kills the process with SIGKILL at POINT:
//   K       after the first K bytes of the temporary file were written (K >= size: all of them,
//           before fsync),
//   rename  after the temporary file is complete, fsynced and closed, before the rename,
//   done    right after the rename.
// e.g. ROBUSTMSA_FAULT_KILL=checkpoint.pt:2:100 kills inside the second checkpoint write. A
// malformed value is a UsageError naming the variable.
void write_file_atomic(const std::string& path, const std::string& content);
// "<path>.<host>.<pid>.tmp": the temporary this process uses for `path` (one per process and host,
// so concurrent writers of one file never rename each other's temporary).
std::string atomic_temp_path(const std::string& path);

// The whole file as bytes. Throws DataError naming the path when it does not exist, is a
// directory or cannot be read.
std::string read_file(const std::string& path);

// A read-only memory mapping of a whole file (pickles, safetensors weights): the bytes stay on
// disk and are paged in on use. Movable, not copyable; unmapped on destruction. With keep_open the
// file descriptor stays open until close_fd() or destruction (the pickle reader copies large
// payloads with pread, which was measured faster than copying out of a fresh mapping).
class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const unsigned char* data() const { return data_; }
  std::size_t size() const { return size_; }
  int fd() const { return fd_; }  // -1 unless mapped with keep_open (and not closed yet)
  void close_fd();

 private:
  friend MappedFile map_file(const std::string& path, const std::string& expected, bool keep_open);
  void release();
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
  int fd_ = -1;
};

// Maps `path` read-only. Throws DataError "file '<path>': <problem>; expected <expected>" when it
// does not exist, is a directory or not a regular file (a FIFO is refused without blocking), is
// empty or cannot be mapped, e.g. "file 'x.pkl': does not exist; expected a pickle file".
MappedFile map_file(const std::string& path, const std::string& expected = "a file",
                    bool keep_open = false);

}  // namespace robustmsa
