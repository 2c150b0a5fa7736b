// Bad numbers in feature files (issue 5, DESIGN §2.3): NaN and ±inf are replaced by 0, float64
// values beyond float32 range are clamped, and both are counted and reported on stderr by
// inspect, train, eval and predict — never silently. A non-finite loss or gradient stops training
// with the epoch and step in the message and leaves no results behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../common/cli_run.h"
#include "../common/temp_dir.h"
#include "io/pickle_write.h"

namespace robustmsa {
namespace {

namespace fs = std::filesystem;
using test_util::CliResult;
using test_util::run_cli;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A MulT-layout file with float64 features (N = 16/8/8, T = 4, dims 6/4/3); `poke(split, key, x)`
// may change the values of any array before it is written.
template <class Poke>
void write_float64_file(const std::string& path, Poke poke, double scale = 1.0) {
  pickle::Writer w(path);
  w.begin_dict();
  const std::array<int64_t, 3> n = {16, 8, 8}, dims = {6, 4, 3};
  const char* splits[] = {"train", "valid", "test"};
  const char* keys[] = {"text", "audio", "vision"};
  for (int s = 0; s < 3; ++s) {
    w.key(splits[s]);
    w.begin_dict();
    for (int m = 0; m < 3; ++m) {
      std::vector<double> x(static_cast<std::size_t>(n[s] * 4 * dims[m]));
      for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = scale * std::sin(0.7 * static_cast<double>(i) + m + s);
      poke(std::string(splits[s]), std::string(keys[m]), x);
      w.key(keys[m]);
      w.array(pickle::DType::kFloat64, {n[s], 4, dims[m]}, x.data());
    }
    std::vector<float> y(static_cast<std::size_t>(n[s]));
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<float>(i % 7) - 3.0f;
    w.key("labels");
    w.array(pickle::DType::kFloat32, {n[s], 1, 1}, y.data());
    w.end_dict();
  }
  w.end_dict();
  w.finish();
}

// train audio: 3 NaN, 2 +inf, 4 -inf.
void poke_non_finite(const std::string& split, const std::string& key, std::vector<double>& x) {
  if (split == "train" && key == "audio") {
    for (int i = 0; i < 3; ++i) x[i] = kNaN;
    for (int i = 3; i < 5; ++i) x[i] = kInf;
    for (int i = 5; i < 9; ++i) x[i] = -kInf;
  }
}

// The same, and test vision: 5 values beyond float32 (1e300, -1e39). Clamped to ±3.4e38 they
// make any model's prediction non-finite, so this file is only inspected.
void poke_bad_numbers(const std::string& split, const std::string& key, std::vector<double>& x) {
  poke_non_finite(split, key, x);
  if (split == "test" && key == "vision") {
    for (int i = 0; i < 4; ++i) x[i] = 1e300;
    x[10] = -1e39;
  }
}

const char* kSummary =
    "sanitised 14 feature values (NaN/+inf/-inf -> 0, beyond float32 -> clamped): train audio "
    "NaN 3 +inf 2 -inf 4; test vision clamped 5";
const char* kNonFiniteSummary =
    "sanitised 9 feature values (NaN/+inf/-inf -> 0, beyond float32 -> clamped): train audio "
    "NaN 3 +inf 2 -inf 4";

std::string tiny_train(const std::string& data, const std::string& out,
                       const std::string& model = "umdf") {
  return "train --data " + data + " --model " + model + " --out " + out +
         " --seeds 1111 --threads 1 --set train.batch_size=8 --set train.epochs=1 "
         "--set train.select_on=complete" +
         (model == "umdf" ? " --set model.width=8 --set model.heads=2" : "");
}

class Numbers : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test_util::cli_binary().empty()) GTEST_SKIP() << "ROBUSTMSA_BIN not set";
  }
  test_util::TempDir dir_;
};

TEST_F(Numbers, NonFiniteAndOverflowingFeaturesAreCountedEverywhere) {
  const std::string data = dir_ / "bad_numbers.pkl";
  write_float64_file(data, poke_bad_numbers);

  CliResult r = run_cli("inspect --json " + data);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("file '" + data + "': " + kSummary), std::string::npos) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  const auto& audio = j["splits"]["train"]["modalities"]["audio"];
  EXPECT_EQ(audio["nan"], 3);
  EXPECT_EQ(audio["posinf"], 2);
  EXPECT_EQ(audio["neginf"], 4);
  EXPECT_EQ(j["splits"]["test"]["modalities"]["vision"]["clamped"], 5);

  const std::string trainable = dir_ / "non_finite.pkl";
  write_float64_file(trainable, poke_non_finite);
  const std::string run = dir_ / "run";
  r = run_cli(tiny_train(trainable, run));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find(kNonFiniteSummary), std::string::npos) << r.err;
  r = run_cli("eval --run " + run + "/seed_1111 --suite gcnet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find(kNonFiniteSummary), std::string::npos) << r.err;
  r = run_cli("predict --run " + run + "/seed_1111 --input " + trainable + " --split train");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find(kNonFiniteSummary), std::string::npos) << r.err;
  // JSON input: 1e300 and -1e39 lie beyond float32 and are clamped; 1e400 is beyond double range,
  // which JSON readers reject: a data error naming the file.
  const std::string in = dir_ / "in.json";
  test_util::write_bytes(in, R"({"samples": [{"text": [[1e300, -1e39, 0.5, 0.5, 0.5, 0.5]]}]})");
  r = run_cli("predict --run " + run + "/seed_1111 --input " + in);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("sanitised 2 feature values (0 non-finite -> 0, 2 beyond float32 -> "
                       "clamped)"),
            std::string::npos)
      << r.err;
  const std::string huge = dir_ / "huge.json";
  test_util::write_bytes(huge, R"({"samples": [{"text": [[1e400, 0.5, 0.5, 0.5, 0.5, 0.5]]}]})");
  r = run_cli("predict --run " + run + "/seed_1111 --input " + huge);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find(huge), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("expected JSON numbers within double range"), std::string::npos) << r.err;
}

TEST_F(Numbers, CleanFilesReportNothing) {
  const std::string data = dir_ / "clean.pkl";
  write_float64_file(data, [](const std::string&, const std::string&, std::vector<double>&) {});
  CliResult r = run_cli("inspect " + data);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("sanitised"), std::string::npos) << r.err;
}

TEST_F(Numbers, NonFiniteLossStopsTheRunWithEpochAndStep) {
  // Every feature at ±float32 max (clamped from ±1e300): the first forward pass overflows.
  const std::string data = dir_ / "huge.pkl";
  write_float64_file(
      data, [](const std::string&, const std::string&, std::vector<double>&) {}, 1e300);
  const std::string run = dir_ / "run";
  CliResult r = run_cli(tiny_train(data, run));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("beyond float32 -> clamped"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("non-finite loss"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("at epoch 1 step 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no checkpoint was written yet"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(run + "/seed_1111/checkpoint.pt"));
  EXPECT_FALSE(fs::exists(run + "/seed_1111/results.json"));
}

TEST_F(Numbers, NonFiniteGradientStopsTheRunAndKeepsTheLastGoodCheckpoint) {
  const std::string data = dir_ / "clean.pkl";
  write_float64_file(data, [](const std::string&, const std::string&, std::vector<double>&) {});
  const std::string three = " --set train.epochs=3 --set train.patience=0";
  // Uninterrupted reference run.
  const std::string ref = dir_ / "ref";
  CliResult r = run_cli(tiny_train(data, ref) + three);
  ASSERT_EQ(r.code, 0) << r.err;

  // A NaN gradient at epoch 2, step 1: the run stops before the optimiser step.
  const std::string run = dir_ / "run";
  r = run_cli(tiny_train(data, run) + three, "ROBUSTMSA_FAULT_NAN_GRAD=2:1 ");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("non-finite gradient norm at epoch 2 step 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the last good checkpoint"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("is intact"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(run + "/seed_1111/checkpoint.pt"));
  EXPECT_FALSE(fs::exists(run + "/seed_1111/results.json"));

  // The checkpoint of epoch 1 is intact: resuming from it ends exactly as the reference run.
  r = run_cli(tiny_train(data, run) + three + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto results = [](const std::string& dir) {
    auto j = nlohmann::json::parse(test_util::slurp(dir + "/seed_1111/results.json"));
    return j.contains("conditions") ? j["conditions"] : j;
  };
  EXPECT_EQ(results(run), results(ref));

  // A malformed value is a usage error naming the variable.
  r = run_cli(tiny_train(data, dir_ / "bad") + three, "ROBUSTMSA_FAULT_NAN_GRAD=0:x ");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("ROBUSTMSA_FAULT_NAN_GRAD='0:x'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace robustmsa
