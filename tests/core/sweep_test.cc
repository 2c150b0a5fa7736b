// robustmsa sweep end to end on a tiny synthetic file: 2 models x 2 seeds with 2 workers,
// interrupted, rerun (finished cells are not redone), the report's missing-cell list, and the
// Slurm script (bash -n; run as a real array when slurm's sbatch is usable here).
#include "run/sweep.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "../common/cli_run.h"
#include "../common/temp_dir.h"

namespace fs = std::filesystem;
using robustmsa::test_util::TempDir;

namespace {

using Result = robustmsa::test_util::ShellResult;
using robustmsa::test_util::slurp;

std::string bin() { return robustmsa::test_util::cli_binary(); }
Result run(const std::string& cmd) { return robustmsa::test_util::run_shell(cmd); }

// 2 models x 2 seeds, tiny widths, a few epochs.
std::string sweep_args(const std::string& data, const std::string& out) {
  return " sweep --data " + data + " --models umdf,mult --seeds 2 --out " + out +
         " --set model.width=8 --set model.heads=2 --set train.batch_size=32"
         " --set train.epochs=2 --set train.select_on=complete --suites paper";
}

class Sweep : public ::testing::Test {
 protected:
  void SetUp() override {
    if (bin().empty()) GTEST_SKIP() << "ROBUSTMSA_BIN not set";
    data_ = tmp_ / "tiny.pkl";
    Result r = run(bin() + " synth --like mosi --seed 5 --n 64 --set seq_len=[12,12,12] " + data_);
    ASSERT_EQ(r.code, 0) << r.output;
  }
  TempDir tmp_;
  std::string data_;
};

TEST_F(Sweep, InterruptedSweepResumesWithoutRedoingFinishedCells) {
  const std::string out = tmp_ / "sweep";
  const std::string cmd = bin() + sweep_args(data_, out) + " --workers 2";
  // Start the sweep, and kill it as soon as the first cell has its results.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >" + tmp_ / "first.log" + " 2>&1").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  auto finished = [&] {
    std::vector<fs::path> done;
    if (!fs::exists(out)) return done;
    for (const auto& e : fs::recursive_directory_iterator(out))
      if (e.path().filename() == "results.json") done.push_back(e.path());
    return done;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  int status = 0;
  bool exited = false;
  while (finished().empty() && std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(exited) << "the sweep ended before any cell finished:\n"
                       << slurp(tmp_ / "first.log");
  // pid is the sweep itself (sh exec'd it); its workers die with it.
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<fs::path> before = finished();
  ASSERT_GE(before.size(), 1u);
  ASSERT_LT(before.size(), 4u) << "every cell finished before the interruption";
  std::map<std::string, std::string> kept;
  std::map<std::string, fs::file_time_type> mtimes;
  for (const auto& p : before) {
    kept[p.string()] = slurp(p);
    mtimes[p.string()] = fs::last_write_time(p);
  }

  // The report of the interrupted sweep lists the missing cells.
  Result rep = run(bin() + " report " + out);
  EXPECT_EQ(rep.code, 0) << rep.output;
  EXPECT_NE(rep.output.find(std::to_string(4 - before.size()) + " of 4 cell(s) missing"),
            std::string::npos)
      << rep.output;

  // Rerun: the finished cells are skipped, the rest completes.
  Result r = run(cmd);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(std::to_string(before.size()) + " finished before (skipped)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("all 4 cell(s) finished"), std::string::npos) << r.output;
  EXPECT_EQ(finished().size(), 4u);
  for (const auto& [path, text] : kept) {
    EXPECT_EQ(slurp(path), text) << path << " was rewritten";
    EXPECT_EQ(fs::last_write_time(path), mtimes[path]) << path << " was rewritten";
  }
  for (const char* v : {"umdf", "mult"})
    for (const char* s : {"seed_1111", "seed_1112"})
      EXPECT_TRUE(fs::exists(fs::path(out) / "tiny" / "paper" / v / s / "results.json"))
          << v << "/" << s;
  EXPECT_TRUE(fs::exists(fs::path(out) / "tiny" / "paper" / "report" / "report.md"));
  // A third run has nothing to do.
  Result again = run(cmd);
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("4 finished before (skipped), 0 to run"), std::string::npos)
      << again.output;
}

TEST_F(Sweep, SlurmScriptIsValidBashWithOneArrayTaskPerCell) {
  const std::string out = tmp_ / "slurm";
  Result r = run(bin() + sweep_args(data_, out) + " --slurm --cpus-per-task 2 --sbatch " +
                 "--time=00:10:00");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path script = fs::path(out) / "sweep.sbatch";
  ASSERT_TRUE(fs::exists(script)) << r.output;
  Result check = run("bash -n " + script.string());
  EXPECT_EQ(check.code, 0) << check.output;
  const std::string text = slurp(script);
  EXPECT_NE(text.find("#SBATCH --array=0-3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("#SBATCH --cpus-per-task=2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("#SBATCH --time=00:10:00\n"), std::string::npos) << text;
  robustmsa::SweepPlan plan = robustmsa::read_sweep_plan(out);
  ASSERT_EQ(plan.cells.size(), 4u);
  EXPECT_EQ(plan.cells[3].variant, "mult");
  EXPECT_EQ(plan.cells[3].seed, 1112);

  // Without Slurm: the script run as array task 1 runs exactly cell 1.
  Result task = run("SLURM_ARRAY_TASK_ID=1 bash " + script.string());
  ASSERT_EQ(task.code, 0) << task.output;
  EXPECT_TRUE(fs::exists(fs::path(plan.cells[1].run_dir) / "results.json"));
  EXPECT_FALSE(fs::exists(fs::path(plan.cells[0].run_dir) / "results.json"));
  task = run("SLURM_ARRAY_TASK_ID=1 bash " + script.string());
  EXPECT_NE(task.output.find("finished already"), std::string::npos) << task.output;
  // Regenerated, the array covers the unfinished cells only.
  r = run(bin() + sweep_args(data_, out) + " --slurm");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(slurp(script).find("#SBATCH --array=0,2-3\n"), std::string::npos) << slurp(script);
}

// The generated script submitted to a real (private, one-node) Slurm cluster, when Debian's
// slurm-wlm is installed here; skipped otherwise.
TEST_F(Sweep, SlurmArrayRunsEveryCell) {
  const char* src = std::getenv("ROBUSTMSA_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  const std::string cluster = tmp_ / "cluster";
  const std::string ctl = std::string(src) + "/scripts/slurm_local.sh";
  Result up = run(ctl + " start " + cluster);
  if (up.code == 3) GTEST_SKIP() << "no Slurm here: " << up.output;
  ASSERT_EQ(up.code, 0) << up.output;
  struct Stop {
    std::string cmd;
    ~Stop() { run(cmd); }
  } stop{ctl + " stop " + cluster};
  const std::string out = tmp_ / "slurm";
  Result r = run(bin() + sweep_args(data_, out) + " --slurm --max-parallel 2");
  ASSERT_EQ(r.code, 0) << r.output;
  Result job = run("SLURM_CONF=" + cluster + "/slurm.conf sbatch --wait " + out + "/sweep.sbatch");
  ASSERT_EQ(job.code, 0) << job.output << slurp(fs::path(out) / "logs" / "cell_0.log");
  Result rep = run(bin() + " report " + out);
  ASSERT_EQ(rep.code, 0) << rep.output;
  EXPECT_NE(rep.output.find("all 4 cell(s) finished"), std::string::npos) << rep.output;
}

TEST(SweepPlan, CompressIdsAndShellQuote) {
  EXPECT_EQ(robustmsa::compress_ids({0, 1, 2, 4, 6, 7}), "0-2,4,6-7");
  EXPECT_EQ(robustmsa::compress_ids({}), "");
  EXPECT_EQ(robustmsa::shell_quote("it's"), "'it'\\''s'");
}

}  // namespace
