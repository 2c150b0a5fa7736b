// The run layer through the tool ($ROBUSTMSA_BIN): growing --seeds over an existing compare output
// reuses the finished seeds and trains only the new ones; a name read from a saved run is a data
// error; --help-config shows every option's help; the tool and the public headers keep their
// layering (tools/robustmsa includes only include/robustmsa; core.h, observer.h and train.h
// compile without LibTorch, which this test program does not have on its include path).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../common/cli_run.h"
#include "../common/temp_dir.h"
#include "robustmsa/core.h"
#include "robustmsa/observer.h"
#include "robustmsa/train.h"

namespace robustmsa {
namespace {

namespace fs = std::filesystem;
using test_util::CliResult;
using test_util::run_cli;
using test_util::slurp;

class RunLayer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (test_util::cli_binary().empty()) return;
    dir_ = fs::temp_directory_path() / ("robustmsa_run_layer_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    data_ = file("tiny.pkl");
    CliResult r = run_cli("synth --like mosi --seed 5 --n 64 --set seq_len=[12,12,12] " + data_);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  static std::string file(const std::string& name) { return (dir_ / name).string(); }
  void SetUp() override {
    if (test_util::cli_binary().empty()) GTEST_SKIP() << "ROBUSTMSA_BIN not set";
  }
  static std::string compare(const std::string& out, const std::string& seeds) {
    return "compare --data " + data_ + " --models umdf --seeds " + seeds +
           " --threads 1 --set model.width=8 --set model.heads=2 --set model.mcim_blocks=1"
           " --set train.batch_size=32 --set train.epochs=2 --out " +
           out;
  }
  static fs::path dir_;
  static std::string data_;
};
fs::path RunLayer::dir_;
std::string RunLayer::data_;

// Epoch lines ("umdf seed 1112 epoch 2/2 ...") per seed in a command's stderr.
std::set<std::string> trained_seeds(const std::string& err) {
  std::set<std::string> seeds;
  const std::regex line(R"(umdf seed (\d+) epoch \d+/\d+ loss)");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), line); it != std::sregex_iterator();
       ++it)
    seeds.insert((*it)[1].str());
  return seeds;
}

TEST_F(RunLayer, GrowingSeedsOverAnExistingCompareTrainsOnlyTheNewSeeds) {
  const std::string out = file("grow");
  CliResult one = run_cli(compare(out, "1"));
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(trained_seeds(one.err), (std::set<std::string>{"1111"})) << one.err;
  const fs::path first = fs::path(out) / "umdf" / "seed_1111";
  std::map<std::string, std::string> before;
  std::map<std::string, fs::file_time_type> mtime;
  for (const char* f : {"results.json", "metrics.jsonl", "checkpoint.pt", "config.json"}) {
    before[f] = slurp((first / f).string());
    mtime[f] = fs::last_write_time(first / f);
  }

  CliResult three = run_cli(compare(out, "3"));
  ASSERT_EQ(three.code, 0) << three.err;
  // Seed 1111 is read, not trained; 1112 and 1113 are trained.
  EXPECT_NE(three.err.find("umdf seed 1111: already finished"), std::string::npos) << three.err;
  EXPECT_EQ(trained_seeds(three.err), (std::set<std::string>{"1112", "1113"})) << three.err;
  for (const auto& [f, bytes] : before) {
    EXPECT_EQ(slurp((first / f).string()), bytes) << f << " of the finished seed changed";
    EXPECT_EQ(fs::last_write_time(first / f), mtime[f]) << f << " of the finished seed rewritten";
  }
  for (const char* s : {"seed_1112", "seed_1113"})
    EXPECT_TRUE(fs::exists(fs::path(out) / "umdf" / s / "results.json")) << s;
  // The report covers the three seeds.
  const auto report = nlohmann::json::parse(slurp(out + "/report/report.json"));
  EXPECT_EQ(report["seeds"], nlohmann::json({1111, 1112, 1113}));

  // Another configuration over the same output is still refused, naming the key.
  CliResult other = run_cli(compare(out, "3") + " --set train.lr=0.01");
  EXPECT_EQ(other.code, 2) << other.err;
  EXPECT_NE(other.err.find("was made with a different 'config.train.lr'"), std::string::npos)
      << other.err;
}

// A run saved before a configuration key existed is the same run as one made now with that key
// at its default; a non-default value is still a difference, named with both values.
TEST(RunIdentity, AKeyAddedSinceTheRunWasSavedReadsAsItsDefault) {
  const nlohmann::json now = {{"seed", 1111}, {"config", ExperimentConfig().to_json()}};
  nlohmann::json saved = now;
  saved["config"]["data"].erase("labels");
  saved["config"]["train"].erase("seeds");
  EXPECT_NO_THROW(require_same_run(saved, now, "finished run 'r'"));
  nlohmann::json other = now;
  other["config"]["data"]["labels"] = "labels.csv";
  try {
    require_same_run(saved, other, "finished run 'r'");
    ADD_FAILURE() << "a non-default labels file was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'config.data.labels' (saved \"\", now \"labels.csv\")"),
              std::string::npos)
        << e.what();
  }
  // A key the parser no longer knows is compared as it is, and reported.
  saved["config"]["train"]["no_such_key"] = 1;
  EXPECT_THROW(require_same_run(saved, now, "finished run 'r'"), ConfigError);
}

TEST_F(RunLayer, AnUnknownModelInASavedRunIsADataError) {
  const std::string out = file("saved");
  ASSERT_EQ(run_cli(compare(out, "1")).code, 0);
  const std::string config = out + "/umdf/seed_1111/config.json";
  nlohmann::json j = nlohmann::json::parse(slurp(config));
  j["config"]["model"]["name"] = "no_such_model";
  test_util::write_bytes(config, j.dump(2));
  for (const std::string& cmd :
       {"eval --run " + out + "/umdf --suite gcnet --threads 1",
        "predict --run " + out + "/umdf/seed_1111 --input " + data_ + " --threads 1"}) {
    CliResult r = run_cli(cmd);
    EXPECT_EQ(r.code, 1) << cmd << "\n" << r.err;
    ASSERT_EQ(r.error_lines().size(), 1u) << r.err;
    EXPECT_NE(r.error_lines()[0].find("robustmsa: data error: run config '" + config + "'"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("unknown model 'no_such_model'"), std::string::npos) << r.err;
  }
  // The same for a model option this build does not know.
  j["config"]["model"]["name"] = "umdf";
  j["config"]["model"]["no_such_option"] = 1;
  test_util::write_bytes(config, j.dump(2));
  CliResult r = run_cli("eval --run " + out + "/umdf --suite gcnet --threads 1");
  EXPECT_EQ(r.code, 1) << r.err;
  ASSERT_EQ(r.error_lines().size(), 1u) << r.err;
  EXPECT_NE(r.error_lines()[0].find("robustmsa: data error: run config '" + config + "'"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("no_such_option"), std::string::npos) << r.err;
}

TEST_F(RunLayer, HelpConfigShowsEveryOptionWithItsHelp) {
  CliResult models = run_cli("models --help-config");
  ASSERT_EQ(models.code, 0) << models.err;
  CliResult list = run_cli("models --json");
  ASSERT_EQ(list.code, 0) << list.err;
  int options = 0;
  for (const auto& m : nlohmann::json::parse(list.out)) {
    for (auto it = m["options"].begin(); it != m["options"].end(); ++it, ++options) {
      // "  model.<key> (<type>, default <value>)" followed by an indented help line.
      const std::string head = "  model." + it.key() + " (";
      const auto at = models.out.find(head);
      ASSERT_NE(at, std::string::npos) << m["name"] << " " << it.key();
      const auto eol = models.out.find('\n', at);
      EXPECT_EQ(models.out.compare(eol + 1, 6, "      "), 0) << m["name"] << " " << it.key();
      EXPECT_GT(models.out.find('\n', eol + 1) - eol, 10u) << "a help text for " << it.key();
    }
  }
  EXPECT_GT(options, 100);
  CliResult train = run_cli("train --help-config --model mult");
  ASSERT_EQ(train.code, 0) << train.err;
  for (const char* key : {"  data.path (", "  train.lr (", "  train.seeds (",
                          "  missing.max_frame_rate (", "  eval.suite (", "  model.levels ("})
    EXPECT_NE(train.out.find(key), std::string::npos) << key << "\n" << train.out;
  EXPECT_EQ(train.out.find("  model.mcim_blocks ("), std::string::npos) << "UMDF's options";
  // compare and sweep show the keys of every model they name, and need no --out for it.
  CliResult compare = run_cli("compare --help-config --models umdf,mult:levels=2");
  ASSERT_EQ(compare.code, 0) << compare.err;
  for (const char* key : {"  train.lr (", "  model.mcim_blocks (", "  model.levels ("})
    EXPECT_NE(compare.out.find(key), std::string::npos) << key;
  CliResult sweep = run_cli("sweep --help-config --models tfn");
  ASSERT_EQ(sweep.code, 0) << sweep.err;
  EXPECT_NE(sweep.out.find("  eval.suite ("), std::string::npos) << sweep.out;
  // Without --help-config, --out is still required.
  for (const std::string& cmd : {"compare --data " + data_ + " --models umdf",
                                 "sweep --data " + data_ + " --models umdf --slurm"}) {
    CliResult r = run_cli(cmd);
    EXPECT_EQ(r.code, 2) << cmd << "\n" << r.err;
    EXPECT_NE(r.err.find("--out DIR is required"), std::string::npos) << cmd << "\n" << r.err;
  }
}

TEST_F(RunLayer, AnUnknownSuiteNamesTheConfigFileThatSetIt) {
  const std::string config = file("bad_suite.json");
  test_util::write_bytes(config, R"({"eval": {"suite": "bogus"}})");
  CliResult r = run_cli("train --data " + data_ + " --model umdf --config " + config + " --out " +
                        file("bad_suite_run"));
  EXPECT_EQ(r.code, 2) << r.err;
  ASSERT_EQ(r.error_lines().size(), 1u) << r.err;
  EXPECT_NE(r.error_lines()[0].find("config '" + config +
                                    "': config key 'eval.suite': expected paper, mmsa or gcnet, "
                                    "found bogus"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(file("bad_suite_run"))) << "nothing is written";
}

TEST(Layering, TheToolIncludesOnlyThePublicApi) {
  const char* root = std::getenv("ROBUSTMSA_SOURCE_DIR");
  if (root == nullptr) GTEST_SKIP() << "ROBUSTMSA_SOURCE_DIR not set";
  const fs::path tool = fs::path(root) / "tools" / "robustmsa";
  const std::regex include(R"re(^\s*#\s*include\s*"([^"]+)")re");
  int files = 0;
  for (const auto& e : fs::directory_iterator(tool)) {
    ++files;
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (!std::regex_search(line, m, include)) continue;
      const std::string h = m[1].str();
      const bool own = h.find('/') == std::string::npos && fs::exists(tool / h);
      EXPECT_TRUE(own || h.rfind("robustmsa/", 0) == 0)
          << e.path().filename() << " includes \"" << h << "\" (only include/robustmsa/ headers)";
    }
  }
  EXPECT_GT(files, 3);
}

TEST(Layering, PublicApiNamesTheDeviceSeam) {
  RunOptions options;
  EXPECT_EQ(options.device, "cpu");  // the only device of this build
  EXPECT_EQ(suite_named("paper").conditions.size(), 17u);
}

}  // namespace
}  // namespace robustmsa
