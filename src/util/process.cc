#include "util/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "util/error.h"

extern char** environ;

namespace robustmsa {

namespace {

int exit_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status)
                           : (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1);
}

// write(2) of a whole buffer, for the child after fork (no stdio there).
void write_all(int fd, const std::string& text) {
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

pid_t start_process(const ProcessSpec& spec) {
  if (spec.argv.empty()) throw RunError("start_process: no program given (empty argv)");
  // Everything the child uses is built here, before fork.
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string key = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [k, v] : spec.env) replaced = replaced || k == key;
    if (!replaced) env_storage.push_back(entry);
  }
  for (const auto& [k, v] : spec.env) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string program = spec.program.empty() ? spec.argv[0] : spec.program;
  const std::string exec_failed = "robustmsa: cannot execute '" + program + "'\n";
  const pid_t parent = ::getpid();

  std::fflush(nullptr);  // no buffered output is written twice
  const pid_t pid = ::fork();
  if (pid < 0)
    throw RunError(str("cannot start '", spec.argv[0], "': fork(): ", std::strerror(errno)));
  if (pid > 0) return pid;
  // The child: async-signal-safe calls only.
  if (spec.die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // the parent died before prctl
  }
  if (spec.stdin_null) {
    const int in = ::open("/dev/null", O_RDONLY);
    if (in < 0 || ::dup2(in, STDIN_FILENO) < 0) ::_exit(126);
    ::close(in);
  }
  if (!spec.output.empty()) {
    const int out = ::open(spec.output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0 || ::dup2(out, STDOUT_FILENO) < 0 || ::dup2(out, STDERR_FILENO) < 0) ::_exit(126);
    ::close(out);
  }
  if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) ::_exit(126);
  ::execve(program.c_str(), argv.data(), envp.data());
  write_all(STDERR_FILENO, exec_failed);
  ::_exit(127);
}

int wait_process(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return exit_status(status);
}

pid_t wait_any_process(int* code) {
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, 0)) < 0) {
    if (errno != EINTR) return -1;
  }
  if (code != nullptr) *code = exit_status(status);
  return pid;
}

std::string find_program(const std::string& name) {
  auto executable = [](const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return executable(name) ? name : "";
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (executable(candidate)) return candidate;
  }
  return "";
}

std::string own_executable() {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw RunError(str("cannot find this program's path (/proc/self/exe): ", ec.message()));
  return p.string();
}

}  // namespace robustmsa
