// Data-parallel training over c10d/Gloo, driving the real binary ($ROBUSTMSA_BIN): one process
// vs two (loopback, and two network namespaces joined by a veth pair) reach the same parameters;
// a killed rank makes its peer exit with a clear error instead of hanging.
#include "train/distributed.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "../common/cli_run.h"
#include "../common/temp_dir.h"
#include "train/checkpoint.h"

namespace fs = std::filesystem;
using robustmsa::test_util::TempDir;

namespace {

using Result = robustmsa::test_util::ShellResult;
using robustmsa::test_util::slurp;

std::string bin() { return robustmsa::test_util::cli_binary(); }
Result run(const std::string& cmd) { return robustmsa::test_util::run_shell(cmd); }

// A free TCP port on 127.0.0.1 for a rendezvous (what `--nproc` also does).
int64_t port_for_test() { return 20000 + (getpid() * 7 + 13) % 20000; }

// Starts `cmd` (a shell command line) with its output in `log`; returns its pid.
pid_t spawn(const std::string& cmd, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >" + log + " 2>&1").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Waits up to `seconds` for `pid`; returns its exit code, or -1 (and kills it) on timeout.
int wait_bounded(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

class Distributed : public ::testing::Test {
 protected:
  void SetUp() override {
    if (bin().empty()) GTEST_SKIP() << "ROBUSTMSA_BIN not set";
    data_ = tmp_ / "tiny.pkl";
    Result r = run(bin() + " synth --like mosi --seed 7 --n 64 --set seq_len=[12,12,12] " + data_);
    ASSERT_EQ(r.code, 0) << r.output;
  }
  // A few steps of tiny UMDF (dropout on) with a global batch of 16 cut into 2 shards.
  std::string train_args(const std::string& out, int64_t epochs = 1) const {
    return " train --data " + data_ + " --model umdf --out " + out +
           " --seeds 1111 --threads 1 --set model.width=8 --set model.heads=2"
           " --set train.batch_size=16 --set train.shards=2 --set train.select_on=complete"
           " --set train.epochs=" +
           std::to_string(epochs);
  }
  static robustmsa::NamedTensors weights(const std::string& run) {
    return robustmsa::read_checkpoint((fs::path(run) / "seed_1111" / "checkpoint.pt").string())
        .model;
  }
  // Max |a - b| over all parameters (same names in the same order).
  static double max_difference(const robustmsa::NamedTensors& a, const robustmsa::NamedTensors& b) {
    EXPECT_EQ(a.size(), b.size());
    double worst = 0;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
      EXPECT_EQ(a[i].first, b[i].first);
      worst = std::max(worst, (a[i].second - b[i].second).abs().max().item<double>());
    }
    return worst;
  }
  TempDir tmp_;
  std::string data_;
};

TEST(Sharding, ShardRangesCoverTheBatch) {
  for (int64_t n : {1, 7, 16, 17})
    for (int64_t s = 1; s <= std::min<int64_t>(n, 5); ++s) {
      int64_t at = 0;
      for (int64_t k = 0; k < s; ++k) {
        auto [b, e] = robustmsa::shard_range(n, s, k);
        EXPECT_EQ(b, at);
        EXPECT_GE(e - b, n / s);
        EXPECT_LE(e - b, n / s + 1);
        at = e;
      }
      EXPECT_EQ(at, n);
    }
}

TEST_F(Distributed, OneAndTwoProcessesOverLoopbackReachTheSameParameters) {
  const std::string one = tmp_ / "one", two = tmp_ / "two", plain = tmp_ / "plain";
  Result r1 = run(bin() + train_args(one));
  ASSERT_EQ(r1.code, 0) << r1.output;
  Result r2 = run("MASTER_PORT=" + std::to_string(port_for_test()) + " " + bin() + train_args(two) +
                  " --nproc 2");
  ASSERT_EQ(r2.code, 0) << r2.output;
  EXPECT_LT(max_difference(weights(one), weights(two)), 1e-5);
  // Only rank 0 wrote, and the log says two ranks took part.
  const std::string metrics = slurp(fs::path(two) / "seed_1111" / "metrics.jsonl");
  EXPECT_NE(metrics.find("\"ranks\":2"), std::string::npos) << metrics;
  EXPECT_TRUE(fs::exists(fs::path(two) / "seed_1111" / "results.json"));
  // The test can fail: other shards (another dropout stream per step) give other weights.
  Result r3 = run(bin() + train_args(plain) + " --set train.shards=1");
  ASSERT_EQ(r3.code, 0) << r3.output;
  EXPECT_GT(max_difference(weights(one), weights(plain)), 1e-5);
}

TEST_F(Distributed, ResumeWithAnotherNumberOfRanks) {
  // Two epochs on one rank vs the first on two ranks (interrupted) and the rest on one.
  const std::string whole = tmp_ / "whole", split = tmp_ / "split";
  Result r = run(bin() + train_args(whole, 2));
  ASSERT_EQ(r.code, 0) << r.output;
  pid_t pid = spawn("env MASTER_PORT=" + std::to_string(port_for_test() + 2) + " " + bin() +
                        train_args(split, 2) + " --nproc 2",
                    tmp_ / "split.log");
  const fs::path ckpt = fs::path(split) / "seed_1111" / "checkpoint.pt";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (!fs::exists(ckpt) && std::chrono::steady_clock::now() < deadline &&
         waitpid(pid, nullptr, WNOHANG) == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  kill(pid, SIGKILL);  // the launcher; its ranks die with it
  waitpid(pid, nullptr, 0);
  ASSERT_TRUE(fs::exists(ckpt)) << slurp(tmp_ / "split.log");
  if (fs::exists(fs::path(split) / "seed_1111" / "results.json"))
    GTEST_SKIP() << "both epochs finished before the interruption";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  r = run(bin() + train_args(split, 2) + " --resume");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(max_difference(weights(whole), weights(split)), 1e-5);
}

TEST_F(Distributed, TwoRanksInSeparateNetworkNamespaces) {
  const std::string tag = std::to_string(getpid() % 100000);
  const std::string ns_a = "rmsa_a" + tag, ns_b = "rmsa_b" + tag;
  const std::string veth_a = "rva" + tag, veth_b = "rvb" + tag;
  Result add = run("ip netns add " + ns_a);
  if (add.code != 0) GTEST_SKIP() << "ip netns not permitted here: " << add.output;
  struct Cleanup {
    std::string a, b;
    ~Cleanup() {
      run("ip netns del " + a);
      run("ip netns del " + b);
    }
  } cleanup{ns_a, ns_b};
  const std::string octet = std::to_string(getpid() % 200 + 20);
  const std::string addr_a = "10.231." + octet + ".1", addr_b = "10.231." + octet + ".2";
  for (const std::string& c :
       {"ip netns add " + ns_b, "ip link add " + veth_a + " type veth peer name " + veth_b,
        "ip link set " + veth_a + " netns " + ns_a, "ip link set " + veth_b + " netns " + ns_b,
        "ip -n " + ns_a + " addr add " + addr_a + "/24 dev " + veth_a,
        "ip -n " + ns_b + " addr add " + addr_b + "/24 dev " + veth_b,
        "ip -n " + ns_a + " link set " + veth_a + " up",
        "ip -n " + ns_b + " link set " + veth_b + " up", "ip -n " + ns_a + " link set lo up",
        "ip -n " + ns_b + " link set lo up"}) {
    Result r = run(c);
    if (r.code != 0) GTEST_SKIP() << "cannot build the veth link (" << c << "): " << r.output;
  }
  const std::string one = tmp_ / "one", two = tmp_ / "two";
  Result r1 = run(bin() + train_args(one));
  ASSERT_EQ(r1.code, 0) << r1.output;
  // Rank 0 (and the TCPStore) in namespace a; rank 1 reaches it only over the veth link.
  const std::string env = " env WORLD_SIZE=2 MASTER_ADDR=" + addr_a + " MASTER_PORT=29533" +
                          " ROBUSTMSA_DIST_TIMEOUT=60 ";
  pid_t p0 = spawn("ip netns exec " + ns_a + env + "RANK=0 " + bin() + train_args(two),
                   tmp_ / "rank0.log");
  pid_t p1 = spawn("ip netns exec " + ns_b + env + "RANK=1 " + bin() + train_args(two),
                   tmp_ / "rank1.log");
  int c0 = wait_bounded(p0, 300), c1 = wait_bounded(p1, 300);
  ASSERT_EQ(c0, 0) << slurp(tmp_ / "rank0.log");
  ASSERT_EQ(c1, 0) << slurp(tmp_ / "rank1.log");
  EXPECT_LT(max_difference(weights(one), weights(two)), 1e-5);
}

TEST_F(Distributed, AKilledRankMakesItsPeerExitWithAClearError) {
  for (int victim : {1, 0}) {
    SCOPED_TRACE("killed rank " + std::to_string(victim));
    const std::string out = tmp_ / ("kill" + std::to_string(victim));
    const std::string env = "env WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" +
                            std::to_string(port_for_test() + 10 + victim) +
                            " ROBUSTMSA_DIST_TIMEOUT=20 ";
    const std::string log0 = tmp_ / ("k0_" + std::to_string(victim) + ".log");
    const std::string log1 = tmp_ / ("k1_" + std::to_string(victim) + ".log");
    pid_t p0 = spawn(env + "RANK=0 " + bin() + train_args(out, 500), log0);
    pid_t p1 = spawn(env + "RANK=1 " + bin() + train_args(out, 500), log1);
    // Kill once training is under way (rank 0 has written its first checkpoint).
    const fs::path ckpt = fs::path(out) / "seed_1111" / "checkpoint.pt";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    while (!fs::exists(ckpt) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(fs::exists(ckpt)) << slurp(log0);
    kill(victim == 0 ? p0 : p1, SIGKILL);
    waitpid(victim == 0 ? p0 : p1, nullptr, 0);
    // The survivor must stop on its own: the bound is the 20 s timeout plus start-up slack.
    pid_t survivor = victim == 0 ? p1 : p0;
    int code = wait_bounded(survivor, 90);
    const std::string log = slurp(victim == 0 ? log1 : log0);
    ASSERT_NE(code, -1) << "the surviving rank hung:\n" << log;
    EXPECT_EQ(code, 1) << log;
    EXPECT_NE(log.find("rank " + std::to_string(1 - victim) + " of 2"), std::string::npos) << log;
    EXPECT_NE(log.find("a peer rank exited or did not answer"), std::string::npos) << log;
  }
}

}  // namespace
