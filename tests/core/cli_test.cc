// End-to-end tests of the command-line tool on small synthetic files: exit codes, messages,
// determinism, resume after SIGKILL, reports. They drive the real binary ($ROBUSTMSA_BIN).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../common/cli_run.h"
#include "data/dataset.h"
#include "metrics/metrics.h"

namespace fs = std::filesystem;

namespace {

using Result = robustmsa::test_util::ShellResult;  // stdout + stderr
using robustmsa::test_util::slurp;

std::string bin() { return robustmsa::test_util::cli_binary(); }
Result run(const std::string& args) { return robustmsa::test_util::run_shell(bin() + " " + args); }

// A small MOSI-like file shared by the tests of this file (made once).
class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("robustmsa_cli_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    data_ = (dir_ / "tiny.pkl").string();
    Result r = run("synth --like mosi --seed 3 --n 96 --set seq_len=[20,20,20] " + data_);
    ASSERT_EQ(r.code, 0) << r.output;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  void SetUp() override {
    if (bin().empty()) GTEST_SKIP() << "ROBUSTMSA_BIN not set";
  }
  // Tiny UMDF training arguments (fast on one thread).
  static std::string tiny(const std::string& out, const std::string& extra = "") {
    return "train --data " + data_ + " --model umdf --out " + out +
           " --seeds 1111 --threads 1 --set model.width=8 --set model.heads=2"
           " --set train.batch_size=32 --set train.epochs=3 " +
           extra;
  }
  static fs::path dir_;
  static std::string data_;
};
fs::path Cli::dir_;
std::string Cli::data_;

TEST_F(Cli, HelpAndUsageErrors) {
  EXPECT_EQ(run("--help").code, 0);
  // --version: the version, the LibTorch it was built with, the CPU attention kernel.
  Result r = run("--version");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("robustmsa ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("\nLibTorch "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\nCPU attention: "), std::string::npos) << r.output;
  r = run("no-such-command");
  EXPECT_EQ(r.code, 2) << r.output;
  r = run("train --data " + data_ + " --model nosuchmodel --out " + (dir_ / "x").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("unknown model 'nosuchmodel'"), std::string::npos) << r.output;
}

TEST_F(Cli, SynthKindSelectsTheFamily) {
  const std::string out = (dir_ / "inter.pkl").string();
  Result r = run("synth --like mosi --kind interaction --seed 3 --n 40 " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  auto gen = nlohmann::json::parse(slurp(out + ".generator.json"));
  EXPECT_EQ(gen["kind"], "interaction");
  EXPECT_EQ(gen["options"]["kind"], "interaction");
  r = run("synth --like mosi --kind cubic " + (dir_ / "bad_kind.pkl").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("synth.kind"), std::string::npos) << r.output;
}

TEST_F(Cli, InspectReportsLayoutShapesAndInfCounts) {
  // stdout holds the JSON; the sanitising note (counts of replaced values) goes to stderr.
  const robustmsa::test_util::CliResult r =
      robustmsa::test_util::run_cli("inspect --json " + data_);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_NE(r.err.find("sanitised"), std::string::npos) << r.err;
  EXPECT_EQ(j["layout"], "mult");
  EXPECT_EQ(j["task"], "regression");
  EXPECT_EQ(j["splits"]["train"]["n"], 96);
  EXPECT_EQ(j["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(j["keys"]["train"]["audio"]["shape"], nlohmann::json({96, 20, 74}));
  int64_t neginf = 0;
  for (const char* s : {"train", "valid", "test"})
    neginf += j["splits"][s]["modalities"]["audio"]["neginf"].get<int64_t>();
  EXPECT_GT(neginf, 0) << "the synthetic audio carries -inf like COVAREP; inspect must count it";
  Result text = run("inspect " + data_);
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.output.find("-inf"), std::string::npos);
}

TEST_F(Cli, BadInputsGiveCleanErrors) {
  Result r = run("inspect " + (dir_ / "does_not_exist.pkl").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("does_not_exist.pkl"), std::string::npos) << r.output;
  r = run("inspect " + dir_.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find(dir_.string()), std::string::npos) << r.output;
  fs::path empty = dir_ / "empty.pkl";
  std::ofstream(empty).close();
  r = run("inspect " + empty.string());
  EXPECT_EQ(r.code, 1) << r.output;
  // Unknown config key and wrong type: usage errors (2) naming the key.
  r = run(tiny((dir_ / "bad1").string(), "--set train.no_such_key=1"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("train.no_such_key"), std::string::npos) << r.output;
  r = run(tiny((dir_ / "bad2").string(), "--set train.epochs=many"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("train.epochs"), std::string::npos) << r.output;
  r = run(tiny((dir_ / "bad3").string(), "--set model.heads=3"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "bad3" / "seed_1111" / "results.json"));
  fs::path cfg = dir_ / "bad.json";
  std::ofstream(cfg) << "{\"train\": {\"lr\": \"fast\"}}";
  r = run(tiny((dir_ / "bad4").string(), "--config " + cfg.string()));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("train.lr"), std::string::npos) << r.output;
}

TEST_F(Cli, TrainIsDeterministicAndNeverOverwrites) {
  std::string a = (dir_ / "det_a").string(), b = (dir_ / "det_b").string();
  Result ra = run(tiny(a));
  ASSERT_EQ(ra.code, 0) << ra.output;
  Result rb = run(tiny(b));
  ASSERT_EQ(rb.code, 0) << rb.output;
  for (const char* f : {"results.json", "metrics.jsonl", "config.json", "checkpoint.pt"})
    EXPECT_TRUE(fs::exists(fs::path(a) / "seed_1111" / f)) << f;
  auto ja = nlohmann::json::parse(slurp(fs::path(a) / "seed_1111" / "results.json"));
  auto jb = nlohmann::json::parse(slurp(fs::path(b) / "seed_1111" / "results.json"));
  EXPECT_EQ(ja["conditions"], jb["conditions"]);
  EXPECT_EQ(ja["conditions"].size(), 17u);  // the paper suite
  std::string before = slurp(fs::path(a) / "seed_1111" / "results.json");
  Result again = run(tiny(a));
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.output.find("refusing to overwrite"), std::string::npos) << again.output;
  EXPECT_EQ(slurp(fs::path(a) / "seed_1111" / "results.json"), before);
  EXPECT_TRUE(fs::exists(fs::path(a) / "report" / "report.md"));
}

TEST_F(Cli, ResumeAfterSigkillGivesTheSameResults) {
  std::string ref = (dir_ / "kill_ref").string();
  ASSERT_EQ(run(tiny(ref, "--set train.epochs=4")).code, 0);
  std::string reference = slurp(fs::path(ref) / "seed_1111" / "results.json");
  // Kill points spread over the run: after 0.3 s, 0.6 s, ... each followed by --resume.
  for (int k = 1; k <= 4; ++k) {
    std::string out = (dir_ / ("kill_" + std::to_string(k))).string();
    pid_t pid = fork();
    if (pid == 0) {
      std::string cmd = bin() + " " + tiny(out, "--set train.epochs=4") + " >/dev/null 2>&1";
      execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300 * k));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    Result r = run(tiny(out, "--set train.epochs=4 --resume"));
    ASSERT_EQ(r.code, 0) << "kill point " << k << ": " << r.output;
    EXPECT_EQ(slurp(fs::path(out) / "seed_1111" / "results.json").size(), reference.size());
    auto a = nlohmann::json::parse(slurp(fs::path(out) / "seed_1111" / "results.json"));
    auto b = nlohmann::json::parse(reference);
    EXPECT_EQ(a["conditions"], b["conditions"]) << "kill point " << k;
    for (const auto& e : fs::directory_iterator(fs::path(out) / "seed_1111"))
      EXPECT_NE(e.path().extension(), ".tmp") << e.path();
  }
}

// A model trained in phases (teacher, then student): selection restarts in phase 1, and a run
// killed anywhere (also across the phase change) resumes to the same results.
TEST_F(Cli, TwoPhaseTeacherStudentSelectsPerPhaseAndResumes) {
  auto args = [](const std::string& out, const std::string& extra = "") {
    return "train --data " + data_ + " --model teacher_student --out " + out +
           " --seeds 1111 --threads 1 --set model.width=8 --set model.heads=2"
           " --set model.encoder_layers=1 --set model.teacher_share=0.5"
           " --set train.batch_size=32 --set train.epochs=4 --set train.patience=0 " +
           extra;
  };
  std::string ref = (dir_ / "ts_ref").string();
  Result r = run(args(ref));
  ASSERT_EQ(r.code, 0) << r.output;
  std::string reference = slurp(fs::path(ref) / "seed_1111" / "results.json");
  std::istringstream lines(slurp(fs::path(ref) / "seed_1111" / "metrics.jsonl"));
  std::vector<nlohmann::json> epochs;
  for (std::string line; std::getline(lines, line);) epochs.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(epochs.size(), 4u);
  for (int e = 0; e < 2; ++e) {
    EXPECT_TRUE(epochs[e].contains("train_teacher_task")) << epochs[e].dump();
    EXPECT_LE(epochs[e]["best_epoch"].get<int>(), 2);
  }
  for (int e = 2; e < 4; ++e) {
    EXPECT_TRUE(epochs[e].contains("train_logit_kd")) << epochs[e].dump();
    EXPECT_GE(epochs[e]["best_epoch"].get<int>(), 3) << "selection restarts for the student";
  }
  for (int k = 1; k <= 3; ++k) {
    std::string out = (dir_ / ("ts_kill_" + std::to_string(k))).string();
    pid_t pid = fork();
    if (pid == 0) {
      std::string cmd = bin() + " " + args(out) + " >/dev/null 2>&1";
      execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(400 * k));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    Result resumed = run(args(out, "--resume"));
    ASSERT_EQ(resumed.code, 0) << "kill point " << k << ": " << resumed.output;
    auto a = nlohmann::json::parse(slurp(fs::path(out) / "seed_1111" / "results.json"));
    auto b = nlohmann::json::parse(reference);
    EXPECT_EQ(a["conditions"], b["conditions"]) << "kill point " << k;
  }
}

// A run trained on z-scored audio and vision (data.zscore) predicts on its data file as it was
// evaluated: predict reads the file with the run's data options, so its predictions on the test
// split give results.json's complete-data MAE. JSON samples cannot be z-scored: refused.
TEST_F(Cli, PredictReadsTheFileWithTheRunsDataOptions) {
  const std::string out = (dir_ / "zscore").string();
  Result r = run(tiny(out, "--set data.zscore=true --set train.epochs=1"));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string run_dir = out + "/seed_1111";
  const auto p = robustmsa::test_util::run_cli("predict --run " + run_dir + " --input " + data_ +
                                               " --split test");
  ASSERT_EQ(p.code, 0) << p.err;
  const auto predictions = nlohmann::json::parse(p.out)["predictions"];
  const robustmsa::Dataset ds = robustmsa::load_dataset(data_, robustmsa::DataOptions{});
  const auto& labels = ds.split(robustmsa::SplitId::kTest).labels;
  ASSERT_EQ(predictions.size(), labels.size());
  std::vector<double> pred;
  for (const auto& p : predictions) pred.push_back(p["prediction"].get<double>());
  const double mae =
      robustmsa::regression_metrics(pred, std::vector<double>(labels.begin(), labels.end()))
          .at("MAE");
  const auto results = nlohmann::json::parse(slurp(fs::path(run_dir) / "results.json"));
  ASSERT_EQ(results["conditions"][0]["name"], "complete");
  EXPECT_NEAR(mae, results["conditions"][0]["metrics"]["MAE"].get<double>(), 1e-5);
  fs::path in = dir_ / "zscore_predict.json";
  {
    std::ofstream f(in);
    f << nlohmann::json{{"samples", {{{"text", {std::vector<double>(300, 0.1)}}}}}}.dump();
  }
  r = run("predict --run " + run_dir + " --input " + in.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("data.zscore = true"), std::string::npos) << r.output;
}

TEST_F(Cli, CorruptCheckpointIsDetected) {
  std::string out = (dir_ / "corrupt").string();
  ASSERT_EQ(run(tiny(out, "--set train.epochs=1")).code, 0);
  fs::path ckpt = fs::path(out) / "seed_1111" / "checkpoint.pt";
  std::string bytes = slurp(ckpt);
  bytes.resize(bytes.size() / 2);
  std::ofstream(ckpt, std::ios::binary | std::ios::trunc) << bytes;
  Result r = run("eval --run " + out + "/seed_1111 --suite gcnet");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("checkpoint.pt"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
}

TEST_F(Cli, EvalPredictAndCompare) {
  std::string out = (dir_ / "cmp").string();
  Result r = run("compare --data " + data_ +
                 " --models umdf,umdf:distill=false,fine=false,lf_dnn"
                 " --seeds 2 --threads 1 --set model.width=8 --set model.heads=2"
                 " --set train.batch_size=32 --set train.epochs=2 --out " +
                 out);
  // lf_dnn has no width/heads option: the override must be rejected by name.
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown key 'model."), std::string::npos) << r.output;
  r = run("compare --data " + data_ +
          " --models umdf,umdf:distill=false,fine=false"
          " --seeds 2 --threads 1 --set model.width=8 --set model.heads=2"
          " --set train.batch_size=32 --set train.epochs=2 --out " +
          out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("oracle"), std::string::npos) << r.output;
  std::string md = slurp(fs::path(out) / "report" / "report.md");
  EXPECT_NE(md.find("umdf:distill=false,fine=false"), std::string::npos);
  EXPECT_NE(md.find("oracle"), std::string::npos);
  EXPECT_TRUE(fs::exists(fs::path(out) / "umdf" / "seed_1112" / "results.json"));
  // Rerunning skips finished cells.
  auto umdf_again = [&](const std::string& seeds, int epochs) {
    return run("compare --data " + data_ + " --models umdf --seeds " + seeds +
               " --threads 1 --set model.width=8 --set model.heads=2 --set train.batch_size=32"
               " --set train.epochs=" +
               std::to_string(epochs) + " --out " + out);
  };
  r = umdf_again("2", 2);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("already finished"), std::string::npos) << r.output;
  // ... also when asked for by a one-seed list: the seed list is not part of a run.
  r = umdf_again("1112,", 2);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("umdf seed 1112: already finished"), std::string::npos) << r.output;
  // ... but a finished run of another configuration is an error, not a result to reuse.
  r = umdf_again("2", 3);
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("finished run '" + out +
                          "/umdf/seed_1111' was made with a different "
                          "'config.train.epochs' (saved 2, now 3)"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("already finished"), std::string::npos) << r.output;
  // Another suite on the same runs.
  r = run("eval --run " + out + "/umdf --suite mmsa");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(fs::path(out) / "umdf" / "seed_1111" / "results_mmsa.json"));
  EXPECT_NE(r.output.find("AUILC"), std::string::npos) << r.output;
  // Predict with audio missing for one sample and only text for the other.
  fs::path in = dir_ / "predict.json";
  {
    std::ofstream f(in);
    nlohmann::json frame_l = std::vector<double>(300, 0.1), frame_a = std::vector<double>(74, 0.2),
                   frame_v = std::vector<double>(35, -0.1);
    nlohmann::json s1 = {{"id", "a"}, {"text", {frame_l, frame_l}}, {"vision", {frame_v}}};
    nlohmann::json s2 = {{"id", "b"}, {"text", {frame_l}}, {"audio", nullptr}};
    f << nlohmann::json{{"samples", {s1, s2}}}.dump();
  }
  r = run("predict --run " + out + "/umdf/seed_1111 --input " + in.string());
  ASSERT_EQ(r.code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["predictions"].size(), 2u);
  EXPECT_EQ(j["predictions"][0]["present"], nlohmann::json({"text", "vision"}));
  EXPECT_EQ(j["predictions"][1]["present"], nlohmann::json({"text"}));
  EXPECT_TRUE(j["predictions"][1]["prediction"].is_number());
  r = run("report " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  // Two suites under `out` (paper, mmsa): one report each.
  md = slurp(fs::path(out) / "report_paper" / "report.md");
  EXPECT_NE(md.find("Paired differences against `umdf`"), std::string::npos) << md;
  // --reference puts another variant first: the pairs are then against it.
  r = run("report " + out + " --reference umdf:distill=false,fine=false --out " + out + "/ref");
  ASSERT_EQ(r.code, 0) << r.output;
  md = slurp(fs::path(out) / "ref_paper" / "report.md");
  EXPECT_NE(md.find("Paired differences against `umdf:distill=false,fine=false`"),
            std::string::npos)
      << md;
  r = run("report " + out + " --reference mult");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("report --reference 'mult': no run of that variant under '" + out +
                          "' (found: umdf, umdf:distill=false,fine=false)"),
            std::string::npos)
      << r.output;
}

}  // namespace
