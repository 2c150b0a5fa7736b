// Child processes (POSIX fork + exec), the one place robustmsa starts programs: gnuplot for the
// report's plots, the cells of a local sweep, and the ranks of `train --nproc`. Everything the
// child needs (argv, environment, file names) is prepared before fork, so that only
// async-signal-safe calls run between fork and exec even when the parent has threads.
//
// Usage:
//   robustmsa::ProcessSpec p;
//   p.argv = {"/usr/bin/gnuplot", "frame_curve.gp"};
//   p.cwd = out_dir;
//   p.output = out_dir + "/gnuplot.log";     // stdout and stderr appended there
//   int code = robustmsa::wait_process(robustmsa::start_process(p));
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace robustmsa {

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is also the program run, unless `program` is set
  std::string program;            // the file to execute (e.g. "/proc/self/exe"); "" = argv[0]
  std::string cwd;                // "" = the parent's
  bool stdin_null = false;        // stdin from /dev/null (else inherited)
  std::string output;             // stdout and stderr appended to this file ("" = inherited)
  std::vector<std::pair<std::string, std::string>> env;  // variables set (or replaced) in the child
  bool die_with_parent = false;  // SIGKILL when the parent dies (Linux PR_SET_PDEATHSIG)
};

// Starts the child; RunError naming argv[0] when fork fails. A child that cannot open its files
// or change directory exits with 126, one that cannot exec the program with 127 (after writing
// "robustmsa: cannot execute '<program>'" to its stderr).
pid_t start_process(const ProcessSpec& spec);

// Exit status of a child from start_process: its exit code, 128 + signal when killed, -1 when
// waiting failed.
int wait_process(pid_t pid);

// Waits for any child; returns its pid and sets `*code` as wait_process does. -1 when there is no
// child left (or waiting failed).
pid_t wait_any_process(int* code);

// The program's path when it can be executed: `name` itself if it has a '/', else searched on
// PATH. "" when not found.
std::string find_program(const std::string& name);

// The path of this program (/proc/self/exe); RunError when it cannot be read.
std::string own_executable();

}  // namespace robustmsa
