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

// The fault-injection point of ROBUSTMSA_FAULT_KILL (see fs.h) that applies to this write of
// `path`, if any.
struct KillPoint {
  enum Kind { kBytes, kRename, kDone } kind = kBytes;
  std::size_t bytes = 0;
};

std::optional<KillPoint> kill_point_for(const std::string& path) {
  const char* env = std::getenv("ROBUSTMSA_FAULT_KILL");
  if (env == nullptr || *env == '\0') return std::nullopt;
  const std::string spec = env;
  const auto bad = [&]() {
    return UsageError(str("environment variable ROBUSTMSA_FAULT_KILL='", spec,
                          "': expected NAME:N:POINT with N >= 1 and POINT a byte count, "
                          "'rename' or 'done'"));
  };
  const auto c2 = spec.rfind(':');
  const auto c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : spec.rfind(':', c2 - 1);
  if (c1 == std::string::npos || c1 == 0) throw bad();
  const std::string name = spec.substr(0, c1), nth = spec.substr(c1 + 1, c2 - c1 - 1),
                    point = spec.substr(c2 + 1);
  const auto is_count = [](const std::string& t) {
    return !t.empty() && t.size() < 19 && t.find_first_not_of("0123456789") == std::string::npos;
  };
  if (!is_count(nth) || std::stoll(nth) < 1) throw bad();
  KillPoint kp;
  if (point == "rename") {
    kp.kind = KillPoint::kRename;
  } else if (point == "done") {
    kp.kind = KillPoint::kDone;
  } else if (is_count(point)) {
    kp.bytes = static_cast<std::size_t>(std::stoull(point));
  } else {
    throw bad();
  }
  const auto slash = path.find_last_of('/');
  if (path.substr(slash == std::string::npos ? 0 : slash + 1) != name) return std::nullopt;
  static std::mutex mutex;
  static std::map<std::string, long long> writes;  // per file name, in this process
  std::lock_guard<std::mutex> lock(mutex);
  if (++writes[name] != std::stoll(nth)) return std::nullopt;
  return kp;
}

[[noreturn]] void kill_self() {
  ::kill(::getpid(), SIGKILL);
  ::_exit(137);  // not reached
}

}  // namespace

namespace {

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
  const std::optional<KillPoint> fault = kill_point_for(path);
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
  if (fault && fault->kind == KillPoint::kBytes) {
    write_until(std::min(fault->bytes, content.size()));
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
  if (fault && fault->kind == KillPoint::kRename) kill_self();
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw RunError(
        str("cannot write '", path, "': renaming '", tmp, "' to it failed: ", errno_text(errno)));
  }
  file.release();
  remove_stale_temporaries(path);
  if (fault && fault->kind == KillPoint::kDone) kill_self();
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
