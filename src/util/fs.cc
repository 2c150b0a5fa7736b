// POSIX file I/O rather than std::ofstream: streams cannot fsync, and without fsync a crash right
// after the rename can leave an empty file on some file systems.
#include "util/fs.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "util/error.h"

namespace robustmsa {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Closes the descriptor and removes the temporary file unless released; keeps the error paths of
// write_file_atomic short.
class TempFile {
 public:
  TempFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!released_) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  // Closes explicitly so that the caller sees close() errors (some file systems report write
  // failures only there).
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }
  void release() { released_ = true; }

 private:
  std::string path_;
  int fd_;
  bool released_ = false;
};

}  // namespace

void write_file_atomic(const std::string& path, const std::string& content) {
  if (path.empty()) throw RunError("write_file_atomic: empty path");
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw RunError(str("cannot write '", path, "': creating temporary file '", tmp,
                       "' failed: ", errno_text(errno)));
  }
  TempFile file(tmp, fd);
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(file.fd(), content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw RunError(str("cannot write '", path, "': writing '", tmp, "' failed after ", written,
                         " of ", content.size(), " bytes: ", errno_text(errno)));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(file.fd()) != 0) {
    throw RunError(
        str("cannot write '", path, "': fsync of '", tmp, "' failed: ", errno_text(errno)));
  }
  if (file.close() != 0) {
    throw RunError(
        str("cannot write '", path, "': closing '", tmp, "' failed: ", errno_text(errno)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw RunError(
        str("cannot write '", path, "': renaming '", tmp, "' to it failed: ", errno_text(errno)));
  }
  file.release();
}

std::string read_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    throw DataError(str("cannot read '", path, "': ", errno_text(errno)));
  }
  if (S_ISDIR(st.st_mode)) {
    throw DataError(str("cannot read '", path, "': it is a directory, expected a file"));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DataError(str("cannot read '", path, "': ", errno_text(errno)));
  std::string out;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw DataError(
          str("cannot read '", path, "' after ", out.size(), " bytes: ", errno_text(err)));
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

MappedFile map_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DataError(str("cannot read '", path, "': ", errno_text(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw DataError(str("cannot read '", path, "': ", errno_text(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw DataError(str("cannot read '", path, "': not a regular file"));
  }
  if (st.st_size == 0) {
    ::close(fd);
    throw DataError(str("cannot read '", path, "': the file is empty"));
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping stays valid after close
  if (addr == MAP_FAILED)
    throw DataError(str("cannot map '", path, "' (", size, " bytes): ", errno_text(err)));
  MappedFile out;
  out.data_ = static_cast<const unsigned char*>(addr);
  out.size_ = size;
  return out;
}

}  // namespace robustmsa
