// POSIX file I/O rather than std::ofstream: streams cannot fsync, and without fsync a crash right
// after the rename can leave an empty file on some file systems.
#include "util/fs.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "util/error.h"
#include "util/fault.h"

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

namespace {

using fault::kill_self;
using fault::KillPoint;

// Temporaries of `path` are "<path>.<host>.<pid>.tmp": one per process (concurrent writers of one
// file must not rename each other's temporary away) and per host (run directories may live on a
// file system shared by several machines).
std::string temp_prefix(const std::string& path) {
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::string h = host;
  for (char& c : h)
    if (c == '/' || c == '.') c = '_';
  return path + "." + h + ".";
}

// A process killed while writing leaves its temporary behind. After each successful write of
// `path`, the temporaries of processes of this host that no longer exist are removed, so an
// interrupted-and-resumed run leaves no litter; live writers' temporaries are never touched.
void remove_stale_temporaries(const std::string& path) {
  namespace stdfs = std::filesystem;
  const stdfs::path p(path);
  const std::string prefix = stdfs::path(temp_prefix(path)).filename().string();
  std::error_code ec;
  stdfs::directory_iterator it(p.has_parent_path() ? p.parent_path() : stdfs::path("."), ec);
  for (; !ec && it != stdfs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() + 4 || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - 4, 4, ".tmp") != 0)
      continue;
    const std::string pid = name.substr(prefix.size(), name.size() - prefix.size() - 4);
    if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const pid_t owner = static_cast<pid_t>(std::stol(pid));
    if (owner == ::getpid()) continue;
    if (::kill(owner, 0) != 0 && errno == ESRCH) {
      std::error_code ignored;
      stdfs::remove(it->path(), ignored);
    }
  }
}

}  // namespace

std::string atomic_temp_path(const std::string& path) {
  return temp_prefix(path) + std::to_string(::getpid()) + ".tmp";
}

void write_file_atomic(const std::string& path, const std::string& content) {
  if (path.empty()) throw RunError("write_file_atomic: empty path");
  const std::optional<KillPoint> kill = fault::kill_point_for(path);
  // One temporary name per process: concurrent writers of one file (sweep cells writing their
  // group's report) must not rename each other's temporary away.
  const std::string tmp = atomic_temp_path(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw RunError(str("cannot write '", path, "': creating temporary file '", tmp,
                       "' failed: ", errno_text(errno)));
  }
  TempFile file(tmp, fd);
  size_t written = 0;
  const auto write_until = [&](size_t end) {
    while (written < end) {
      const ssize_t n = ::write(file.fd(), content.data() + written, end - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw RunError(str("cannot write '", path, "': writing '", tmp, "' failed after ", written,
                           " of ", content.size(), " bytes: ", errno_text(errno)));
      }
      written += static_cast<size_t>(n);
    }
  };
  if (kill && kill->kind == KillPoint::kBytes) {
    write_until(std::min(kill->bytes, content.size()));
    kill_self();
  }
  write_until(content.size());
  if (::fsync(file.fd()) != 0) {
    throw RunError(
        str("cannot write '", path, "': fsync of '", tmp, "' failed: ", errno_text(errno)));
  }
  if (file.close() != 0) {
    throw RunError(
        str("cannot write '", path, "': closing '", tmp, "' failed: ", errno_text(errno)));
  }
  if (kill && kill->kind == KillPoint::kRename) kill_self();
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw RunError(
        str("cannot write '", path, "': renaming '", tmp, "' to it failed: ", errno_text(errno)));
  }
  file.release();
  remove_stale_temporaries(path);
  if (kill && kill->kind == KillPoint::kDone) kill_self();
}

std::string read_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    throw DataError(str("cannot read '", path, "': ", errno_text(errno)));
  }
  if (S_ISDIR(st.st_mode)) {
    throw DataError(str("cannot read '", path, "': it is a directory, expected a file"));
  }
  // A FIFO or device would block or never end: only regular files are read.
  if (!S_ISREG(st.st_mode)) {
    throw DataError(str("cannot read '", path, "': not a regular file, expected a file"));
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

void MappedFile::release() {
  if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
  close_fd();
  data_ = nullptr;
  size_ = 0;
}

void MappedFile::close_fd() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(other.data_), size_(other.size_), fd_(other.fd_) {
  other.data_ = nullptr;
  other.size_ = 0;
  other.fd_ = -1;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    fd_ = other.fd_;
    other.data_ = nullptr;
    other.size_ = 0;
    other.fd_ = -1;
  }
  return *this;
}

MappedFile map_file(const std::string& path, const std::string& expected, bool keep_open) {
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer; fstat below then refuses it.
  // It changes nothing for regular files.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT)
      throw DataError(str("file '", path, "': does not exist; expected ", expected));
    throw DataError(str("file '", path, "': cannot open: ", errno_text(err)));
  }
  const auto fail = [&](const std::string& what) {
    ::close(fd);
    throw DataError(str("file '", path, "': ", what));
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail("cannot stat: " + errno_text(errno));
  if (S_ISDIR(st.st_mode)) fail("is a directory; expected " + expected);
  if (!S_ISREG(st.st_mode)) fail("is not a regular file; expected " + expected);
  if (st.st_size == 0) fail("is empty; expected " + expected);
  const auto size = static_cast<std::size_t>(st.st_size);
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (addr == MAP_FAILED) fail(str("cannot map ", size, " bytes: ", errno_text(errno)));
  MappedFile out;
  out.data_ = static_cast<const unsigned char*>(addr);
  out.size_ = size;
  if (keep_open)
    out.fd_ = fd;
  else
    ::close(fd);  // the mapping stays valid after close
  return out;
}

}  // namespace robustmsa
