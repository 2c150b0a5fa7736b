// Running the robustmsa binary ($ROBUSTMSA_BIN) from tests under a wall-clock limit, with stdout
// and stderr captured apart, plus small file helpers. Used by the bad-input catalogue and the
// interruption tests.
//
// Usage:
//   robustmsa::test_util::CliResult r = robustmsa::test_util::run_cli("inspect x.pkl");
//   EXPECT_EQ(r.code, 1);
//   EXPECT_EQ(r.error_lines().size(), 1u);
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace robustmsa::test_util {

inline std::string cli_binary() {
  const char* b = std::getenv("ROBUSTMSA_BIN");
  return b != nullptr ? b : "";
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A shell command's exit status (128 + signal when killed) and its stdout and stderr together.
struct ShellResult {
  int code = -1;
  std::string output;
};

inline ShellResult run_shell(const std::string& cmd) {
  ShellResult r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Wraps `s` in single quotes for /bin/sh.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct CliResult {
  int code = -1;      // exit status; 128 + signal when killed (137: SIGKILL)
  bool hung = false;  // the wall-clock limit was reached (timeout's exit status 124)
  std::string out, err;
  // The lines of stderr that start with "robustmsa:" (main()'s error reports).
  std::vector<std::string> error_lines() const {
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("robustmsa:", 0) == 0) lines.push_back(line);
    return lines;
  }
};

// Runs `$ROBUSTMSA_BIN args` through /bin/sh with `env` prepended (e.g. "VAR=1 "), killing it
// after `limit_s` seconds. `args` is shell text: quote paths that may hold spaces.
inline CliResult run_cli(const std::string& args, const std::string& env = "", int limit_s = 180) {
  char tmpl[] = "/tmp/robustmsa_cli_run_XXXXXX";
  CliResult r;
  if (::mkdtemp(tmpl) == nullptr) return r;
  const std::string dir = tmpl;
  const std::string cmd = env + "timeout -k 5 " + std::to_string(limit_s) + " " +
                          shell_quote(cli_binary()) + " " + args + " >" + dir + "/out 2>" + dir +
                          "/err </dev/null";
  const int status = std::system(cmd.c_str());
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.hung = r.code == 124;
  r.out = slurp(dir + "/out");
  r.err = slurp(dir + "/err");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

// Every regular file under `root` (relative paths, sorted), for "no output was left" checks.
inline std::vector<std::string> list_files(const std::string& root) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!std::filesystem::exists(root, ec)) return files;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_directory(ec))
      files.push_back(std::filesystem::relative(it->path(), root, ec).string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace robustmsa::test_util
