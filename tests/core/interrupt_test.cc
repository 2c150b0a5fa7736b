// Interrupted training (issue 5): SIGKILL at 26 points spread over the epochs of a tiny run,
// inside checkpoint writes included (at byte offsets drawn from a seeded generator, after the
// temporary file is complete but before the rename, and right after the rename), inside the
// config, metrics, results and report writes; after each kill the run is resumed with --resume,
// and the finished run must hold exactly the results.json and metrics of an uninterrupted run,
// with no temporary file left. The kills come from the fault-injection hook of
// write_file_atomic (ROBUSTMSA_FAULT_KILL, src/util/fs.h), so every point is reached exactly.
// The run's TensorBoard curves (run/tensorboard_log.h), read back by TensorBoard's own reader,
// must then be the uninterrupted run's: one point per epoch, what metrics.jsonl and results.json
// hold.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../common/cli_run.h"
#include "../common/text_model.h"

namespace robustmsa {
namespace {

namespace fs = std::filesystem;
using test_util::CliResult;
using test_util::run_cli;
using test_util::slurp;

constexpr int kEpochs = 4;

class Interrupt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (test_util::cli_binary().empty()) return;
    dir_ = (fs::temp_directory_path() / ("robustmsa_interrupt_" + std::to_string(getpid())))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    data_ = dir_ + "/tiny.pkl";
    CliResult r = run_cli(
        "synth --like mosi --seed 9 --n 40 --set n_valid=8 --set n_test=8 --set seq_len=[6,6,6]"
        " --set dims=[12,6,4] --set informative_dims=[3,3,3] --set informative_frames=[2,2,2]"
        " --set min_length=3 " +
        data_);
    if (r.code != 0) setup_error_ = "synth failed: " + r.err;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  void SetUp() override {
    if (test_util::cli_binary().empty()) GTEST_SKIP() << "ROBUSTMSA_BIN not set";
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }
  // A tiny UMDF run: 4 epochs of 3 steps on one thread.
  static std::string train(const std::string& out, bool resume) {
    return "train --data " + data_ + " --model umdf --out " + out +
           " --seeds 1111 --threads 1 --set model.width=8 --set model.heads=2"
           " --set train.batch_size=16 --set train.epochs=" +
           std::to_string(kEpochs) + (resume ? " --resume" : "");
  }
  // metrics.jsonl without the timing fields, which differ between runs.
  static std::vector<nlohmann::json> metrics(const std::string& run) {
    std::vector<nlohmann::json> lines;
    std::istringstream in(slurp(run + "/metrics.jsonl"));
    for (std::string line; std::getline(in, line);) {
      nlohmann::json j = nlohmann::json::parse(line);
      j.erase("train_seconds");
      j.erase("samples_per_s");
      lines.push_back(j);
    }
    return lines;
  }
  // The run's TensorBoard scalars as TensorBoard's EventAccumulator serves them
  // (tests/python/tensorboard_reference.py), without the timing curve; null when no python3 has
  // `tensorboard`.
  static nlohmann::json curves(const std::string& run) {
    const std::string py = test_util::python_with("tensorboard");
    if (py.empty()) return nullptr;
    const std::string out = run + "/../tensorboard_read.json";
    const std::string cmd = "'" + py + "' '" + std::string(std::getenv("ROBUSTMSA_SOURCE_DIR")) +
                            "/tests/python/tensorboard_reference.py' '" + run +
                            "/tensorboard' '" + out + "'";
    const int status = std::system(cmd.c_str());
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 3) return nullptr;
    EXPECT_EQ(WEXITSTATUS(status), 0) << cmd;
    nlohmann::json s = nlohmann::json::parse(slurp(out)).at("scalars");
    s.erase("speed/samples_per_s");
    return s;
  }
  static std::string dir_, data_, setup_error_;
};
std::string Interrupt::dir_, Interrupt::data_, Interrupt::setup_error_;

TEST_F(Interrupt, MalformedFaultSpecIsAUsageError) {
  CliResult r = run_cli(train(dir_ + "/malformed", false), "ROBUSTMSA_FAULT_KILL=checkpoint.pt ");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("ROBUSTMSA_FAULT_KILL='checkpoint.pt'"), std::string::npos) << r.err;
}

TEST_F(Interrupt, TensorBoardCurvesAreTheMetricsLogAndTheResults) {
  const std::string out = dir_ + "/tensorboard";
  CliResult r = run_cli(train(out, false));
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string run = out + "/seed_1111";
  const nlohmann::json c = curves(run);
  if (c.is_null()) GTEST_SKIP() << "no python3 with tensorboard (pip install tensorboard)";
  const auto log = metrics(run);
  ASSERT_EQ(log.size(), static_cast<std::size_t>(kEpochs));
  auto expect_curve = [&](const std::string& tag, auto value_of) {
    ASSERT_TRUE(c.contains(tag)) << tag << " missing from " << c.dump();
    ASSERT_EQ(c[tag].size(), log.size()) << tag << ": " << c[tag].dump();
    for (std::size_t i = 0; i < log.size(); ++i) {
      EXPECT_EQ(c[tag][i][0].get<int64_t>(), static_cast<int64_t>(i) + 1) << tag;
      EXPECT_FLOAT_EQ(c[tag][i][1].get<float>(), static_cast<float>(value_of(log[i]))) << tag;
    }
  };
  for (const std::string part : {"loss", "task"})
    expect_curve("train/" + part, [&](const nlohmann::json& j) { return j.at("train_" + part); });
  expect_curve("valid/selection_score", [](const nlohmann::json& j) { return j.at("val_score"); });
  expect_curve("valid/Non0_F1_score",
               [](const nlohmann::json& j) { return j.at("val_complete").at("Non0_F1_score"); });
  expect_curve("lr", [](const nlohmann::json& j) { return j.at("lr"); });
  // The test metrics of every condition of the suite, once, at the last epoch.
  const nlohmann::json results = nlohmann::json::parse(slurp(run + "/results.json"));
  std::size_t test_tags = 0;
  for (const auto& cond : results.at("conditions"))
    for (const auto& [metric, value] : cond.at("metrics").items()) {
      const std::string tag = "test/" + cond.at("name").get<std::string>() + "/" + metric;
      ASSERT_TRUE(c.contains(tag)) << tag;
      ASSERT_EQ(c[tag].size(), 1u) << tag;
      EXPECT_EQ(c[tag][0][0].get<int64_t>(), kEpochs) << tag;
      EXPECT_FLOAT_EQ(c[tag][0][1].get<float>(), value.get<float>()) << tag;
      ++test_tags;
    }
  EXPECT_GT(test_tags, 20u);
  // --no-tensorboard: no event files at all.
  CliResult none = run_cli(train(dir_ + "/no_tensorboard", false) + " --no-tensorboard");
  ASSERT_EQ(none.code, 0) << none.err;
  EXPECT_FALSE(fs::exists(dir_ + "/no_tensorboard/seed_1111/tensorboard"));
}

TEST_F(Interrupt, ResumeAfterSigkillAtTwentySixPointsMatchesAnUninterruptedRun) {
  const std::string ref = dir_ + "/reference";
  CliResult r = run_cli(train(ref, false));
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string reference = slurp(ref + "/seed_1111/results.json");
  const auto reference_metrics = metrics(ref + "/seed_1111");
  ASSERT_EQ(reference_metrics.size(), static_cast<std::size_t>(kEpochs));
  const std::size_t ckpt_size = fs::file_size(ref + "/seed_1111/checkpoint.pt");
  const nlohmann::json reference_curves = curves(ref + "/seed_1111");

  // Each chain is one run directory killed again and again. A process resumed from epoch e's
  // checkpoint writes epoch e+1's as its first checkpoint, so "checkpoint.pt:2:..." kills one
  // epoch later each time; the first process of a chain dies in its first write (epoch 1).
  std::mt19937_64 rng(20261126);
  auto offset = [&] { return std::to_string(rng() % ckpt_size); };
  struct Chain {
    std::string name;
    std::vector<std::string> kills;  // ROBUSTMSA_FAULT_KILL of each process before the last
  };
  std::vector<Chain> chains;
  chains.push_back({"header_bytes", {"checkpoint.pt:1:0", "checkpoint.pt:2:10",
                                     "checkpoint.pt:2:81", "checkpoint.pt:2:82"}});
  chains.push_back({"random_bytes", {"checkpoint.pt:1:" + offset(), "checkpoint.pt:2:" + offset(),
                                     "checkpoint.pt:2:" + offset(), "checkpoint.pt:2:" + offset()}});
  chains.push_back({"all_bytes_before_fsync",
                    {"checkpoint.pt:1:" + std::to_string(ckpt_size),
                     "checkpoint.pt:2:" + std::to_string(ckpt_size - 1),
                     "checkpoint.pt:2:" + std::to_string(ckpt_size),
                     "checkpoint.pt:2:" + std::to_string(ckpt_size + 1000)}});
  chains.push_back({"before_rename", {"checkpoint.pt:1:rename", "checkpoint.pt:2:rename",
                                      "checkpoint.pt:2:rename", "checkpoint.pt:2:rename"}});
  chains.push_back({"after_rename", {"checkpoint.pt:1:done", "checkpoint.pt:1:done",
                                     "checkpoint.pt:1:done", "checkpoint.pt:1:done"}});
  chains.push_back({"other_files",
                    {"config.json:1:3", "metrics.jsonl:2:rename", "metrics.jsonl:2:5",
                     "results.json:1:20", "results.json:1:done", "report.md:1:rename"}});

  int kill_points = 0;
  for (const Chain& chain : chains) {
    SCOPED_TRACE("chain " + chain.name);
    const std::string out = dir_ + "/" + chain.name;
    for (std::size_t k = 0; k < chain.kills.size(); ++k) {
      CliResult killed =
          run_cli(train(out, k > 0), "ROBUSTMSA_FAULT_KILL=" + chain.kills[k] + " ");
      ASSERT_EQ(killed.code, 128 + 9)
          << "process " << k << " (" << chain.kills[k] << ") was not killed: " << killed.err;
      ++kill_points;
    }
    CliResult done = run_cli(train(out, true));
    ASSERT_EQ(done.code, 0) << done.err;
    EXPECT_EQ(slurp(out + "/seed_1111/results.json"), reference);
    EXPECT_EQ(metrics(out + "/seed_1111"), reference_metrics);
    EXPECT_TRUE(fs::exists(out + "/report/report.md"));
    if (!reference_curves.is_null()) {
      EXPECT_EQ(curves(out + "/seed_1111"), reference_curves);
    }
    for (const auto& f : test_util::list_files(out))
      EXPECT_NE(fs::path(f).extension(), ".tmp") << "temporary file left: " << f;
  }
  EXPECT_GE(kill_points, 20);
}

TEST_F(Interrupt, TruncatedOrCorruptCheckpointIsNotResumed) {
  const std::string out = dir_ + "/corrupt";
  CliResult r = run_cli(train(out, false), "ROBUSTMSA_FAULT_KILL=checkpoint.pt:2:rename ");
  ASSERT_EQ(r.code, 128 + 9) << r.err;
  const std::string ckpt = out + "/seed_1111/checkpoint.pt";
  const std::string good = slurp(ckpt);
  ASSERT_FALSE(good.empty());
  // Truncated: what a copy tool interrupted half way leaves.
  test_util::write_bytes(ckpt, good.substr(0, good.size() / 2));
  r = run_cli(train(out, true));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("checkpoint '" + ckpt + "': truncated"), std::string::npos) << r.err;
  // One flipped bit in the payload.
  std::string flipped = good;
  flipped[flipped.size() - 7] = static_cast<char>(flipped[flipped.size() - 7] ^ 1);
  test_util::write_bytes(ckpt, flipped);
  r = run_cli(train(out, true));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("does not match the header's"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out + "/seed_1111/results.json"));
  // The intact file resumes.
  test_util::write_bytes(ckpt, good);
  r = run_cli(train(out, true));
  EXPECT_EQ(r.code, 0) << r.err;
}

}  // namespace
}  // namespace robustmsa
